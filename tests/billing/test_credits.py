import threading
from decimal import Decimal

import pytest
from django.db import connection

from redenvelope.billing.actions import issue_credit
from redenvelope.billing.models import Credit
from redenvelope.core.errors import DomainError, Forbidden
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.models import JournalEntry
from redenvelope.ledger.queries import trial_balance


@pytest.fixture
def books(world):
    ensure_chart()
    return world


def test_credit_posts_to_ledger_with_audit(books):
    agent = books.staff["support_agent"]
    credit = issue_credit(books.alice, "15.00", reason="mailed back by mistake", issuer=agent)
    assert credit.issuer == agent and credit.remaining == Decimal("15.00")
    assert [(ln.account.code, ln.debit, ln.credit) for ln in credit.entry.lines.order_by("id")] == [
        ("4900", Decimal("15.00"), Decimal("0.00")),
        ("2200", Decimal("0.00"), Decimal("15.00")),
    ]
    assert credit.entry.actor == agent and credit.entry.member_id == books.alice.pk
    assert trial_balance().balanced


@pytest.mark.parametrize(
    "amount,who,error,message",
    [
        ("30.00", "support_agent", Forbidden, "over your limit of \\$25.00"),
        ("-5", "support_lead", DomainError, "positive"),
        ("0", "support_lead", DomainError, "positive"),
        ("150.00", "support_lead", Forbidden, "over your limit of \\$100.00"),
        ("5.00", "warehouse", Forbidden, "Only support, finance and admins"),
    ],
)
def test_bad_credits_post_nothing(books, amount, who, error, message):
    with pytest.raises(error, match=message):
        issue_credit(books.alice, amount, reason="goodwill", issuer=books.staff[who])
    assert not Credit.objects.exists() and not JournalEntry.objects.exists()


def test_reason_required_and_floats_refused(books):
    with pytest.raises(DomainError, match="reason"):
        issue_credit(books.alice, "5", reason=" ", issuer=books.staff["support_lead"])
    with pytest.raises(DomainError, match="float"):
        issue_credit(books.alice, 5.0, reason="x", issuer=books.staff["support_lead"])


def test_double_click_lands_once(books):
    lead = books.staff["support_lead"]
    first = issue_credit(books.alice, "20", reason="outage", issuer=lead, idempotency_key="k1")
    again = issue_credit(books.alice, "20", reason="outage", issuer=lead, idempotency_key="k1")
    assert first.pk == again.pk and Credit.objects.count() == 1
    assert JournalEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under load: PostgreSQL")
def test_two_staff_credit_the_same_member_at_once(world):
    ensure_chart()
    errors = []

    def give(user, key):
        try:
            issue_credit(
                world.alice, "10.00", reason="concurrent", issuer=user, idempotency_key=key
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=give, args=(world.staff[r], f"c-{r}"))
        for r in ("support_lead", "finance")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Credit.objects.filter(member=world.alice).count() == 2
    tb = trial_balance()
    assert tb.balanced and tb.debits == Decimal("20.00")
