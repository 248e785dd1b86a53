"""A trained version's arrays on disk: one .npz per version in RECS_DIR, written to a temporary
name and renamed (a crash leaves no half file under the real name), read back only when its
SHA-256 and format match what the version row says."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from django.conf import settings

from . import engine


class ModelFileError(Exception):
    """A version's file is missing, damaged, or of another format."""


@dataclass
class Bundle:
    """Everything serving needs from one version."""

    stars: engine.StarsModel | None
    rank: engine.RankModel
    # the most-signalled titles per region (CSR by region position) and nationally
    regions: np.ndarray
    region_indptr: np.ndarray
    region_titles: np.ndarray
    region_counts: np.ndarray
    popular: np.ndarray
    popular_counts: np.ndarray


def directory() -> Path:
    path = Path(settings.REDENVELOPE["RECS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _flatten(bundle: Bundle) -> dict:
    out = {"format": np.array(engine.FORMAT)}
    if bundle.stars is not None:
        for f in fields(engine.StarsModel):
            out[f"stars.{f.name}"] = np.asarray(getattr(bundle.stars, f.name))
    for name in ("titles", "b", "popularity"):
        out[f"rank.{name}"] = getattr(bundle.rank, name)
    for f in fields(Bundle):
        if f.name not in ("stars", "rank"):
            out[f.name] = getattr(bundle, f.name)
    return out


def save(bundle: Bundle, name: str) -> tuple[str, str]:
    """Write the bundle as `name`.npz; returns (file name, sha256)."""
    buf = io.BytesIO()
    np.savez(buf, **_flatten(bundle))
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    final = directory() / f"{name}.npz"
    tmp = final.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final.name, digest


def load(file: str, checksum: str, fmt: int) -> Bundle:
    if fmt != engine.FORMAT:
        raise ModelFileError(f"made by an older version of the code (format {fmt})")
    path = directory() / file
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError(f"its file {file} is missing") from exc
    if hashlib.sha256(data).hexdigest() != checksum:
        raise ModelFileError(f"its file {file} does not match its checksum")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"its file {file} cannot be read ({exc})") from exc
    if int(arrays.get("format", -1)) != engine.FORMAT:
        raise ModelFileError(f"its file {file} is of another format")
    stars = None
    if "stars.mu" in arrays:
        kw = {}
        for f in fields(engine.StarsModel):
            v = arrays[f"stars.{f.name}"]
            kw[f.name] = v.item() if v.ndim == 0 else v
        stars = engine.StarsModel(**kw)
    rank = engine.RankModel(
        titles=arrays["rank.titles"], b=arrays["rank.b"], popularity=arrays["rank.popularity"]
    )
    rest = {f.name: arrays[f.name] for f in fields(Bundle) if f.name not in ("stars", "rank")}
    return Bundle(stars=stars, rank=rank, **rest)


def remove(file: str) -> None:
    (directory() / file).unlink(missing_ok=True)
