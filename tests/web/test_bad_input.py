"""Bad input answers with a clear error and changes nothing, never a 500."""

import pytest
from django.test import Client

from redenvelope.billing.models import Credit, Payment, Statement


@pytest.fixture
def staff(world):
    c = Client(raise_request_exception=False)
    c.force_login(world.staff["admin"])
    return c


@pytest.fixture
def member(world):
    c = Client(raise_request_exception=False)
    c.force_login(world.alice.user)
    return c


BAD_NUMBERS = ["²", "१२", "abc", "1e30", "99999999999999999999999", "-5", ""]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_staff_credit_forms(staff, world, value):
    url = f"/finance/members/{world.alice.pk}/"
    for data in (
        {"action": "credit", "kind": "account", "amount": value, "reason": "x"},
        {"action": "credit", "kind": "percent", "percent": value, "reason": "x"},
        {"action": "credit", "kind": "bonus_rentals", "rentals": value, "reason": "x"},
        {"action": "refund", "payment": value, "reason": "x"},
        {"action": "waive", "fee": value, "reason": "x"},
    ):
        r = staff.post(url + "do/", data)
        assert r.status_code in (302, 400, 404), (data, r.status_code)
    assert not Credit.objects.exists()


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_member_billing_forms(member, world, value):
    for data in (
        {
            "action": "add_card",
            "number": "4242424242424242",
            "exp_month": value,
            "exp_year": "2030",
        },
        {"action": "pay", "statement": value},
        {"action": "change_plan", "plan": value},
    ):
        r = member.post("/account/billing/do/", data)
        assert r.status_code in (302, 400, 404), (data, r.status_code)
    assert not Payment.objects.exists() and not Statement.objects.exists()


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_gift_and_outage_forms(member, staff, value):
    r = member.post(
        "/gifts/",
        {"plan": value, "months": value, "exp_month": value, "exp_year": value, "number": "1"},
    )
    assert r.status_code in (200, 400, 404)
    r = staff.post("/finance/outages/", {"incident": value, "percent": value, "reason": "x"})
    assert r.status_code in (302, 400, 404)


@pytest.mark.parametrize("to", ["0001-01-01", "9999-12-31", "2026-02-30", "²"])
def test_report_dates(staff, to):
    r = staff.get(f"/finance/reports/mrr/?to={to}")
    assert r.status_code == 400 and b"date" in r.content


def test_api_page_sizes_are_capped(member):
    c = member
    assert c.get("/api/catalog/titles?offset=99999999999999999999").status_code == 422
    assert c.get("/api/catalog/titles?limit=1000000000").status_code == 422
    assert c.get("/api/catalog/titles?limit=200").status_code == 200


def test_pages_carry_a_content_security_policy(client, world):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
