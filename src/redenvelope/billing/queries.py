"""Reads the billing pages and the API share."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from redenvelope.membership.models import Member

from .models import Credit, Fee, Statement


def balance(member: Member) -> dict[str, Decimal]:
    """What the member owes now, their account credit, and fees waiting for the next statement."""
    owed = Statement.objects.filter(member=member, status__in=["due", "past_due"]).aggregate(
        t=Sum("total_due"), p=Sum("amount_paid")
    )
    credit = Credit.objects.filter(member=member, kind="account").aggregate(r=Sum("remaining"))
    fees = Fee.objects.filter(member=member, status="open").aggregate(a=Sum("amount"))
    zero = Decimal("0.00")
    return {
        "owed": (owed["t"] or zero) - (owed["p"] or zero),
        "credit": credit["r"] or zero,
        "open_fees": fees["a"] or zero,
    }
