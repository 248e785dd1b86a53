"""The demo's customer service: help articles, cases on every channel (a call through the
telephony events, an email through the mail intake, a chat, a web form), a member flagged by the
lost-claims rule, and a credit over an agent's limit waiting for a lead. Everything goes through
the support actions, as the console would; run once after the demo's days are simulated."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count

from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.models import Shipment
from redenvelope.membership.models import Member
from redenvelope.support import actions as support
from redenvelope.support.mail import receive
from redenvelope.support.models import Approval, Article, Call, Case, Flag

ARTICLES = [
    (
        "A disc never arrived",
        "Sorry! On **your queue** page, next to the disc, choose *Never arrived*. We mark it "
        "lost without charge and the same title goes back to the top of your queue, so it ships "
        "again in the next run.\n\nIf it turns up later, just mail it back.",
    ),
    (
        "A disc arrived cracked or won't play",
        "Choose *Arrived damaged* next to the disc on your queue page. There is no charge; a "
        "good copy ships first in the next dispatch run.",
    ),
    (
        "I mailed back my own disc by mistake",
        "It happens. Write to us (chat, email or the form under *Help*): our warehouse sets the "
        "disc aside when it arrives. You choose: we mail it back, or we credit its value.",
    ),
    (
        "Pausing for a vacation",
        "On your **account** page choose *Pause*, with the dates. Nothing ships while you are "
        "away and your queue stays as it is.",
    ),
    (
        "My queue looks different / I lost my queue",
        "Under *Help* choose *Put your queue back* and the day it was right: your queue comes "
        "back exactly as it was at the end of that day.",
    ),
    (
        "Changing or cancelling your plan",
        "On your **account** page: a bigger plan starts at once (you pay the difference for the "
        "rest of the month); a smaller one from your next billing day. Cancelling keeps your "
        "queue for two years if you come back.",
    ),
]


def seed_support() -> dict:
    User = get_user_model()
    agent = User.objects.filter(groups__name="support_agent").order_by("pk").first()
    lead = User.objects.filter(groups__name="support_lead").order_by("pk").first()
    if agent is None or lead is None:
        raise DomainError("The demo's support staff are missing: build the demo first.")
    made = {"articles": 0}
    for title, body in ARTICLES:
        if not Article.objects.filter(title=title).exists():
            support.save_article(actor=agent, title=title, body=body)
            made["articles"] += 1
    members = list(
        Member.objects.filter(status__in=["active", "trial"])
        .select_related("user", "plan")
        .order_by("pk")[:12]
    )
    if len(members) < 6:
        return made
    demo, m1, m2, m3, m4, *rest = members
    # phone: the telephony events, the agent logs the call on a new case
    m1.phone = m1.phone or f"1212555{m1.pk % 10000:04d}"
    m1.save(update_fields=["phone"])
    support.call_event("newCall", f"demo-call-{m1.pk}", number=m1.phone)
    support.call_event("answer", f"demo-call-{m1.pk}")
    call = Call.objects.get(call_id=f"demo-call-{m1.pk}")
    case = support.log_call(
        call,
        actor=agent,
        note="Asked how bonus rentals work.",
        reason="account",
        subject="Question about bonus rentals",
    )
    support.call_event("hangup", f"demo-call-{m1.pk}")
    support.compensate(case, "bonus_rentals", rentals=1, reason="welcome back", actor=agent)
    support.set_status(case, "resolved", actor=agent)
    # a ringing call, for the console's "Calls" panel
    demo.phone = demo.phone or "12125550100"
    demo.save(update_fields=["phone"])
    support.call_event("newCall", "demo-call-ringing", number=demo.phone)
    # email: through the mail intake, answered by the agent
    got = receive(
        f"From: {m2.user.email}\r\nTo: support@redenvelope.example\r\n"
        "Subject: Charged twice?\r\nMessage-ID: <demo-mail-1@example.com>\r\n\r\n"
        "My card shows two charges this month.\r\n".encode()
    )
    mail_case = Case.objects.get(pk=got.case_id)
    support.reply_by_email(
        mail_case, "One is a pending authorisation that drops off in a few days.", actor=agent
    )
    # chat: waiting in the agents' chat queue
    support.chat(m3, "Hi, can I change my plan mid-month?", actor=m3.user)
    # web form, still new
    support.open_case(
        m4,
        channel="web",
        subject="Disc skips at chapter 5",
        body="Film plays, then skips.",
        reason="damaged",
        actor=m4.user,
    )
    # a credit over an agent's limit: waits for a lead
    big = support.open_case(
        demo,
        channel="phone",
        subject="Three discs lost in a month",
        reason="not_received",
        body="Very unhappy.",
        actor=agent,
    )
    got = support.compensate(
        big,
        "credit",
        amount=str(demo.plan.monthly_price * 2),
        reason="three lost discs",
        actor=agent,
    )
    made["approval_waiting"] = isinstance(got, Approval)
    # a member's own disc came back in their envelope: at the desk, they asked for a credit,
    # which waits for an agent to settle on the case; another's is in the bin, not claimed yet
    if rest:
        from redenvelope.fulfillment import actions as fulfillment
        from redenvelope.inventory.models import DistributionCenter

        dc = DistributionCenter.objects.order_by("pk").first()
        desk = User.objects.filter(groups__name="warehouse").order_by("pk").first()
        scan = fulfillment.scan_return(
            "0 78530 12345 6", dc, actor=desk, envelope_member=rest[0].pk
        )
        support.report_own_disc(
            rest[0],
            choice="credit",
            description="My own copy of Casablanca",
            scan_id=scan.pk,
            actor=rest[0].user,
        )
        if len(rest) > 1:
            fulfillment.scan_return("0 78530 99999 1", dc, actor=desk, envelope_member=rest[1].pk)
    # a member flagged by the lost-claims rule (their next lost report goes to an agent)
    flagged = _flag_someone([m.pk for m in (m1, m2, m3, m4, demo)])
    made["flagged"] = flagged
    made["cases"] = Case.objects.count()
    return made


def _flag_someone(taken) -> int | None:
    """A member with enough discs out reports that many as never arrived: the rule flags them."""
    rule = support._setting("SUPPORT_RULES", support.DEFAULT_RULES)["lost_claims"]["count"]
    most = (
        Shipment.objects.filter(status=Shipment.Status.OPEN, member__status="active")
        .exclude(member__in=taken)
        .values("member")
        .annotate(n=Count("pk"))
        .order_by("-n", "member")
        .first()
    )
    if most is None:
        return None
    member = Member.objects.select_related("user").get(pk=most["member"])
    for ship in Shipment.objects.filter(member=member, status="open").order_by("pk")[:rule]:
        support.report_disc(member, ship.pk, "not_received", actor=member.user)
    return member.pk if Flag.objects.filter(member=member, status="open").exists() else None
