"""Media storage: one small interface over the local filesystem (the default, for `make demo`)
and any S3-compatible server (MEDIA_STORAGE_URL=s3://KEY:SECRET@host:port/bucket)."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.conf import settings

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
}


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")


def _safe(key: str) -> str:
    parts = [p for p in key.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"bad media key {key!r}")
    return "/".join(parts)


class LocalStorage:
    kind = "file"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / _safe(key)

    def put_file(self, key: str, source: Path) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(source, tmp)
        tmp.replace(dest)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str):
        return self.path(key).open("rb")

    def size(self, key: str) -> int | None:
        p = self.path(key)
        return p.stat().st_size if p.is_file() else None

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def keys(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())


class S3Storage:
    kind = "s3"

    def __init__(self, url: str):
        import boto3
        from botocore.config import Config

        u = urlparse(url)
        q = parse_qs(u.query)
        scheme = "https" if q.get("tls", ["0"])[0] in ("1", "true") else "http"
        self.bucket = u.path.strip("/")
        if not self.bucket:
            raise ValueError("MEDIA_STORAGE_URL needs a bucket: s3://KEY:SECRET@host:port/bucket")
        self.client = boto3.client(
            "s3",
            endpoint_url=f"{scheme}://{u.hostname}:{u.port or (443 if scheme == 'https' else 80)}",
            aws_access_key_id=unquote(u.username or ""),
            aws_secret_access_key=unquote(u.password or ""),
            region_name=q.get("region", ["us-east-1"])[0],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
        )
        self._bucket_ready = False

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
        self._bucket_ready = True

    def put_file(self, key: str, source: Path) -> None:
        self._ensure_bucket()
        self.client.upload_file(
            str(source), self.bucket, _safe(key), ExtraArgs={"ContentType": content_type(key)}
        )

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=_safe(key))["Body"].read()

    def open(self, key: str):
        return self.client.get_object(Bucket=self.bucket, Key=_safe(key))["Body"]

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=_safe(key))["ContentLength"]
        except ClientError:
            return None

    def keys(self, prefix: str) -> list[str]:
        self._ensure_bucket()
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=_safe(prefix) + "/"
        ):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    def delete_prefix(self, prefix: str) -> None:
        keys = self.keys(prefix)
        for k in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": x} for x in keys[k : k + 1000]]}
            )


@functools.cache
def _for(url: str):
    if url.startswith("s3://"):
        return S3Storage(url)
    if url.startswith("file://"):
        return LocalStorage(url[len("file://") :])
    raise ValueError(f"MEDIA_STORAGE_URL must start with file:// or s3://, not {url!r}")


def media_storage():
    return _for(settings.REDENVELOPE["MEDIA_STORAGE_URL"])
