"""Support pages and /api/support: what each role reaches, the console's flows, the webhook."""

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse

from redenvelope.accounts.actions import issue_api_token
from redenvelope.billing import actions as billing
from redenvelope.billing.models import Credit
from redenvelope.core.errors import Conflict
from redenvelope.ledger.actions import ensure_chart
from redenvelope.support import actions as support
from redenvelope.support.models import Action, Approval, Call, Case, Flag

ROLES = [
    "member",
    "other_member",
    "warehouse",
    "support_agent",
    "support_lead",
    "finance",
    "operations",
    "admin",
    "anonymous",
]
AGENT_OK = {"support_agent", "support_lead", "admin"}
LEAD_OK = {"support_lead", "admin"}


@pytest.fixture
def w(world):
    ensure_chart()
    world.case = support.open_case(
        world.alice, channel="web", subject="Help", body="Please", actor=world.alice.user
    )
    world.flag = Flag.objects.create(
        member=world.alice, rule="lost_claims", evidence={}, raised_at=world.case.opened_at
    )
    agent = world.staff["support_agent"]
    world.approval = support.compensate(
        world.case, "credit", amount="50.00", reason="big", actor=agent
    )
    return world


def _user(w, role):
    return {
        "member": w.alice.user,
        "other_member": w.bob.user,
        "anonymous": None,
    }.get(role, w.staff.get(role))


def _client(w, role):
    c = Client()
    user = _user(w, role)
    if user is not None:
        c.force_login(user)
    return c


def _pages(w):
    return [
        ("support_console", {}, AGENT_OK),
        ("support_ringing", {}, AGENT_OK),
        ("support_member", {"member_id": w.alice.pk}, AGENT_OK),
        ("support_case", {"case_id": w.case.pk}, AGENT_OK),
        ("support_approvals", {}, LEAD_OK),
        ("support_flags", {}, AGENT_OK),
        ("support_chats", {}, AGENT_OK),
        ("support_case_log", {"case_id": w.case.pk}, AGENT_OK),
        ("chat_panel", {}, {"member", "other_member"}),
        ("my_cases", {}, {"member", "other_member"}),
        ("my_case", {"case_id": w.case.pk}, {"member"}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_support_page_checks_the_role(w, role):
    c = _client(w, role)
    for name, kwargs, allowed in _pages(w):
        resp = c.get(reverse(name, kwargs=kwargs))
        if role == "anonymous":
            assert resp.status_code == 302 and "/login/" in resp["Location"], name
        elif role in allowed:
            assert resp.status_code == 200, (name, role)
        else:
            assert resp.status_code in (403, 404), (name, role, resp.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_every_support_post_checks_the_role(w, role):
    c = _client(w, role)
    posts = [
        ("support_open_case", {"member_id": w.alice.pk}, {"subject": "x"}, AGENT_OK),
        (
            "support_case_do",
            {"case_id": w.case.pk},
            {"do": "say", "kind": "note", "body": "n"},
            AGENT_OK,
        ),
        (
            "support_decide",
            {"approval_id": w.approval.pk},
            {"decision": "reject", "note": "no"},
            LEAD_OK,
        ),
        ("support_clear_flag", {"flag_id": w.flag.pk}, {"reason": "fine"}, LEAD_OK),
        ("support_close", {"member_id": w.bob.pk}, {"reason": "short"}, LEAD_OK),
    ]
    for name, kwargs, data, allowed in posts:
        resp = c.post(reverse(name, kwargs=kwargs), data)
        if role == "anonymous":
            assert resp.status_code == 302 and "/login/" in resp["Location"]
        elif role in allowed:
            assert resp.status_code == 302, (name, role)
        else:
            assert resp.status_code == 403, (name, role)
    changed = Approval.objects.get(pk=w.approval.pk).status != "waiting"
    assert changed == (role in LEAD_OK)


def _api(w, role):
    user = _user(w, role)
    if user is None:
        return Client()
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user, 't')}")


def post(c, url, body):
    return c.post(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("role", ROLES)
def test_every_support_endpoint_checks_the_role(w, role):
    c = _api(w, role)
    case_url = f"/api/support/cases/{w.case.pk}"
    got = {
        "list": c.get("/api/support/cases").status_code,
        "get": c.get(case_url).status_code,
        "say": post(c, f"{case_url}/interactions", {"kind": "chat", "body": "hi"}).status_code,
        "give": post(
            c, f"{case_url}/actions", {"kind": "credit", "amount": "1.00", "reason": "r"}
        ).status_code,
        "approvals": c.get("/api/support/approvals").status_code,
        "resend": post(
            c,
            f"{case_url}/resend-statement",
            {"statement_id": billing.issue_statement(w.alice).pk, "idempotency_key": role},
        ).status_code,
        "settle": post(c, f"{case_url}/own-disc/settle", {}).status_code,
        "own_disc": post(
            c, "/api/support/self-service/own-disc", {"choice": "credit", "description": role}
        ).status_code,
        "disc_problem": post(
            c, "/api/support/self-service/disc-problem", {"shipment_id": 0, "problem": "damaged"}
        ).status_code,
    }
    if role == "anonymous":
        assert set(got.values()) == {401}
        return
    assert got["list"] == (200 if role in AGENT_OK | {"member", "other_member"} else 403)
    assert got["get"] == (
        200 if role in AGENT_OK | {"member"} else 404 if role == "other_member" else 403
    )
    assert got["say"] == (
        201 if role in AGENT_OK | {"member"} else 404 if role == "other_member" else 403
    )
    assert got["give"] == (201 if role in AGENT_OK else 403)
    assert got["approvals"] == (200 if role in LEAD_OK else 403)
    assert got["resend"] == (201 if role in AGENT_OK else 403)
    assert got["settle"] == (404 if role in AGENT_OK else 403)  # not an own-disc case
    assert got["own_disc"] == (201 if role in ("member", "other_member") else 403)
    assert got["disc_problem"] == (404 if role in ("member", "other_member") else 403)


def test_members_never_see_internal_notes_or_others_cases(w):
    support.add_interaction(w.case, kind="note", body="secret", actor=w.staff["support_agent"])
    alice = _api(w, "member")
    body = alice.get(f"/api/support/cases/{w.case.pk}").json()
    assert all(i["kind"] != "note" for i in body["interactions"])
    bob = _api(w, "other_member")
    assert bob.get("/api/support/cases").json() == []
    assert (
        "secret"
        not in _client(w, "member")
        .get(reverse("my_case", kwargs={"case_id": w.case.pk}))
        .content.decode()
    )


def test_console_flow_find_open_give_and_approve(w):
    agent = _client(w, "support_agent")
    html = agent.get(reverse("support_console"), {"q": "alice@example.com"}).content.decode()
    assert reverse("support_member", kwargs={"member_id": w.alice.pk}) in html
    resp = agent.post(
        reverse("support_open_case", kwargs={"member_id": w.alice.pk}),
        {"subject": "Cracked disc", "reason": "damaged", "channel": "phone", "body": "On phone"},
    )
    case = Case.objects.get(subject="Cracked disc")
    assert resp["Location"] == reverse("support_case", kwargs={"case_id": case.pk})
    agent.post(
        reverse("support_case_do", kwargs={"case_id": case.pk}),
        {"do": "give", "kind": "credit", "amount": "16.99", "reason": "a month free", "key": "k"},
    )
    agent.post(  # the same form twice (double click): given once
        reverse("support_case_do", kwargs={"case_id": case.pk}),
        {"do": "give", "kind": "credit", "amount": "16.99", "reason": "a month free", "key": "k"},
    )
    assert Action.objects.filter(case=case).count() == 1
    resp = agent.post(
        reverse("support_case_do", kwargs={"case_id": case.pk}),
        {"do": "give", "kind": "credit", "amount": "5.00", "reason": "more", "key": "k2"},
        follow=True,
    )
    assert "sent to a lead" in resp.content.decode()
    waiting = Approval.objects.get(case=case)
    lead = _client(w, "support_lead")
    assert "more" in lead.get(reverse("support_approvals")).content.decode()
    lead.post(
        reverse("support_decide", kwargs={"approval_id": waiting.pk}), {"decision": "approve"}
    )
    assert Credit.objects.filter(member=w.alice, reason__contains=f"Case {case.pk}").count() == 2


def test_bad_console_input_is_a_clear_error(w):
    agent = _client(w, "support_agent")
    html = agent.get(reverse("support_console"), {"q": "RE0000000001"}).content.decode()
    assert "check digit" in html
    resp = agent.post(
        reverse("support_case_do", kwargs={"case_id": w.case.pk}),
        {"do": "give", "kind": "credit", "amount": "-3", "reason": "x"},
        follow=True,
    )
    assert "positive" in resp.content.decode()


def _sign(body: bytes, secret="s3cret"):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_call_webhook_is_signed_and_opens_the_record(w, settings, client):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SUPPORT_CTI_SECRET": "s3cret"}
    w.alice.phone = "12125550100"
    w.alice.save()
    body = b"event=newCall&from=%2B12125550100&to=18005550199&direction=in&callId=abc"
    bad = client.post(
        "/api/support/calls",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SIGNATURE=_sign(body, "wrong"),
    )
    assert bad.status_code == 403 and not Call.objects.exists()
    ok = client.post(
        "/api/support/calls",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SIGNATURE=_sign(body),
    )
    assert ok.status_code == 200 and ok.json()["member_id"] == w.alice.pk
    agent = _client(w, "support_agent")
    html = agent.get(reverse("support_ringing")).content.decode()
    assert "Ringing" in html and "open record" in html
    hang = json.dumps({"event": "hangup", "callId": "abc"}).encode()
    assert (
        client.post(
            "/api/support/calls",
            hang,
            content_type="application/json",
            HTTP_X_SIGNATURE=_sign(hang),
        ).status_code
        == 200
    )
    assert "No calls" in agent.get(reverse("support_ringing")).content.decode()


def test_member_writes_and_reports_from_the_site(w):
    member = _client(w, "member")
    resp = member.post(
        reverse("my_new_case"), {"subject": "Billing question", "body": "Why?", "reason": "billing"}
    )
    case = Case.objects.get(subject="Billing question")
    assert resp["Location"] == reverse("my_case", kwargs={"case_id": case.pk})
    member.post(reverse("my_case", kwargs={"case_id": case.pk}), {"body": "Also this"})
    assert case.interactions.count() == 2
    assert member.post(reverse("my_new_case"), {"subject": "", "body": ""}).status_code == 302
    assert not Case.objects.filter(subject="").exists()


def test_live_chat_between_member_and_agent(w, smtp, emails_at_once):
    member, agent = _client(w, "member"), _client(w, "support_agent")
    resp = member.post(reverse("chat_send"), {"body": "Is anyone there?"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200 and "Is anyone there?" in resp.content.decode()
    chat = support.current_chat(w.alice)
    assert chat.channel == "chat"
    assert f"#{chat.pk}" in agent.get(reverse("support_chats")).content.decode()
    agent.post(
        reverse("support_case_do", kwargs={"case_id": chat.pk}),
        {"do": "say", "kind": "chat", "body": "Yes, how can I help?"},
    )
    assert "No chats waiting" in agent.get(reverse("support_chats")).content.decode()
    assert "how can I help" in member.get(reverse("chat_panel")).content.decode()
    member.post(reverse("chat_send"), {"body": "Thanks!"}, HTTP_HX_REQUEST="true")
    assert chat.interactions.count() == 3  # the same chat goes on
    member.post(reverse("chat_transcript", kwargs={"case_id": chat.pk}))
    (mail,) = smtp.messages
    assert mail[0] == ["alice@example.com"] and "how can I help" in mail[2]
    support.set_status(chat, "closed", actor=w.staff["support_agent"])
    with pytest.raises(Conflict):
        support.add_interaction(chat, kind="chat", body="hello?", actor=w.alice.user)
    member.post(reverse("chat_send"), {"body": "New question"}, HTTP_HX_REQUEST="true")
    assert support.current_chat(w.alice).pk != chat.pk  # a closed chat is not reopened
    assert (
        _client(w, "other_member")
        .post(reverse("chat_transcript", kwargs={"case_id": chat.pk}))
        .status_code
        == 404
    )
