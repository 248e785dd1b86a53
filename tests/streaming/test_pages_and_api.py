"""Streaming pages and API: roles, signed media URLs (valid, expired, replayed after stop,
tampered), pairing a TV (codes expire, guesses are limited), removing a device."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from redenvelope.accounts.actions import issue_api_token
from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.streaming import actions, delivery, leases
from redenvelope.streaming.models import Device

from .conftest import licensed, ready

PASSWORD = "correct-horse-battery"


@pytest.fixture
def film(world, tmp_path, settings, lease_store):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MEDIA_STORAGE_URL": f"file://{tmp_path}"}
    film = world.films[0]
    enc = ready(film)
    (tmp_path / enc.prefix / "240p").mkdir(parents=True)
    (tmp_path / enc.prefix / "master.m3u8").write_text("#EXTM3U\n240p/index.m3u8\n")
    (tmp_path / enc.prefix / "240p" / "seg_00000.ts").write_bytes(b"\x47" * 188)
    licensed(film)
    return film


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages_by_role(world, film):
    member = _client(world.alice.user)
    assert member.get(f"/watch/{film.pk}/").status_code == 200
    assert member.get("/watch/").status_code == 200
    assert member.get("/account/devices/").status_code == 200
    assert member.get("/operations/streaming/").status_code == 403
    for role, code in [
        ("operations", 200),
        ("support_agent", 200),
        ("admin", 200),
        ("warehouse", 403),
        ("finance", 403),
    ]:
        staff = _client(world.staff[role])
        assert staff.get("/operations/streaming/").status_code == code, role
        assert staff.get(f"/watch/{film.pk}/").status_code == 403, role
    anon = Client()
    assert anon.get(f"/watch/{film.pk}/").status_code == 302
    assert anon.post(f"/watch/{film.pk}/start/").status_code == 302


def test_start_then_media_with_signed_token(world, film):
    c = _client(world.alice.user)
    r = c.post(f"/watch/{film.pk}/start/").json()
    assert r["src"].endswith("/master.m3u8")
    anon = Client()  # the token alone reaches the files (a CDN carries no cookies)
    got = anon.get(r["src"])
    assert got.status_code == 200 and got["Content-Type"] == "application/vnd.apple.mpegurl"
    seg = r["src"].replace("master.m3u8", "240p/seg_00000.ts")
    assert anon.get(seg).status_code == 200
    assert anon.get(r["src"].replace("master.m3u8", "../../etc/passwd")).status_code == 404
    assert anon.get(r["src"].replace("master.m3u8", "nope.ts")).status_code == 404
    tampered = r["src"].replace(f"/{world.alice.pk}.", f"/{world.bob.pk}.", 1)
    assert anon.get(tampered).status_code == 403
    beat = c.post(f"/watch/lease/{r['lease_id']}/beat/", {"position": "3"}).json()
    assert beat["token"]
    # bob cannot beat or stop alice's lease
    assert _client(world.bob.user).post(f"/watch/lease/{r['lease_id']}/beat/").status_code == 404
    stop = c.post(f"/watch/lease/{r['lease_id']}/stop/", HTTP_ACCEPT="application/json")
    assert stop.json()["position"] == 3
    assert anon.get(r["src"]).status_code == 403  # replayed after the stop


def test_expired_token_refused(world, film):
    c = _client(world.alice.user)
    r = c.post(f"/watch/{film.pk}/start/").json()
    old = delivery.make_token(world.alice.pk, r["lease_id"], 1, now=0)
    assert Client().get(f"/stream/{old}/master.m3u8").status_code == 403


def test_api_play_refusal_lists_screens(world, film):
    token = issue_api_token(world.bob.user)  # plan1: one screen
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    first = api.post("/api/streaming/play", {"title_id": film.pk}, content_type="application/json")
    assert first.status_code == 200
    second = api.post("/api/streaming/play", {"title_id": film.pk}, content_type="application/json")
    assert second.status_code == 409
    assert second.json()["playing"][0]["lease_id"] == first.json()["lease_id"]
    lease = first.json()["lease_id"]
    hb = api.post(
        f"/api/streaming/leases/{lease}/heartbeat", {"position": 5}, content_type="application/json"
    )
    assert hb.status_code == 200
    assert api.get("/api/streaming/playing").json()[0]["lease_id"] == lease
    assert (
        api.post(f"/api/streaming/leases/{lease}/stop", {}, content_type="application/json").json()[
            "position"
        ]
        == 5
    )
    assert api.get("/api/streaming/history").json()[0]["position"] == 5
    assert Client().post("/api/streaming/play", {"title_id": film.pk}).status_code == 401


def test_pair_a_tv_then_remove_it(world, film):
    box = Client()  # the TV, before it has a token: the device flow's two public calls
    started = box.post(
        "/api/streaming/devices/pair",
        {"kind": "tv", "name": "Living room TV"},
        content_type="application/json",
    ).json()

    def poll():
        return box.post(
            "/api/streaming/devices/pair/token",
            {"device_code": started["device_code"]},
            content_type="application/json",
        ).json()

    assert poll()["error"] == "authorization_pending"
    assert poll()["error"] == "slow_down"
    page = _client(world.alice.user)
    r = page.post("/account/devices/", {"code": started["user_code"].lower().replace("-", "")})
    assert b"is paired" in r.content
    got = poll()
    tv = Client(HTTP_AUTHORIZATION=f"Bearer {got['access_token']}")
    assert (
        tv.post(
            "/api/streaming/play",
            {"title_id": film.pk, "device_id": got["device_id"]},
            content_type="application/json",
        ).status_code
        == 200
    )
    with pytest.raises(DomainError, match="already"):
        actions.collect_pairing(started["device_code"])  # the token is given once
    device = Device.objects.get(pk=got["device_id"])
    assert device.member_id == world.alice.pk
    page.post("/account/devices/", {"do": "remove", "device": device.pk})
    assert tv.get("/api/streaming/playing").status_code == 401  # its token no longer works
    again = Client(HTTP_AUTHORIZATION=f"Bearer {got['access_token']}")
    assert again.get("/api/streaming/devices").status_code == 401


def test_pairing_codes_expire_and_guesses_are_limited(world):
    started = actions.begin_pairing(kind="console", name="Console")
    later = clock.now() + dt.timedelta(minutes=11)
    with clock.frozen(later), pytest.raises(DomainError, match="expired"):
        actions.approve_pairing(world.alice, started["user_code"])
    page = _client(world.bob.user)
    for k in range(10):
        r = page.post("/account/devices/", {"code": f"BBBB-CC{k:02d}"})
        assert r.status_code == 404
    fresh = actions.begin_pairing(kind="tv", name="TV")
    r = page.post("/account/devices/", {"code": fresh["user_code"]})
    assert r.status_code == 403 and b"Too many wrong codes" in r.content
    with pytest.raises(DomainError, match="TV box"):
        actions.begin_pairing(kind="fridge", name="x")


def test_an_agent_removes_a_members_device_and_its_screen_stops(world, film):
    device = Device.objects.create(
        member=world.alice, kind=Device.Kind.TV, name="Den TV", registered_at=clock.now()
    )
    session = actions.start_playback(world.alice, film.pk, device=device.pk)
    agent = _client(world.staff["support_agent"])
    page = agent.get(f"/support/members/{world.alice.pk}/")
    assert b"Den TV" in page.content and film.name.encode() in page.content
    # a device of another member through this member's page: refused, nothing removed
    r = agent.post(f"/support/members/{world.bob.pk}/devices/{device.pk}/remove/", follow=True)
    assert b"No device" in r.content
    device.refresh_from_db()
    assert device.removed_at is None
    for role in ("warehouse", "finance"):
        other = _client(world.staff[role])
        url = f"/support/members/{world.alice.pk}/devices/{device.pk}/remove/"
        assert other.post(url).status_code == 403
    r = agent.post(f"/support/members/{world.alice.pk}/devices/{device.pk}/remove/", follow=True)
    assert b"Device removed" in r.content
    device.refresh_from_db()
    assert device.removed_at is not None and device.removed_by
    assert actions.playing_sessions(world.alice.pk) == []
    assert session.lease_id not in leases.store().live(world.alice.pk)


MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="a",DEFAULT=YES,URI="audio_128k/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=5640800,RESOLUTION=1920x1080,AUDIO="aud"
1080p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3220800,RESOLUTION=1280x720,AUDIO="aud"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1680800,RESOLUTION=854x480,AUDIO="aud"
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=580800,RESOLUTION=426x240,AUDIO="aud"
240p/index.m3u8
"""


def test_an_sd_licence_serves_no_picture_above_480p(world, tmp_path, settings, lease_store):
    from redenvelope.rights.models import LicenseWindow

    settings.REDENVELOPE = {**settings.REDENVELOPE, "MEDIA_STORAGE_URL": f"file://{tmp_path}"}
    film = world.films[1]
    enc = ready(film)
    for name in ("1080p", "480p", "240p"):
        (tmp_path / enc.prefix / name).mkdir(parents=True)
        (tmp_path / enc.prefix / name / "index.m3u8").write_text("#EXTM3U\n")
    (tmp_path / enc.prefix / "master.m3u8").write_text(MASTER)
    licensed(film, ceiling="sd")
    c = _client(world.alice.user)
    r = c.post(f"/watch/{film.pk}/start/").json()
    master = Client().get(r["src"]).content.decode()
    assert "480p/index.m3u8" in master and "240p/index.m3u8" in master
    assert "1080p" not in master and "720p" not in master and "audio_128k" in master
    assert Client().get(r["src"].replace("master.m3u8", "1080p/index.m3u8")).status_code == 403
    assert Client().get(r["src"].replace("master.m3u8", "480p/index.m3u8")).status_code == 200
    # the heartbeat's renewed token keeps the ceiling
    beat = c.post(f"/watch/lease/{r['lease_id']}/beat/", {"position": "2"}).json()
    assert Client().get(f"/stream/{beat['token']}/1080p/index.m3u8").status_code == 403
    # an HD window: the whole ladder
    LicenseWindow.objects.filter(title=film).update(ceiling="hd")
    c.post(f"/watch/lease/{r['lease_id']}/stop/", {"position": "3"})
    again = c.post(f"/watch/{film.pk}/start/").json()
    assert "1080p/index.m3u8" in Client().get(again["src"]).content.decode()


PUBLIC = {"/api/streaming/devices/pair", "/api/streaming/devices/pair/token"}


def _calls(schema, prefix):
    for path, ops in schema["paths"].items():
        if path.startswith(prefix):
            for method in ops:
                url = path
                for name in ("lease_id", "device_id"):
                    url = url.replace("{" + name + "}", "1")
                yield path, method, url


def test_every_streaming_endpoint_checks_who_calls(world):
    """Read from the OpenAPI schema, so a new endpoint is covered the day it is added: nobody
    signed in gets 401, staff get 403 (streaming is the member's), except the two a TV calls
    before it has a token."""
    schema = Client().get("/api/openapi.json").json()
    calls = list(_calls(schema, "/api/streaming"))
    assert len(calls) >= 10
    staff = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(world.staff['support_agent'])}")

    def call(client, method, url):
        if method in ("get", "delete"):
            return getattr(client, method)(url)
        return getattr(client, method)(url, data="{}", content_type="application/json")

    for path, method, url in calls:
        anon, as_staff = call(Client(), method, url), call(staff, method, url)
        if path in PUBLIC:
            assert anon.status_code in (200, 400, 422), (path, anon.status_code)
            continue
        assert anon.status_code == 401, (method, path, anon.status_code)
        assert as_staff.status_code in (403, 422), (method, path, as_staff.status_code)


def test_another_members_lease_and_device_are_not_found(world, film):
    alice = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(world.alice.user)}")
    bob = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(world.bob.user)}")
    played = alice.post(
        "/api/streaming/play", {"title_id": film.pk}, content_type="application/json"
    ).json()
    lease = played["lease_id"]
    for url in (f"/api/streaming/leases/{lease}/heartbeat", f"/api/streaming/leases/{lease}/stop"):
        r = bob.post(url, {"position": 5}, content_type="application/json")
        assert r.status_code == 404, url
    device = Device.objects.create(
        member=world.alice, kind=Device.Kind.PHONE, name="Alice's phone", registered_at=clock.now()
    )
    assert bob.delete(f"/api/streaming/devices/{device.pk}").status_code == 404
    assert bob.get("/api/streaming/playing").json() == []
    assert [s["lease_id"] for s in alice.get("/api/streaming/playing").json()] == [lease]
    device.refresh_from_db()
    assert device.removed_at is None
