"""Streaming for the demo: a few short masters generated with ffmpeg's test sources and encoded
through the real pipeline (`media.encode_title`) into the configured storage (local files by
default), so that playback works out of the box; captions on the first; the demo member's TV.

Run after `demo-data` (which writes the license windows) and before `simulate` (whose members
watch what is encoded here)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from rich.console import Console

from redenvelope.catalog.models import Title
from redenvelope.core.errors import DomainError
from redenvelope.membership.models import Member
from redenvelope.rights.queries import availability
from redenvelope.streaming import actions, media
from redenvelope.streaming.models import Device, Encode

from .build import DEMO_MEMBER

CAPTIONS = """WEBVTT

00:00:00.500 --> 00:00:03.500
[A steady tone] This is Red Envelope's demo picture.

00:00:04.000 --> 00:00:07.500
Every rendition from 240p to 1080p was encoded on this machine.
"""


@dataclass
class StreamingReport:
    encoded: list[tuple[int, str, float]] = field(default_factory=list)  # title, name, seconds
    devices: int = 0

    def summary(self) -> str:
        made = ", ".join(f"{name} (#{pk}, {s:.0f} s)" for pk, name, s in self.encoded)
        return f"Streaming: encoded {len(self.encoded)} titles: {made}; {self.devices} device(s)"


def streamable_titles(count: int) -> list[Title]:
    """The most popular films watchable now in the members' territory."""
    territory = settings.REDENVELOPE["TERRITORY"]
    candidates = list(Title.objects.filter(series__isnull=True).order_by("-popularity")[:500])
    now_ = availability([t.pk for t in candidates], territory)
    return [t for t in candidates if now_.get(t.pk) and now_[t.pk].watch_now][:count]


def seed_streaming(
    *, titles: int = 3, seconds: int = 10, console: Console | None = None
) -> StreamingReport:
    if titles < 0 or not 4 <= seconds <= 600:
        raise DomainError("Encode 0 or more titles of 4 to 600 seconds each.")
    console = console or Console(quiet=True)
    report = StreamingReport()
    chosen = streamable_titles(titles)
    if len(chosen) < titles:
        raise DomainError(
            f"Only {len(chosen)} titles are licensed for streaming now; run demo-data first."
        )
    with tempfile.TemporaryDirectory(prefix="redenvelope-masters-") as tmp:
        for k, title in enumerate(chosen):
            picture = media.TEST_PICTURES[k % len(media.TEST_PICTURES)]
            master = media.make_test_master(
                Path(tmp) / f"master-{title.pk}.mp4",
                seconds=seconds,
                picture=picture,
                tone=330 + 110 * k,
            )
            captions = None
            if k == 0:
                captions = Path(tmp) / "en.vtt"
                captions.write_text(CAPTIONS)
            console.print(f"Encoding {title.name} ({picture}, {seconds} s)")
            enc = media.encode_title(title.pk, master, captions=captions, console=console)
            report.encoded.append((title.pk, title.name, enc.seconds or 0.0))
    member = Member.objects.filter(user__username=DEMO_MEMBER).first()
    if member is not None and not Device.objects.filter(member=member).exists():
        actions.register_device(member, kind=Device.Kind.TV, name="Living room TV")
        report.devices += 1
    return report


def demo_titles() -> list[tuple[int, str]]:
    """What the demo has encoded and ready (for the login table)."""
    rows = (
        Encode.objects.filter(status=Encode.Status.READY)
        .select_related("title")
        .order_by("title_id")
        .values_list("title_id", "title__name")
    )
    seen: dict[int, str] = {}
    for pk, name in rows:
        seen.setdefault(pk, name)
    return list(seen.items())
