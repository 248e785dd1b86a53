"""The encoding pipeline with ffmpeg: the ladder, idempotence, a broken master, and the files in
a real S3 server (SeaweedFS) as well as on the local disk."""

from __future__ import annotations

import pytest

from redenvelope.core import services
from redenvelope.core.errors import DomainError
from redenvelope.streaming import media
from redenvelope.streaming.models import Encode, Rendition
from redenvelope.streaming.storage import media_storage


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    return media.make_test_master(
        tmp_path_factory.mktemp("masters") / "m.mp4", seconds=5, height=360
    )


@pytest.fixture(scope="module")
def s3_url():
    with services.s3_server() as url:
        yield url


def _check_ladder(enc: Encode):
    assert enc.status == Encode.Status.READY
    video = enc.renditions.filter(kind="video").order_by("-height")
    assert [r.height for r in video] == [1080, 720, 480, 360, 240]
    assert all(r.codec.startswith("h264") and r.size_bytes > 0 for r in video)
    assert enc.renditions.filter(kind="audio").count() == 2
    assert all(abs(r.duration_s - 5) < 0.5 and r.segments >= 2 for r in enc.renditions.all())
    storage = media_storage()
    assert storage.read(f"{enc.prefix}/master.m3u8").startswith(b"#EXTM3U")
    keys = storage.keys(enc.prefix)
    assert f"{enc.prefix}/captions/en.vtt" in keys
    for r in enc.renditions.all():
        assert f"{enc.prefix}/{r.playlist}" in keys
        assert sum(1 for k in keys if k.startswith(f"{enc.prefix}/{r.name}/seg_")) == r.segments


@pytest.mark.parametrize("where", ["file", "s3"])
def test_encode_the_ladder_into_storage(world, master, tmp_path, settings, where, request):
    url = request.getfixturevalue("s3_url") if where == "s3" else f"file://{tmp_path}"
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MEDIA_STORAGE_URL": url}
    vtt = tmp_path / "en.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello.\n")
    enc = media.encode_title(world.films[0].pk, master, captions=vtt)
    _check_ladder(enc)
    again = media.encode_title(world.films[0].pk, master, captions=vtt)
    assert again.pk == enc.pk and Encode.objects.count() == 1  # idempotent


def test_a_file_that_is_not_video_stores_nothing(world, tmp_path, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MEDIA_STORAGE_URL": f"file://{tmp_path}/m"}
    fake = tmp_path / "film.mp4"
    fake.write_bytes(b"this is not a film" * 100)
    with pytest.raises(DomainError, match="not a video"):
        media.encode_title(world.films[1].pk, fake)
    assert not Encode.objects.exists() and not Rendition.objects.exists()
    assert not (tmp_path / "m").exists()
    with pytest.raises(DomainError):
        media.encode_title(world.films[1].pk, tmp_path / "missing.mp4")


def test_bad_captions_refused(world, master, tmp_path):
    bad = tmp_path / "x.vtt"
    bad.write_text("1\n00:00:00,000 --> 00:00:01,000\nSRT, not WebVTT\n")
    with pytest.raises(DomainError, match="WebVTT"):
        media.encode_title(world.films[2].pk, master, captions=bad)
    assert not Encode.objects.exists()
