"""Lost-disc fees are billing's: charged from fulfillment's records of the overdue sweep, waived
when the disc comes back; a member's own report of a disc that never arrived is not fined."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from redenvelope.billing.actions import daily_billing, settle_lost_discs
from redenvelope.billing.models import Fee
from redenvelope.checks import run_checks
from redenvelope.fulfillment.actions import mark_overdue_lost, report_problem, scan_return
from redenvelope.fulfillment.models import Shipment
from tests.billing.test_lifecycle import at
from tests.fulfillment.test_returns import out  # noqa: F401 (fixture)


def test_overdue_discs_are_fined_once_and_forgiven_when_found(out, settings):  # noqa: F811
    w = out
    a0, a1, b2 = w.out
    report_problem(w.alice, Shipment.objects.get(copy=a0).pk, "not_received")
    later = timezone.localdate() + dt.timedelta(days=61)
    with at(later):
        assert mark_overdue_lost(later, days=60) == 2  # Alice's Film 1 and Bob's Film 2
        assert not Fee.objects.exists()  # fulfillment charges nothing itself
        result = daily_billing(later)
    assert result["lost_discs"] == {"fees_charged": 2, "fees_waived": 0}
    assert sorted((f.member_id, f.copy_id) for f in Fee.objects.all()) == sorted(
        [(w.alice.pk, a1.pk), (w.bob.pk, b2.pk)]
    )
    assert {f.amount for f in Fee.objects.all()} == {Decimal("20.00")}
    with at(later):
        assert settle_lost_discs(later) == {"fees_charged": 0, "fees_waived": 0}  # once
        # Bob's disc turns up: the next day's billing forgives the fee.
        scan_return(b2.barcode, w.ewr)
    with at(later + dt.timedelta(days=1)):
        assert settle_lost_discs(later + dt.timedelta(days=1))["fees_waived"] == 1
    assert Fee.objects.get(copy=b2).status == "waived"
    assert Fee.objects.get(copy=a1).status != "waived"
    bad = [r for r in run_checks() if not r.ok]
    assert bad == [], bad
