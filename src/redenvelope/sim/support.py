"""Customer service in the simulator: members' problems arise from what happened to them, on each
channel in configurable shares, and simulated agents answer within policy through the same
actions the console uses (so limits, approvals, surveys and reports see real records).

- A disc lost in the mail that its member reports: by self-service on the site (marked lost at
  once, replacement queued) or by phone, email or chat to an agent, who marks it lost and puts
  the title back at the top of the queue, and sometimes adds a goodwill credit.
- A member whose payment failed (past due) asks about the bill at `billing_rate` a day; the
  agent answers and resolves it.
- A share of surveys are answered (scores lean high when the answer was quick).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.core.mail import message_id
from redenvelope.membership.models import Member
from redenvelope.support import actions as support
from redenvelope.support.mail import receive
from redenvelope.support.models import Case, Channel, Survey


@dataclass
class SupportRates:
    # how members with a lost disc get in touch (shares, summing to 1)
    channels: dict = field(
        default_factory=lambda: {"web": 0.5, "phone": 0.25, "email": 0.15, "chat": 0.10}
    )
    billing_rate: float = 0.05  # share of past-due members who ask about the bill, a day
    goodwill_credit: float = 0.3  # share of lost-disc cases with a goodwill credit
    survey_answer: float = 0.4  # share of surveys answered


def _agent():
    return (
        get_user_model()
        .objects.filter(groups__name="support_agent", is_active=True)
        .order_by("pk")
        .first()
    )


def lost_disc(member: Member, shipment_id: int, rng, rates: SupportRates) -> None:
    """A member reports a disc that never came, on a channel drawn from the shares."""
    names = list(rates.channels)
    channel = names[rng.choice(len(names), p=np.array([rates.channels[n] for n in names]))]
    agent = _agent()
    if channel == "web" or agent is None:
        support.report_disc(member, shipment_id, "not_received", actor=member.user)
        return
    now = clock.now()
    subject = "My disc never arrived"
    if channel == "email":
        got = receive(
            f"From: {member.user.email}\r\nTo: support@redenvelope.example\r\n"
            f"Subject: {subject}\r\nMessage-ID: {message_id(f'sim-mail:{shipment_id}')}\r\n\r\n"
            f"Shipment {shipment_id} has not come.\r\n".encode()
        )
        case = Case.objects.get(pk=got.case_id)
        case.reason = "not_received"
        case.save(update_fields=["reason"])
    else:
        case = support.open_case(
            member,
            channel=channel,
            subject=subject,
            body=f"Shipment {shipment_id} has not come.",
            reason="not_received",
            actor=member.user if channel == Channel.CHAT else agent,
        )
    minutes = {"phone": 0, "chat": 2, "email": 60 + int(rng.integers(0, 600))}[channel]
    with clock.frozen(now + dt.timedelta(minutes=minutes)):
        kind = {"phone": "call", "chat": "chat", "email": "chat"}[channel]
        if channel == "email":
            support.reply_by_email(case, "Sorry! A replacement is on its way.", actor=agent)
        else:
            support.add_interaction(case, kind=kind, body="Sorry! Sending another.", actor=agent)
        target = f"shipment:{shipment_id}"
        try:
            support.compensate(
                case, "mark_lost", target=target, reason="lost in the mail", actor=agent
            )
            support.compensate(
                case, "replace", target=target, reason="lost in the mail", actor=agent
            )
            if rng.random() < rates.goodwill_credit:
                price = member.plan.monthly_price
                support.compensate(
                    case, "credit", amount=str(min(price, 5)), reason="for the wait", actor=agent
                )
        except DomainError:
            pass  # e.g. the title already queued, the member cancelled meanwhile
        support.set_status(case, "resolved", actor=agent)


def day(day: dt.date, seed: int, rates: SupportRates) -> None:
    """The day's billing questions and survey answers (lost discs are reported as they happen)."""
    agent = _agent()
    rng = np.random.default_rng([seed, day.toordinal(), 11])
    if agent is not None:
        past_due = list(Member.objects.filter(status="past_due").select_related("user"))
        for member in past_due:
            if rng.random() >= rates.billing_rate:
                continue
            case = support.open_case(
                member,
                channel="phone",
                subject="Why did my payment fail?",
                body="Asked about the failed payment.",
                reason="billing",
                actor=agent,
            )
            support.set_status(case, "resolved", actor=agent)
    # each survey asked today is answered today or never
    for s in Survey.objects.filter(answered_at=None, asked_at__date=day).select_related("case"):
        if rng.random() < rates.survey_answer:
            quick = (s.case.first_response_at or s.asked_at) - s.case.opened_at
            good = quick <= dt.timedelta(hours=1)
            score = int(rng.choice([3, 4, 5] if good else [1, 2, 3, 4]))
            support.answer_survey(s.case_id, score, "")
