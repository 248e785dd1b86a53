"""Joining and the account through the API: each refusal a 4xx with its reason, nothing made."""

import datetime as dt

import pytest

from redenvelope.membership.models import Hold, Member

GOOD = {
    "plan": "three",
    "first_name": "Ada",
    "email": "ada@example.com",
    "password": "a-long-unusual-passphrase-7",
    "street": "5 Elm St",
    "city": "New York",
    "state": "NY",
    "zip_code": "10003",
    "card_number": "4242424242424242",
    "exp_month": 12,
    "exp_year": 2040,
}


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_join_by_api_then_refusals(client, world):
    resp = post(client, "/api/join", GOOD)
    assert resp.status_code == 201, resp.content
    assert resp.json()["status"] == "trial" and resp.json()["plan"] == "three"
    n = Member.objects.count()
    for change, status, code in [
        ({}, 409, "email_taken"),
        ({"email": "b@example.com", "password": "password"}, 400, "weak_password"),
        ({"email": "b@example.com", "zip_code": "99999"}, 400, "no_region"),
        ({"email": "b@example.com", "card_number": "4000000000000002"}, 400, "card_declined"),
        ({"email": "b@example.com", "gift_code": "NOPE"}, 404, "unknown_gift"),
        ({"email": "b@example.com", "plan": "gold"}, 404, "no_plan"),
    ]:
        bad = post(client, "/api/join", {**GOOD, **change})
        assert (bad.status_code, bad.json()["code"]) == (status, code), bad.content
        assert bad.json()["detail"]
    assert Member.objects.count() == n


def test_account_holds_address_notices_own_only(client, world):
    client.force_login(world.alice.user)
    today = world.today
    me = client.get("/api/account").json()
    assert me["email"] == "alice@example.com" and me["holds"] == []
    bad = post(
        client,
        "/api/account/holds",
        {"starts_on": str(today - dt.timedelta(days=1)), "ends_on": str(today)},
    )
    assert bad.status_code == 400 and "past" in bad.json()["detail"]
    ok = post(
        client,
        "/api/account/holds",
        {
            "starts_on": str(today + dt.timedelta(days=3)),
            "ends_on": str(today + dt.timedelta(days=10)),
        },
    )
    assert ok.status_code == 201 and len(ok.json()["holds"]) == 1
    hold_id = ok.json()["holds"][0]["id"]
    client.force_login(world.bob.user)
    assert client.delete(f"/api/account/holds/{hold_id}").status_code == 404  # not bob's
    assert Hold.objects.get(pk=hold_id).cancelled_at is None
    bad = client.put(
        "/api/account/notices", {"off": ["telemarketing"]}, content_type="application/json"
    )
    assert bad.status_code == 400
    ok = client.put("/api/account/notices", {"off": ["shipped"]}, content_type="application/json")
    assert ok.json()["notices_off"] == ["shipped"]
    bad = client.put(
        "/api/account/address",
        {"street": "1 A", "city": "X", "state": "CA", "zip_code": "123"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    client.force_login(world.alice.user)
    assert client.delete(f"/api/account/holds/{hold_id}").json()["holds"] == []


@pytest.mark.parametrize("role", ["warehouse", "finance"])
def test_staff_have_no_member_account(client, world, role):
    client.force_login(world.staff[role])
    assert client.get("/api/account").status_code == 403
