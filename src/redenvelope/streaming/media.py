"""The media pipeline: ffmpeg encodes a title's master into an HLS ladder (five H.264 pictures
from 240p to 1080p, two AAC sounds, 4-second segments, a master playlist), the files go to media
storage, and the encode and each rendition are recorded with codec, size, bitrate, duration and
checksum. Encoding the same master again finds the ready encode; a master that is not video is
refused before anything is stored; a failed encode leaves no files behind."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import DomainError, NotFound

from .models import Encode, Rendition
from .storage import media_storage


@dataclass(frozen=True)
class Rung:
    name: str
    height: int
    bitrate: int  # bits a second


VIDEO_LADDER = [
    Rung("1080p", 1080, 5_000_000),
    Rung("720p", 720, 2_800_000),
    Rung("480p", 480, 1_400_000),
    Rung("360p", 360, 800_000),
    Rung("240p", 240, 400_000),
]
AUDIO_LADDER = [Rung("audio_128k", 0, 128_000), Rung("audio_64k", 0, 64_000)]
SEGMENT_S = 4


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise DomainError(f"{name} is missing (Debian: apt-get install ffmpeg).", code="no_ffmpeg")
    return exe


def probe(path: Path) -> dict:
    """The master's streams and length; refuses a file with no video in it."""
    if not path.is_file():
        raise DomainError(f"No file {path}.", code="no_master")
    run = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    info = json.loads(run.stdout or "{}") if run.returncode == 0 else {}
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and s.get("width")]
    if not video:
        raise DomainError(f"{path.name} is not a video file (no picture in it).", code="not_video")
    duration = float(info.get("format", {}).get("duration") or video[0].get("duration") or 0)
    if duration <= 0:
        raise DomainError(f"{path.name} has no length.", code="not_video")
    return {
        "duration": duration,
        "width": int(video[0]["width"]),
        "height": int(video[0]["height"]),
        "audio": any(s.get("codec_type") == "audio" for s in streams),
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ffmpeg_args(master: Path, out: Path, info: dict) -> list[str]:
    """One ffmpeg run: the picture split and scaled to each rung, the sound encoded twice,
    keyframes every 2 s so every rendition cuts its segments at the same moments."""
    n = len(VIDEO_LADDER)
    args = [
        _tool("ffmpeg"),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(master),
    ]
    if not info["audio"]:
        args += ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]
    split = f"[0:v]split={n}" + "".join(f"[s{k}]" for k in range(n))
    scales = [f"[s{k}]scale=-2:{r.height}[v{k}]" for k, r in enumerate(VIDEO_LADDER)]
    args += ["-filter_complex", ";".join([split, *scales])]
    for k, r in enumerate(VIDEO_LADDER):
        args += [
            "-map",
            f"[v{k}]",
            f"-c:v:{k}",
            "libx264",
            f"-b:v:{k}",
            str(r.bitrate),
            f"-maxrate:v:{k}",
            str(int(r.bitrate * 1.07)),
            f"-bufsize:v:{k}",
            str(r.bitrate * 2),
        ]
    audio_in = "0:a:0" if info["audio"] else "1:a:0"
    for k, r in enumerate(AUDIO_LADDER):
        args += [
            "-map",
            audio_in,
            f"-c:a:{k}",
            "aac",
            f"-b:a:{k}",
            str(r.bitrate),
            f"-ac:a:{k}",
            "2",
        ]
    vmap = " ".join(f"v:{k},agroup:aud,name:{r.name}" for k, r in enumerate(VIDEO_LADDER))
    amap = " ".join(
        f"a:{k},agroup:aud,name:{r.name}" + (",default:yes" if k == 0 else "")
        for k, r in enumerate(AUDIO_LADDER)
    )
    args += [
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-force_key_frames",
        "expr:gte(t,n_forced*2)",
        "-sc_threshold",
        "0",
        "-shortest",
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_S),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_filename",
        str(out / "%v" / "seg_%05d.ts"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        f"{vmap} {amap}",
        "-progress",
        "pipe:1",
        "-nostats",
        str(out / "%v" / "index.m3u8"),
    ]
    return args


def _run_ffmpeg(args: list[str], duration: float, console=None) -> None:
    progress = None
    task = None
    if console is not None:
        from rich.progress import BarColumn, Progress, TimeRemainingColumn

        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            "{task.percentage:>3.0f}%",
            TimeRemainingColumn(),
            console=console,
        )
        progress.start()
        task = progress.add_task("encoding the ladder", total=duration)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if progress is not None and line.startswith("out_time_us="):
                value = line.split("=", 1)[1].strip()
                if value.isdigit():
                    progress.update(task, completed=min(duration, int(value) / 1e6))
        err = proc.stderr.read()
        proc.wait()
    finally:
        if progress is not None:
            progress.stop()
    if proc.returncode != 0:
        raise DomainError(f"ffmpeg failed: {err.strip()[-500:] or proc.returncode}", code="ffmpeg")


def _playlist_facts(playlist: Path) -> tuple[float, int]:
    total, segments = 0.0, 0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            total += float(line[8:].split(",")[0])
            segments += 1
    return total, segments


def _rendition_files(folder: Path) -> list[Path]:
    return [folder / "index.m3u8", *sorted(folder.glob("seg_*.ts"))]


def _video_facts(first_segment: Path) -> tuple[str, int, int]:
    run = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,profile,width,height",
            "-of",
            "json",
            str(first_segment),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    s = (json.loads(run.stdout or "{}").get("streams") or [{}])[0]
    codec = f"{s.get('codec_name', 'h264')} {s.get('profile', '')}".strip()
    return codec, int(s.get("width", 0)), int(s.get("height", 0))


def encode_title(title_id: int, master, *, captions=None, console=None) -> Encode:
    """Encode a master into the ladder, store it, record it. Idempotent per (title, master)."""
    master = Path(master)
    title = Title.objects.filter(pk=title_id).first()
    if title is None:
        raise NotFound(f"No title {title_id}.", code="unknown_title")
    info = probe(master)
    if captions is not None and not Path(captions).read_text(errors="replace").startswith("WEBVTT"):
        raise DomainError("Captions must be a WebVTT file (it starts with WEBVTT).")
    sha = _sha256(master)
    done = Encode.objects.filter(title=title, master_sha256=sha, status=Encode.Status.READY)
    if done.exists():
        return done.first()
    started = clock.now()
    prefix = f"titles/{title.pk}/{sha[:16]}-{int(time.time())}"
    enc = Encode.objects.create(
        title=title,
        master_sha256=sha,
        master_name=master.name[:300],
        prefix=prefix,
        duration_s=info["duration"],
        started_at=started,
    )
    storage = media_storage()
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="redenvelope-encode-"))
    try:
        for r in [*VIDEO_LADDER, *AUDIO_LADDER]:
            (work / r.name).mkdir()
        _run_ffmpeg(ffmpeg_args(master, work, info), info["duration"], console)
        rows = []
        for r in [*VIDEO_LADDER, *AUDIO_LADDER]:
            folder = work / r.name
            files = _rendition_files(folder)
            duration, segments = _playlist_facts(files[0])
            h = hashlib.sha256()
            size = 0
            for f in files:
                data = f.read_bytes()
                h.update(data)
                size += len(data)
            if r.height:
                codec, width, height = _video_facts(files[1])
            else:
                codec, width, height = "aac", 0, 0
            rows.append(
                Rendition(
                    encode=enc,
                    kind="video" if r.height else "audio",
                    name=r.name,
                    codec=codec,
                    width=width,
                    height=height,
                    bitrate=r.bitrate,
                    size_bytes=size,
                    duration_s=duration,
                    sha256=h.hexdigest(),
                    playlist=f"{r.name}/index.m3u8",
                    segments=segments,
                )
            )
            for f in files:
                storage.put_file(f"{prefix}/{r.name}/{f.name}", f)
        if captions is not None:
            storage.put_file(f"{prefix}/captions/en.vtt", Path(captions))
        storage.put_file(f"{prefix}/master.m3u8", work / "master.m3u8")
        with transaction.atomic():
            Rendition.objects.bulk_create(rows)
            Encode.objects.filter(pk=enc.pk).update(
                status=Encode.Status.READY,
                finished_at=clock.now(),
                seconds=time.perf_counter() - t0,
                has_captions=captions is not None,
            )
    except BaseException as exc:
        storage.delete_prefix(prefix)  # nothing half-stored
        Encode.objects.filter(pk=enc.pk).update(
            status=Encode.Status.FAILED,
            finished_at=clock.now(),
            error=str(exc)[:2000],
            seconds=time.perf_counter() - t0,
        )
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    enc.refresh_from_db()
    return enc


TEST_PICTURES = ("testsrc2", "smptehdbars", "testsrc", "rgbtestsrc")


def make_test_master(
    path: Path, *, seconds: int = 10, height: int = 1080, picture: str = "testsrc2", tone: int = 440
) -> Path:
    """A generated master (one of ffmpeg's test pictures and a tone) for the demo, tests and
    bench."""
    if picture not in TEST_PICTURES:
        raise DomainError(f"Unknown test picture {picture!r} ({', '.join(TEST_PICTURES)}).")
    width = height * 16 // 9
    subprocess.run(
        [
            _tool("ffmpeg"),
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"{picture}=size={width}x{height}:rate=24:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={int(tone)}:sample_rate=48000:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-shortest",
            str(path),
        ],
        check=True,
        timeout=600,
    )
    return path
