import json

import pytest
from django.test import Client

from redenvelope.accounts.actions import issue_api_token, revoke_api_token
from redenvelope.accounts.models import ApiToken
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry


@pytest.fixture
def alice_api(world):
    token = issue_api_token(world.alice.user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(c, url, body=None):
    return c.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_openapi_docs(client, world):
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/queue" in schema["paths"] and "/api/catalog/titles" in schema["paths"]


def test_auth_required(client, world):
    resp = client.get("/api/catalog/titles")
    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"
    bad = Client(HTTP_AUTHORIZATION="Bearer nope")
    assert bad.get("/api/queue").status_code == 401


def test_catalog_reads(alice_api, world):
    data = alice_api.get("/api/catalog/titles", {"q": "Film 1", "limit": 5}).json()
    assert data["count"] == 1 and data["items"][0]["name"] == "Film 1"
    assert data["items"][0]["genres"] == ["Drama"]
    t = alice_api.get(f"/api/catalog/titles/{world.discs[0].pk}").json()
    assert t["series"] == "The Long Show" and t["season"] == 1 and t["released"] is True
    assert alice_api.get("/api/catalog/titles/999999").status_code == 404
    genres = {g["slug"]: g["titles"] for g in alice_api.get("/api/catalog/genres").json()}
    assert genres["comedy"] == 4


def test_queue_lifecycle(alice_api, world):
    a, b, c = world.films[:3]
    assert post(alice_api, "/api/queue", {"title_id": a.pk}).status_code == 201
    post(alice_api, "/api/queue", {"title_id": b.pk, "where": "top"})
    post(alice_api, "/api/queue", {"title_id": c.pk, "where": 2})
    q = alice_api.get("/api/queue").json()
    assert [e["title_id"] for e in q["entries"]] == [b.pk, c.pk, a.pk]
    q = post(alice_api, f"/api/queue/{a.pk}/top").json()
    assert [e["title_id"] for e in q["entries"]] == [a.pk, b.pk, c.pk]
    q = post(alice_api, f"/api/queue/{a.pk}/move", {"position": 3}).json()
    assert [e["position"] for e in q["entries"]] == [1, 2, 3]
    assert q["entries"][2]["title_id"] == a.pk
    q = alice_api.delete(f"/api/queue/{b.pk}").json()
    assert [e["title_id"] for e in q["entries"]] == [c.pk, a.pk]
    q = post(alice_api, "/api/saved", {"title_id": world.unreleased.pk})
    assert q.status_code == 201 and q.json()["saved"][0]["name"] == "Coming Soon"


@pytest.mark.parametrize(
    "call,status,code",
    [
        (lambda c, w: post(c, "/api/queue", {"title_id": 999999}), 404, "unknown_title"),
        (lambda c, w: post(c, "/api/queue", {"title_id": w.films[0].pk}), 409, "already_queued"),
        (
            lambda c, w: post(c, f"/api/queue/{w.films[0].pk}/move", {"position": 5}),
            400,
            "bad_position",
        ),
        (lambda c, w: c.delete(f"/api/queue/{w.films[4].pk}"), 404, "not_in_queue"),
        (lambda c, w: post(c, "/api/queue", {"title_id": w.unreleased.pk}), 400, "unreleased"),
        (lambda c, w: post(c, "/api/queue", {"title_id": "abc"}), 422, None),
    ],
)
def test_bad_input_is_4xx_and_changes_nothing(alice_api, world, call, status, code):
    queues.add_to_queue(world.alice, world.films[0])
    queues.add_to_queue(world.alice, world.films[1])
    before = list(QueueEntry.objects.order_by("member_id", "position").values_list("title_id"))
    resp = call(alice_api, world)
    assert resp.status_code == status
    assert "detail" in resp.json()
    if code:
        assert resp.json()["code"] == code
    after = list(QueueEntry.objects.order_by("member_id", "position").values_list("title_id"))
    assert after == before


def test_no_way_to_reach_another_members_queue(alice_api, world):
    queues.add_to_queue(world.bob, world.films[3])
    q = alice_api.get("/api/queue").json()
    assert q["entries"] == []
    assert alice_api.delete(f"/api/queue/{world.films[3].pk}").status_code == 404
    assert QueueEntry.objects.filter(member=world.bob).count() == 1


def test_staff_have_no_queue(world):
    token = issue_api_token(world.staff["support_agent"])
    c = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    resp = c.get("/api/queue")
    assert resp.status_code == 403 and resp.json()["code"] == "not_a_member"


def test_session_auth_needs_csrf(world):
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.alice.user)
    assert c.get("/api/queue").status_code == 200
    assert post(c, "/api/queue", {"title_id": world.films[0].pk}).status_code in (401, 403)
    assert not QueueEntry.objects.exists()


def test_revoked_token_stops_working(world):
    token = issue_api_token(world.alice.user)
    c = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert c.get("/api/queue").status_code == 200
    revoke_api_token(ApiToken.objects.get().pk, world.alice.user)
    assert c.get("/api/queue").status_code == 401
