"""Reads the growth pages share."""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from .models import Click, Commission, Link, Partner, PayoutStatement, Signup

LIVE = [Commission.Status.HELD, Commission.Status.REVIEW, Commission.Status.PAYABLE,
        Commission.Status.STATEMENT, Commission.Status.PAID]  # fmt: skip


def partner_figures(partner: Partner) -> dict:
    """A partner's clicks, signups, conversion, and what they earned, have held and were paid."""
    clicks = Click.objects.filter(partner_id=partner.pk)
    n_clicks = clicks.count()
    floods = clicks.filter(flood=True).count()
    signups = Signup.objects.filter(partner_id=partner.pk).count()
    money = Commission.objects.filter(partner=partner).aggregate(
        earned=Sum("amount_cents", filter=Q(status__in=LIVE)),
        held=Sum("amount_cents", filter=Q(status__in=["held", "review"])),
        review=Count("id", filter=Q(status="review")),
        payable=Sum("amount_cents", filter=Q(status__in=["payable", "statement"])),
        paid=Sum("amount_cents", filter=Q(status="paid")),
        reversed=Sum("amount_cents", filter=Q(status__in=["reversed", "rejected"])),
        paying=Count("id", filter=Q(status__in=LIVE)),
    )
    per_link = dict(clicks.values("link_id").annotate(n=Count("id")).values_list("link_id", "n"))
    links = [(link, per_link.get(link.pk, 0)) for link in Link.objects.filter(partner=partner)]
    return {
        "clicks": n_clicks,
        "floods": floods,
        "signups": signups,
        "conversion": (100.0 * signups / n_clicks) if n_clicks else None,
        "paying": money["paying"] or 0,
        "earned": money["earned"] or 0,
        "held": money["held"] or 0,
        "review": money["review"] or 0,
        "payable": money["payable"] or 0,
        "paid": money["paid"] or 0,
        "reversed": money["reversed"] or 0,
        "links": links,
        "commissions": Commission.objects.filter(partner=partner).order_by("-earned_on", "-id")[
            :50
        ],
        "statements": PayoutStatement.objects.filter(partner=partner)[:24],
    }
