"""Cases, compensation within limits and approvals, abuse flags, self-service, lookup, calls."""

from decimal import Decimal

import pytest

from redenvelope.billing.models import Credit
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.fulfillment.actions import ship_copy
from redenvelope.fulfillment.models import Shipment
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership import actions as membership
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry
from redenvelope.support import actions as support
from redenvelope.support.models import Action, Approval, Call, Case, Flag, Interaction
from redenvelope.support.queries import find_members


@pytest.fixture
def w(world):
    ensure_chart()
    return world


def _ship(w, member, title):
    queues.add_to_queue(member, title)
    return ship_copy(member, w.new_copy(title))


def _case(w, member=None, **kw):
    return support.open_case(
        member or w.alice,
        channel=kw.pop("channel", "phone"),
        subject=kw.pop("subject", "Disc never came"),
        body=kw.pop("body", "Called about it"),
        actor=kw.pop("actor", w.staff["support_agent"]),
        **kw,
    )


def test_case_records_every_interaction_in_order(w):
    agent = w.staff["support_agent"]
    case = support.open_case(
        w.alice, channel="chat", subject="Where is my disc?", body="Hello?", actor=w.alice.user
    )
    assert case.status == Case.Status.NEW and case.first_response_at is None
    support.add_interaction(case, kind="note", body="Checking the shipment", actor=agent)
    case.refresh_from_db()
    assert case.first_response_at is None  # a note is not a response
    support.add_interaction(case, kind="chat", body="It is on its way", actor=agent)
    support.add_interaction(case, kind="chat", body="Thanks", actor=w.alice.user)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN and case.first_response_at is not None
    kinds = list(case.interactions.values_list("kind", "from_member"))
    assert kinds == [("chat", True), ("note", False), ("chat", False), ("chat", True)]
    support.set_status(case, "resolved", actor=agent)
    support.set_status(case, "closed", actor=agent)
    with pytest.raises(Conflict):
        support.add_interaction(case, kind="chat", body="One more thing", actor=w.alice.user)
    with pytest.raises(Forbidden):  # another member cannot write on it
        support.add_interaction(case, kind="chat", body="hi", actor=w.bob.user)


def test_members_and_other_roles_cannot_act_as_agents(w):
    case = _case(w)
    for who in (w.bob.user, w.staff["warehouse"], w.staff["finance"]):
        with pytest.raises(Forbidden):
            support.compensate(case, "credit", amount="5.00", reason="sorry", actor=who)
        with pytest.raises(Forbidden):
            support.set_status(case, "resolved", actor=who)


def test_credit_within_limit_reaches_the_ledger_through_billing(w):
    agent = w.staff["support_agent"]
    case = _case(w)
    action = support.compensate(case, "credit", amount="16.99", reason="a month free", actor=agent)
    assert isinstance(action, Action)
    assert action.value == Decimal("16.99") and action.actor == agent
    assert action.credit.kind == Credit.Kind.ACCOUNT and action.credit.issuer == agent
    assert action.credit.entry is not None and trial_balance().balanced
    assert "a month free" in action.credit.reason and f"Case {case.pk}" in action.credit.reason
    assert case.interactions.filter(kind="system").exists()


def test_over_the_case_limit_waits_for_a_lead_who_approves(w):
    agent, lead = w.staff["support_agent"], w.staff["support_lead"]
    case = _case(w)
    support.compensate(case, "credit", amount="10.00", reason="late disc", actor=agent)
    asked = support.compensate(case, "credit", amount="10.00", reason="and again", actor=agent)
    assert isinstance(asked, Approval) and asked.status == Approval.Status.WAITING
    assert "over your" in asked.why_waiting
    assert Credit.objects.filter(member=w.alice).count() == 1  # nothing given yet
    with pytest.raises(Forbidden):
        support.decide(asked, approve=True, actor=agent)  # agents do not approve
    done = support.decide(asked, approve=True, actor=lead)
    assert done.status == Approval.Status.APPROVED
    assert done.action.approved_by == lead and done.action.actor == agent
    assert Credit.objects.filter(member=w.alice).count() == 2
    with pytest.raises(Conflict):
        support.decide(asked, approve=False, actor=lead, note="too late")


def test_lead_cannot_approve_own_request_and_rejection_needs_a_reason(w, settings):
    lead = w.staff["support_lead"]
    case = _case(w)
    asked = support.compensate(case, "credit", amount="80.00", reason="big mess", actor=lead)
    assert isinstance(asked, Approval)  # over a lead's three months of 16.99
    with pytest.raises(Forbidden):
        support.decide(asked, approve=True, actor=lead)
    with pytest.raises(DomainError):
        support.decide(asked, approve=False, actor=w.staff["admin"])
    support.decide(asked, approve=False, actor=w.staff["admin"], note="one month is enough")
    asked.refresh_from_db()
    assert asked.status == "rejected" and asked.action is None


def test_quarter_limit_counts_every_case(w, settings):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "SUPPORT_LIMITS": {"support_agent": {"case_months": 1, "quarter": "20.00"}},
    }
    agent = w.staff["support_agent"]
    one, two = _case(w), _case(w, subject="Another")
    assert isinstance(
        support.compensate(one, "credit", amount="15.00", reason="x", actor=agent), Action
    )
    asked = support.compensate(two, "credit", amount="6.00", reason="y", actor=agent)
    assert isinstance(asked, Approval) and "this quarter" in asked.why_waiting


@pytest.mark.parametrize(
    "kind,kw,message",
    [
        ("credit", {"amount": "-5"}, "positive"),
        ("credit", {"amount": "0"}, "positive"),
        ("credit", {"amount": "lots"}, "not an amount"),
        ("percent", {"percent": "150"}, "1 to 100"),
        ("bonus_rentals", {"rentals": "0"}, "1 to 20"),
        ("waive_fee", {"target": "fee:999"}, "No such fee"),
        ("mark_lost", {"target": "shipment:999"}, "no such disc"),
        ("teleport", {}, "Unknown action"),
    ],
)
def test_bad_requests_change_nothing(w, kind, kw, message):
    case = _case(w)
    with pytest.raises(DomainError, match=message):
        support.compensate(case, kind, reason="r", actor=w.staff["support_agent"], **kw)
    assert not Action.objects.exists() and not Approval.objects.exists()
    assert not Credit.objects.exists()


def test_double_click_gives_once(w):
    agent = w.staff["support_agent"]
    case = _case(w)
    a = support.compensate(
        case, "bonus_rentals", rentals=1, reason="sorry", actor=agent, idempotency_key="k1"
    )
    b = support.compensate(
        case, "bonus_rentals", rentals=1, reason="sorry", actor=agent, idempotency_key="k1"
    )
    assert a.pk == b.pk and Credit.objects.count() == 1
    w.alice.refresh_from_db()
    assert w.alice.bonus_rentals == 1


def test_cancelled_member_gets_nothing(w):
    case = _case(w)
    membership.cancel(w.alice, reason="moving")
    with pytest.raises(DomainError, match="cancelled"):
        support.compensate(
            case, "credit", amount="5.00", reason="r", actor=w.staff["support_agent"]
        )
    assert not Credit.objects.exists()


def test_mark_lost_and_replace(w):
    agent = w.staff["support_agent"]
    ship = _ship(w, w.alice, w.films[0])
    case = _case(w)
    support.compensate(case, "mark_lost", target=f"shipment:{ship.pk}", reason="r", actor=agent)
    support.compensate(case, "replace", target=f"shipment:{ship.pk}", reason="r", actor=agent)
    ship.refresh_from_db()
    assert ship.status == Shipment.Status.LOST
    top = QueueEntry.objects.filter(member_id=w.alice.pk).order_by("position").first()
    assert top.title_id == w.films[0].pk
    with pytest.raises(Conflict):  # not out any more
        support.compensate(case, "mark_lost", target=f"shipment:{ship.pk}", reason="r", actor=agent)


def test_lost_claims_raise_a_flag_and_the_next_report_goes_to_an_agent(w, settings):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "SUPPORT_RULES": {"lost_claims": {"count": 2, "days": 90}},
    }
    ships = [_ship(w, w.alice, w.films[i]) for i in range(3)]
    first = support.report_not_received(w.alice, ships[0].pk)
    assert first.status == Case.Status.RESOLVED and not Flag.objects.exists()
    support.report_not_received(w.alice, ships[1].pk)
    flag = Flag.objects.get(member=w.alice)
    assert flag.rule == "lost_claims" and flag.evidence["claims"] == 2
    third = support.report_not_received(w.alice, ships[2].pk)
    assert third.status == Case.Status.NEW  # waits for an agent
    assert support.report_not_received(w.alice, ships[2].pk).pk == third.pk  # double click
    ships[2].refresh_from_db()
    assert ships[2].status == Shipment.Status.OPEN  # nothing marked until a person looks
    w.alice.refresh_from_db()
    assert w.alice.status != "cancelled" and not w.alice.blocked  # no silent ban
    with pytest.raises(Forbidden):
        support.clear_flag(flag, actor=w.staff["support_agent"], reason="ok")
    support.clear_flag(flag, actor=w.staff["support_lead"], reason="spoke to the post office")
    assert not support.is_flagged(w.alice.pk)


def test_lookup_by_email_phone_name_and_barcode(w):
    w.alice.phone = "12125550100"
    w.alice.save()
    assert find_members("ALICE@example.com").members == [w.alice]
    assert find_members("(212) 555-0100").members == [w.alice]
    assert find_members("Ali").members == [w.alice]
    assert find_members("alice test").members == [w.alice]
    copy = _ship(w, w.bob, w.films[1]).copy
    assert find_members(copy.barcode).members == [w.bob]
    with pytest.raises(DomainError, match="check digit"):
        find_members("RE0000000001")  # bad check digit
    assert find_members("nobody@example.com").members == []


def test_name_lookup_reads_last_names_first_in_order_and_takes_wildcards_literally(w):
    from tests.members import join_member

    plan = w.alice.plan
    made = {}
    for username, first, last in [
        ("m1", "Zoe", "Smithers"),
        ("m2", "Adam", "smith"),
        ("m3", "Smitty", "Jones"),
        ("m4", "Ann", "Smith"),
        ("m5", "Pct", "100%_off"),
    ]:
        made[username] = join_member(username, plan, first_name=first, last_name=last)
    got = find_members("SMIT").members
    # last names in order of name (any case), then the member id; then first names
    assert got == [made["m2"], made["m4"], made["m1"], made["m3"]]
    assert find_members("smit", limit=2).members == [made["m2"], made["m4"]]
    assert find_members("ann smi").members == [made["m4"]]
    assert find_members("100%").members == [made["m5"]]  # % and _ are not wildcards
    assert find_members("1_0").members == []
    assert find_members("%").members == []


def test_call_events_open_the_callers_record_and_time_the_call(w):
    w.alice.phone = "12125550100"
    w.alice.save()
    call = support.call_event("newCall", "c-1", number="+1 212 555 0100")
    assert call.member == w.alice and call.answered_at is None
    assert support.call_event("newCall", "c-1", number="+1 212 555 0100").pk == call.pk
    support.call_event("answer", "c-1")
    case = support.log_call(call, actor=w.staff["support_agent"], note="Disc cracked")
    support.call_event("hangup", "c-1")
    call.refresh_from_db()
    assert call.case == case and call.duration_s is not None
    row = Interaction.objects.get(case=case, kind="call")
    assert row.duration_s == call.duration_s and row.call == call
    with pytest.raises(NotFound):
        support.call_event("hangup", "never-rang")
    with pytest.raises(DomainError):
        support.call_event("ring", "c-2")
    assert Call.objects.count() == 1


def test_rules_scan_all_members_and_raise_each_flag_once(w, settings):
    from redenvelope.billing.actions import add_payment_method

    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "SUPPORT_RULES": {"trials_per_card": {"count": 2}, "trials_per_address": {"count": 2}},
    }
    for m in (w.alice, w.bob):
        m.trial_ends_on = w.today
        m.street = "1 Main St"
        m.zip_code = "10001"
        m.save()
        add_payment_method(
            m, kind="card", number="4242424242424242", exp_month=12, exp_year=w.today.year + 2
        )
    assert support.scan_flags() == {"trials_per_card": 2, "trials_per_address": 2}
    assert support.scan_flags() == {"trials_per_card": 0, "trials_per_address": 0}
    flag = Flag.objects.get(member=w.bob, rule="trials_per_card")
    assert flag.evidence["members_on_card"] == 2 and flag.evidence["card"] == "4242"


def test_closing_for_abuse_needs_a_lead_a_reason_and_tells_the_member(w, smtp, emails_at_once):
    with pytest.raises(Forbidden):
        support.close_for_abuse(w.bob, actor=w.staff["support_agent"], reason="too many claims")
    with pytest.raises(DomainError):
        support.close_for_abuse(w.bob, actor=w.staff["support_lead"], reason="")
    assert not smtp.messages
    support.close_for_abuse(
        w.bob, actor=w.staff["support_lead"], reason="Twelve lost-disc claims in a month."
    )
    w.bob.refresh_from_db()
    assert w.bob.status == "cancelled"
    (mail,) = [m for m in smtp.messages if "has been closed" in m[1]]
    assert mail[0] == ["bob@example.com"] and "Twelve lost-disc claims" in mail[2]
    assert Flag.objects.get(member=w.bob, rule="closed_for_abuse").cleared_by is not None
    with pytest.raises(Conflict):
        support.close_for_abuse(w.bob, actor=w.staff["support_lead"], reason="Again, twice over.")
