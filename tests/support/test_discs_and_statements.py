"""The wrong disc in an envelope, a member's own disc mailed back (matched at the return desk;
mail it back or a credit), and a statement resent from a case."""

from decimal import Decimal

import pytest

from redenvelope.billing import actions as billing
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.core.models import OutboundEmail
from redenvelope.fulfillment import actions as fulfillment
from redenvelope.fulfillment.actions import ship_copy
from redenvelope.fulfillment.models import ReturnScan, Shipment
from redenvelope.inventory.models import CopyStatus
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.queries import trial_balance
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry
from redenvelope.support import actions as support
from redenvelope.support.models import Action, Case, Flag, OwnDisc


@pytest.fixture
def w(world):
    ensure_chart()
    return world


def _ship(w, member, title):
    queues.add_to_queue(member, title)
    return ship_copy(member, w.new_copy(title))


def _own_disc_scan(w, member, raw="0 12345 67890 5"):
    """A disc that is not ours, scanned with the envelope's member number."""
    return fulfillment.scan_return(
        raw, w.ewr, actor=w.staff["warehouse"], envelope_member=member.pk
    )


def test_wrong_disc_in_the_sleeve_is_put_right_on_the_spot(w):
    ship = _ship(w, w.alice, w.films[0])
    case = support.report_disc(w.alice, ship.pk, "wrong_disc", actor=w.alice.user)
    assert case.reason == "wrong_disc" and case.status == Case.Status.RESOLVED
    ship.refresh_from_db()
    ship.copy.refresh_from_db()
    # our copy is lost until a scan finds it; no fee for the member; the title ships again
    assert ship.status == Shipment.Status.LOST and ship.copy.status == CopyStatus.LOST
    assert QueueEntry.objects.get(member_id=w.alice.pk, title=w.films[0]).position == 1
    assert "mail back the disc that came" in case.interactions.last().body
    with pytest.raises(Conflict):  # reported twice
        support.report_disc(w.alice, ship.pk, "wrong_disc", actor=w.alice.user)
    # the copy turns up at the desk later: found and shelved
    scan = fulfillment.scan_return(ship.copy.barcode, w.ewr)
    assert scan.outcome == ReturnScan.Outcome.FOUND


def test_a_disc_not_ours_without_an_envelope_number_is_only_set_aside(w):
    scan = fulfillment.scan_return("0 12345 67890 5", w.ewr)
    assert scan.outcome in (ReturnScan.Outcome.UNKNOWN, ReturnScan.Outcome.MALFORMED)
    assert scan.member_id is None
    unknown_member = fulfillment.scan_return("0 12345 67890 5", w.ewr, envelope_member=999999)
    assert unknown_member.member_id is None and unknown_member.is_problem


def test_own_disc_reported_first_then_matched_at_the_desk_and_mailed_back(w):
    case = support.report_own_disc(
        w.alice, choice="mail_back", description="My Casablanca DVD", actor=w.alice.user
    )
    assert case.reason == "own_disc" and case.status == Case.Status.OPEN
    again = support.report_own_disc(
        w.alice, choice="mail_back", description="My  Casablanca DVD", actor=w.alice.user
    )
    assert again.pk == case.pk  # a double click is the same case
    assert support.match_own_discs() == 0  # nothing at a desk yet

    scan = _own_disc_scan(w, w.alice)
    assert scan.outcome == ReturnScan.Outcome.MEMBERS_DISC and scan.member_id == w.alice.pk
    assert "members'-discs bin" in scan.message
    assert support.match_own_discs() == 1
    assert support.match_own_discs() == 0  # matched once
    case.refresh_from_db()
    scan.refresh_from_db()
    own = OwnDisc.objects.get(case=case)
    assert own.scan_id == scan.pk and own.settled_at is not None
    assert case.status == Case.Status.RESOLVED
    assert scan.disposition == ReturnScan.Disposition.MAIL_BACK
    # the desk mails it and records it; twice is once
    fulfillment.mark_members_disc_mailed(scan, w.ewr, actor=w.staff["warehouse"])
    fulfillment.mark_members_disc_mailed(scan, w.ewr, actor=w.staff["warehouse"])
    scan.refresh_from_db()
    assert scan.disposition == ReturnScan.Disposition.MAILED
    with pytest.raises(Conflict):  # mailed: cannot become kept
        fulfillment.dispose_members_disc(scan, "kept")


def test_own_disc_at_the_desk_first_then_the_member_takes_a_credit(w):
    scan = _own_disc_scan(w, w.alice)
    from redenvelope.support.queries import members_discs_waiting

    assert [s.pk for s in members_discs_waiting(w.alice.pk)] == [scan.pk]
    assert members_discs_waiting(w.bob.pk) == []
    with pytest.raises(NotFound):  # not Bob's disc
        support.report_own_disc(w.bob, choice="credit", scan_id=scan.pk, actor=w.bob.user)
    case = support.report_own_disc(w.alice, choice="credit", scan_id=scan.pk, actor=w.alice.user)
    own = OwnDisc.objects.get(case=case)
    assert own.scan_id == scan.pk and own.settled_at is None  # a credit needs an agent
    assert members_discs_waiting(w.alice.pk) == []
    with pytest.raises(Forbidden):
        support.settle_own_disc(case, actor=w.staff["warehouse"])
    agent = w.staff["support_agent"]
    support.settle_own_disc(case, actor=agent)
    support.settle_own_disc(case, actor=agent)  # twice: once
    action = Action.objects.get(case=case)
    assert action.kind == "credit" and action.amount == Decimal("10.00") and action.actor == agent
    case.refresh_from_db()
    scan.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    assert scan.disposition == ReturnScan.Disposition.KEPT
    assert trial_balance().balanced


def test_own_disc_bad_input_and_repeated_reports_raise_a_flag(w, settings):
    with pytest.raises(DomainError):
        support.report_own_disc(w.alice, choice="sell it", description="x", actor=w.alice.user)
    with pytest.raises(DomainError):
        support.report_own_disc(w.alice, choice="credit", description="  ", actor=w.alice.user)
    agent = w.staff["support_agent"]
    with pytest.raises(Conflict):  # nothing at a desk yet
        support.settle_own_disc(
            support.report_own_disc(
                w.alice, choice="credit", description="First", actor=w.alice.user
            ),
            actor=agent,
        )
    assert not Flag.objects.filter(member=w.alice).exists()
    support.report_own_disc(w.alice, choice="credit", description="Second", actor=w.alice.user)
    flag = Flag.objects.get(member=w.alice, status="open")
    assert flag.rule == "own_disc" and flag.evidence["own_disc_cases"] == 2


def test_resend_a_statement_from_a_case(w, settings):
    agent = w.staff["support_agent"]
    st = billing.issue_statement(w.alice)
    case = support.open_case(
        w.alice, channel="phone", subject="Lost my statement", body="call", actor=agent
    )
    support.resend_statement(case, st.pk, actor=agent, idempotency_key="k1")
    support.resend_statement(case, st.pk, actor=agent, idempotency_key="k1")  # double click
    sent = OutboundEmail.objects.filter(kind="statement_resend")
    assert sent.count() == 1 and sent[0].to == "alice@example.com"
    assert f"/billing/statements/{st.pk}.pdf" in sent[0].body
    assert case.interactions.filter(body__startswith=f"Statement {st.pk} resent").count() == 1
    bobs = billing.issue_statement(w.bob)
    with pytest.raises(NotFound):  # not this member's statement
        support.resend_statement(case, bobs.pk, actor=agent, idempotency_key="k2")
    with pytest.raises(Forbidden):
        support.resend_statement(case, st.pk, actor=w.alice.user, idempotency_key="k3")


def test_pages_own_disc_and_the_desks_bin(w, client):
    ship = _ship(w, w.alice, w.films[1])
    client.force_login(w.alice.user)
    r = client.post("/queue/report/", {"shipment": ship.pk, "problem": "wrong_disc"})
    assert r.status_code == 302
    assert Case.objects.filter(member=w.alice, reason="wrong_disc").exists()
    scan = _own_disc_scan(w, w.alice)
    page = client.get("/help/cases/")
    assert "A disc of yours" in page.content.decode()
    r = client.post("/help/own-disc/", {"scan": scan.pk, "choice": "mail_back"})
    assert r.status_code == 302
    scan.refresh_from_db()
    assert scan.disposition == ReturnScan.Disposition.MAIL_BACK
    client.force_login(w.staff["warehouse"])
    desk = client.get("/warehouse/returns/", {"dc": "EWR"}).content.decode()
    assert "Mailed back" in desk
    r = client.post(f"/warehouse/returns/members-discs/{scan.pk}/mailed/", {"dc": "EWR"})
    assert r.status_code == 302
    scan.refresh_from_db()
    assert scan.disposition == ReturnScan.Disposition.MAILED
    client.force_login(w.bob.user)  # a member cannot reach the desk
    r = client.post(f"/warehouse/returns/members-discs/{scan.pk}/mailed/", {"dc": "EWR"})
    assert r.status_code in (302, 403)
    scan.refresh_from_db()
    assert scan.disposition == ReturnScan.Disposition.MAILED
