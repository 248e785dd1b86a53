import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from redenvelope.accounts.actions import issue_api_token
from redenvelope.billing.models import Credit, Statement
from redenvelope.billing.run import run_billing
from redenvelope.core import clock
from redenvelope.membership.models import Member


def api(user):
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user, 'test')}")


def post(c, url, body=None):
    return c.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def billed(world, emails_at_once):
    Member.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).update(billing_day=10)
    with clock.frozen(timezone.make_aware(dt.datetime(2026, 4, 10, 9))):
        run_billing(dt.date(2026, 4, 10))  # no cards yet: both statements past due
    return world


def test_member_sees_and_pays_only_their_own(billed):
    alice, bob = api(billed.alice.user), api(billed.bob.user)
    mine = alice.get("/api/billing/statements").json()
    assert len(mine) == 1 and mine[0]["status"] == "past_due"
    assert alice.get("/api/billing/balance").json()["owed"] == mine[0]["total_due"]
    bobs = Statement.objects.get(member=billed.bob)
    r = post(alice, f"/api/billing/statements/{bobs.pk}/pay")
    assert r.status_code == 403 and bobs.payments.count() == 1
    r = post(
        bob,
        "/api/billing/payment-methods",
        {"kind": "card", "number": "4242424242424241", "exp_month": 12, "exp_year": 2030},
    )
    assert r.status_code == 400 and "not valid" in r.json()["detail"]
    r = post(
        bob,
        "/api/billing/payment-methods",
        {"kind": "card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2030},
    )
    assert r.status_code == 200 and r.json()["last4"] == "4242"
    r = post(bob, f"/api/billing/statements/{bobs.pk}/pay", {"idempotency_key": "x1"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    r = post(bob, f"/api/billing/statements/{bobs.pk}/pay", {"idempotency_key": "x1"})
    assert r.status_code == 200 and bobs.payments.filter(status="succeeded").count() == 1
    assert bob.get("/api/billing/members/1/balance").status_code == 403


def test_staff_credits_within_limits(billed):
    agent = api(billed.staff["support_agent"])
    url = f"/api/billing/members/{billed.alice.pk}/credits"
    r = post(agent, url, {"amount": "30.00", "reason": "too much"})
    assert r.status_code == 403 and r.json()["code"] == "over_limit"
    r = post(agent, url, {"amount": "-1", "reason": "negative"})
    assert r.status_code == 400
    body = {"amount": "15.00", "reason": "mailed back by mistake", "idempotency_key": "c-1"}
    assert post(agent, url, body).status_code == 200
    assert post(agent, url, body).status_code == 200
    assert Credit.objects.filter(member=billed.alice).count() == 1
    assert agent.get(f"/api/billing/members/{billed.alice.pk}/balance").status_code == 200
    assert agent.get("/api/billing/reports/mrr").status_code == 403
    finance = api(billed.staff["finance"])
    rep = finance.get("/api/billing/reports/aging").json()
    assert rep["columns"][0].startswith("age") and rep["rows"][-1][0] == "Total"
    assert finance.get("/api/billing/reports/nope").status_code == 404


def test_gift_bought_and_redeemed_over_the_api(billed):
    bob = api(billed.bob.user)
    body = {
        "plan": "one",
        "months": 3,
        "purchaser_name": "Gran",
        "purchaser_email": "gran@example.com",
        "card_number": "4000000000000002",
        "exp_month": 12,
        "exp_year": 2030,
    }
    r = post(bob, "/api/billing/gifts", body)
    assert r.status_code == 400 and r.json()["code"] == "declined"
    r = post(bob, "/api/billing/gifts", {**body, "card_number": "4242424242424242"})
    assert r.status_code == 200 and r.json()["amount_paid"] == "26.97"
    code = r.json()["code"]
    assert post(bob, "/api/billing/gifts/redeem", {"code": code}).status_code == 200
    assert Member.objects.get(pk=billed.bob.pk).gift_months_left == 3
    assert post(bob, "/api/billing/gifts/redeem", {"code": code}).status_code == 409
