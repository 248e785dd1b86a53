"""Streaming end to end in Debian's chromium: a demo-made title (ffmpeg's test picture, encoded
into the ladder) plays through hls.js (the video's currentTime advances); a second browser
beyond the plan's one screen is refused with the screen playing, stops it, and then plays."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from redenvelope.streaming import media
from redenvelope.streaming.models import Session
from tests.e2e.helpers import close_and_settle, sign_in
from tests.streaming.conftest import licensed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _playing(page, at_least: float = 1.0, seconds: float = 30, errors=()):
    """Wait until the video has played past `at_least` s (polled: the page's CSP refuses the
    eval that wait_for_function would use). A failure says what the page said and logged."""
    end = time.monotonic() + seconds
    t = 0.0
    while time.monotonic() < end:
        t = page.evaluate("() => document.querySelector('video').currentTime")
        if t > at_least:
            return t
        page.wait_for_timeout(200)
    state = page.evaluate(
        "() => { const v = document.querySelector('video'); return [v.readyState, v.paused,"
        " v.networkState, document.querySelector('[data-status]').textContent]; }"
    )
    raise AssertionError(
        f"the video did not play: currentTime {t}, readyState/paused/networkState/status "
        f"{state}, console errors {list(errors)}"
    )


def test_play_through_hls_js_within_the_plans_screens(
    live_server, world, browser, tmp_path, settings, redis_url
):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "MEDIA_STORAGE_URL": f"file://{tmp_path / 'media'}",
        "REDIS_URL": redis_url,
        "STREAM_HEARTBEAT_S": 2,
    }
    film = world.films[0]
    master = media.make_test_master(tmp_path / "m.mp4", seconds=12, height=360)
    vtt = tmp_path / "en.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:05.000\nA test picture.\n")
    media.encode_title(film.pk, master, captions=vtt)
    licensed(film)
    base = live_server.url
    first = browser.new_context().new_page()
    second = browser.new_context().new_page()
    errors = []
    for p in (first, second):
        p.set_default_timeout(20_000)
        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    sign_in(first, base, "bob")  # bob's plan streams on 1 screen
    first.goto(f"{base}/catalog/{film.pk}/")
    first.get_by_role("link", name="Watch now").click()
    first.get_by_role("button", name="Play").click()
    _playing(first, errors=errors)

    sign_in(second, base, "bob")
    second.goto(f"{base}/watch/{film.pk}/")
    second.get_by_role("button", name="Play").click()
    expect(second.get_by_role("status")).to_contain_text("1 screen at once")
    refusal = second.get_by_role("region", name="Player")
    refusal.get_by_role("button", name=f"Stop {film.name} on Web browser").click()
    expect(second.get_by_role("status")).to_contain_text("Press Play")
    second.get_by_role("button", name="Play").click()
    _playing(second, errors=errors)
    expect(first.get_by_role("status")).to_contain_text("Start again", timeout=15_000)

    assert Session.objects.filter(member=world.bob).count() == 2
    assert not [e for e in errors if "Content Security" in e], errors
    close_and_settle(first.context, second.context)  # nothing in flight when the database goes
