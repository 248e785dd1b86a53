"""Every state change of affiliates and announcements (the newsletter's are in newsletter.py):
one function each, atomic; money through the ledger; each review and payout with who and why.

Commission lifecycle (a daily job, `settle_commissions`, moves it from the records billing
already keeps, so billing never calls here):
  signup attributed to a partner  -> nothing owed yet
  the member's first payment succeeds -> Commission: accrued (affiliate expense / payable),
      `held` until the hold ends, or `review` when a fraud rule flags it
  hold over, no reversal          -> `payable`
  refund, chargeback, or left within the trial -> `reversed` (the accrual reversed; after a
      payout it is taken back on the partner's next statement)
  monthly close                   -> a PayoutStatement per partner (`statement`), paid by finance
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, connection, transaction

from redenvelope.accounts.roles import Role, has_role
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.ledger.actions import Line, post_entry
from redenvelope.ledger.money import from_cents

from . import attribution
from .models import (
    Announcement,
    Click,
    Commission,
    CommissionRule,
    Link,
    Partner,
    PayoutStatement,
    Signup,
)

FINANCE = (Role.FINANCE, Role.ADMIN)
CLICK_SALT = "redenvelope.growth.click"
VISITOR_SALT = "redenvelope.growth.visitor"


def _setting(name: str):
    return settings.REDENVELOPE[name]


def _need(actor, *roles) -> None:
    if actor is None or not has_role(actor, *roles):
        raise Forbidden("Your role does not allow this.")


# --------------------------------------------------------------------------- partners


@transaction.atomic
def create_partner(
    *,
    username: str,
    password: str,
    email: str,
    name: str,
    kind: str = Partner.Kind.INDIVIDUAL,
    street: str = "",
    zip_code: str = "",
    flat_cents: int = 2000,
    share_bp: int = 0,
    member_id: int | None = None,
) -> Partner:
    """A partner with their own sign-in (the partner role: their own figures only)."""
    from redenvelope.accounts.actions import ensure_roles

    if not (name or "").strip():
        raise DomainError("A partner needs a name.")
    if kind not in Partner.Kind.values:
        raise DomainError(f"A partner is one of: {', '.join(Partner.Kind.values)}.")
    if flat_cents < 0 or not 0 <= share_bp <= 10_000:
        raise DomainError("A commission is a flat amount of 0 or more, or a share of 0-100%.")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", code="username_taken")
    user = User.objects.create_user(username=username, password=password, email=email)
    user.groups.add(ensure_roles()[Role.PARTNER.value])
    return Partner.objects.create(
        user=user,
        name=name.strip(),
        kind=kind,
        street=street.strip(),
        zip_code=zip_code.strip(),
        flat_cents=int(flat_cents),
        share_bp=int(share_bp),
        member_id=member_id,
        created_at=clock.now(),
    )


@transaction.atomic
def set_rule(partner: Partner, plan, *, flat_cents: int = 0, share_bp: int = 0) -> CommissionRule:
    if flat_cents < 0 or not 0 <= share_bp <= 10_000 or (flat_cents == 0 and share_bp == 0):
        raise DomainError("A rule pays a flat amount or a share of the first payment (0-100%).")
    rule, _ = CommissionRule.objects.update_or_create(
        partner=partner, plan=plan, defaults={"flat_cents": flat_cents, "share_bp": share_bp}
    )
    return rule


def note_partner_device(partner: Partner, visitor: str) -> None:
    """Remember a device the partner used (self-referral is checked against them)."""
    if not visitor:
        return
    with transaction.atomic():
        p = Partner.objects.select_for_update().get(pk=partner.pk)
        seen = [d for d in p.devices.split(",") if d]
        if visitor not in seen:
            p.devices = ",".join([visitor, *seen][:20])
            p.save(update_fields=["devices"])


@transaction.atomic
def create_link(partner: Partner, *, code: str = "", name: str = "", destination: str = "/join/"):
    code = (code or secrets.token_urlsafe(6)).strip().lower()
    if not destination.startswith("/") or destination.startswith("//"):
        raise DomainError("A link leads to a page of this site (a path such as /join/).")
    if Link.objects.filter(code=code).exists():
        raise Conflict(f"The link code {code!r} is taken.", code="link_taken")
    from django.utils.text import slugify

    if slugify(code) != code:
        raise DomainError("A link code is letters, digits and dashes.")
    return Link.objects.create(
        partner=partner, code=code, name=name, destination=destination, created_at=clock.now()
    )


# --------------------------------------------------------------------------- clicks


def new_visitor() -> str:
    return secrets.token_hex(16)


def visitor_cookie(visitor: str) -> str:
    return signing.Signer(salt=VISITOR_SALT).sign(visitor)


def read_visitor(value: str) -> str:
    """The visitor id in a cookie; '' when absent or forged."""
    if not value:
        return ""
    try:
        return signing.Signer(salt=VISITOR_SALT).unsign(value)
    except signing.BadSignature:
        return ""


def click_cookie(click: Click) -> str:
    return signing.TimestampSigner(salt=CLICK_SALT).sign(click.token)


def ip_hash(ip: str) -> str:
    return hashlib.sha256((settings.SECRET_KEY + "|" + (ip or "")).encode()).hexdigest()[:16]


@transaction.atomic
def record_click(code: str, *, visitor: str, ip: str = "") -> Click:
    """A visit through a tracked link. A click from an address that sent more than
    AFFILIATE_FLOOD_CLICKS in the last minute is kept but marked a flood (never credited)."""
    link = Link.objects.select_related("partner").filter(code=(code or "").lower()).first()
    if link is None or not link.partner.active:
        raise NotFound("That link is not one of ours.", code="unknown_link")
    now = clock.now()
    hashed = ip_hash(ip)
    recent = Click.objects.filter(ip_hash=hashed, at__gte=now - dt.timedelta(minutes=1)).count()
    return Click.objects.create(
        token=secrets.token_hex(12),
        link=link,
        partner_id=link.partner_id,
        visitor=visitor,
        at=now,
        ip_hash=hashed,
        flood=recent >= _setting("AFFILIATE_FLOOD_CLICKS"),
    )


# --------------------------------------------------------------------------- signups


def _read_click(value: str) -> tuple[str | None, str]:
    """(click token, note): the token in a click cookie, or why it is not one. How old the
    click is, is the attribution rule's to judge (on the business clock), not the cookie's."""
    if not value:
        return None, ""
    try:
        return signing.TimestampSigner(salt=CLICK_SALT).unsign(value), ""
    except signing.BadSignature:
        return None, "forged click id: not credited"


def record_signup(
    member, *, click: str = "", visitor: str = "", source: str = "", now=None
) -> Signup:
    """How a member who just joined came (in the joining transaction: the web's join view
    passes it to billing.sign_up). Idempotent: a member has one Signup."""
    now = now or clock.now()
    done = Signup.objects.filter(member_id=member.pk).first()
    if done is not None:
        return done
    token, note = _read_click(click)
    visitor = read_visitor(visitor)
    partner_id = click_id = None
    if token is not None:
        clicked = Click.objects.filter(token=token).first()
        if clicked is None:
            note = "forged click id: not credited"
        else:
            visitor = visitor or clicked.visitor
    if visitor and not note.startswith("forged"):
        rows = list(
            Click.objects.filter(visitor=visitor, at__lte=now)
            .order_by("at", "id")
            .values_list("id", "partner_id", "at", "flood")
        )
        if rows:
            at = np.array([int(r[2].timestamp()) for r in rows], np.int64)
            ok = np.array([not r[3] for r in rows])
            idx, why = attribution.attribute(
                np.zeros(len(rows), np.int64),
                at,
                np.zeros(1, np.int64),
                np.array([int(now.timestamp())], np.int64),
                window_s=_setting("AFFILIATE_WINDOW_DAYS") * 86400,
                mode=_setting("AFFILIATE_ATTRIBUTION"),
                click_ok=ok,
            )
            if why[0] == attribution.CREDITED:
                click_id, partner_id = rows[idx[0]][0], rows[idx[0]][1]
                note = ""
            elif why[0] == attribution.EXPIRED:
                note = "click expired (older than the attribution window)"
            elif not ok.all():
                note = "only flood clicks: not credited"
    kind = Signup.Source.AFFILIATE if partner_id else (source or Signup.Source.DIRECT)
    try:
        with transaction.atomic():
            return Signup.objects.create(
                member_id=member.pk,
                at=now,
                source=kind,
                partner_id=partner_id,
                click_id=click_id,
                visitor=visitor,
                note=note[:200],
            )
    except IntegrityError:  # recorded a moment ago
        return Signup.objects.get(member_id=member.pk)


def attribute_events(clicks: dict, signups: dict, *, progress=None) -> dict:
    """Attribute a batch of events in bulk (a network's log, an import, the benchmark): `clicks`
    has columns token, link_id, partner_id, visitor, at (epoch seconds), ip_hash; `signups`
    has member_id, visitor, at. Clicks are written, floods marked, each signup credited by the
    same rule as one at a time, and written (members already recorded are left as they are).
    Returns counts."""
    from redenvelope.core.bulk import copy_arrays, execute, is_postgres, new_ids, temp_table

    n_clicks = len(clicks["token"])
    cv, sv = attribution.codes(clicks["visitor"], signups["visitor"])
    cat = np.asarray(clicks["at"], np.int64)
    sat = np.asarray(signups["at"], np.int64)
    _, ips = np.unique(np.asarray(clicks["ip_hash"], dtype=object).astype(str), return_inverse=True)
    flood = attribution.floods(ips, cat, _setting("AFFILIATE_FLOOD_CLICKS"))
    idx, why = attribution.attribute(
        cv, cat, sv, sat,
        window_s=_setting("AFFILIATE_WINDOW_DAYS") * 86400,
        mode=_setting("AFFILIATE_ATTRIBUTION"),
        click_ok=~flood,
    )  # fmt: skip
    if progress:
        progress("attributed")
    ids = new_ids("growth_click", n_clicks)

    def stamps(seconds):
        """Epoch seconds as the database's timestamp text (as `db_timestamp`), vectorised."""
        text = np.datetime_as_string(
            np.asarray(seconds, np.int64).astype("datetime64[s]").astype("datetime64[us]"),
            unit="us",
        )
        text = np.char.replace(text, "T", " ")
        return np.char.add(text, "+00:00").tolist() if is_postgres() else text.tolist()

    with transaction.atomic():
        copy_arrays(
            "growth_click",
            {
                "id": ids,
                "token": list(clicks["token"]),
                "link_id": np.asarray(clicks["link_id"], np.int64),
                "partner_id": np.asarray(clicks["partner_id"], np.int64),
                "visitor": list(clicks["visitor"]),
                "at": stamps(cat),
                "ip_hash": list(clicks["ip_hash"]),
                "flood": flood,
            },
        )
        credited = idx >= 0
        partner = np.where(credited, np.asarray(clicks["partner_id"], np.int64)[idx], -1)
        click_id = np.where(credited, ids[idx], -1)
        notes = np.array(["", "", "click expired (older than the attribution window)"])[why]
        temp_table(
            "growth_new_signup",
            "member_id bigint, at varchar(40), source varchar(10), partner_id bigint, "
            "click_id bigint, visitor varchar(32), note varchar(200)",
            {
                "member_id": np.asarray(signups["member_id"], np.int64),
                "at": stamps(sat),
                "source": np.where(credited, "affiliate", "direct").tolist(),
                "partner_id": partner,
                "click_id": click_id,
                "visitor": list(signups["visitor"]),
                "note": notes.tolist(),
            },
        )
        at = "CAST(at AS timestamptz)" if is_postgres() else "at"
        written = execute(
            "INSERT INTO growth_signup (member_id, at, source, partner_id, click_id, visitor, "  # noqa: S608
            f"device, note) SELECT member_id, {at}, source, "
            "CASE WHEN partner_id < 0 THEN NULL ELSE partner_id END, "
            "CASE WHEN click_id < 0 THEN NULL ELSE click_id END, visitor, '', note "
            "FROM growth_new_signup WHERE true ON CONFLICT (member_id) DO NOTHING"
        )
    return {
        "clicks": n_clicks,
        "floods": int(flood.sum()),
        "signups": len(sat),
        "credited": int(credited.sum()),
        "expired": int((why == attribution.EXPIRED).sum()),
        "written": written,
    }


# --------------------------------------------------------------------------- commissions


def _amount(partner: Partner, plan_id: int, paid_cents: int, rules: dict) -> int:
    rule = rules.get((partner.pk, plan_id))
    flat, share = (
        (rule.flat_cents, rule.share_bp) if rule else (partner.flat_cents, partner.share_bp)
    )
    # one rounding rule: half up, on whole cents
    return int(flat) + (int(paid_cents) * int(share) + 5000) // 10000


def fraud_flags(signup: Signup, partner: Partner, member, partner_member, cards: dict) -> list[str]:
    """The rules that hold a commission for review (each a short code, shown with its reason)."""
    flags = []
    mine = cards.get(member.pk, set())
    if partner_member is not None and mine & cards.get(partner_member.pk, set()):
        flags.append("self_card")
    addr = (member.street.strip().lower(), member.zip_code[:5])
    partner_addrs = {(partner.street.strip().lower(), partner.zip_code[:5])}
    if partner_member is not None:
        partner_addrs.add((partner_member.street.strip().lower(), partner_member.zip_code[:5]))
    if addr in partner_addrs and addr[0]:
        flags.append("self_address")
    devices = {d for d in partner.devices.split(",") if d}
    if signup.visitor and signup.visitor in devices:
        flags.append("self_device")
    others = cards.get(("shared", member.pk), 0)
    if others >= _setting("AFFILIATE_SIGNUPS_PER_CARD"):
        flags.append("card_reused")
    domain = member.user.email.rpartition("@")[2].lower()
    if domain in _setting("DISPOSABLE_EMAIL_DOMAINS"):
        flags.append("disposable_email")
    if signup.click_id:
        click = Click.objects.filter(pk=signup.click_id).first()
        if (
            click is not None
            and Click.objects.filter(
                ip_hash=click.ip_hash,
                flood=True,
                at__gte=click.at - dt.timedelta(hours=1),
                at__lte=click.at + dt.timedelta(hours=1),
            ).exists()
        ):
            flags.append("click_flood")
    return flags


FLAG_TEXT = {
    "self_card": "the member pays with a card of the partner's own account",
    "self_address": "the member lives at the partner's address",
    "self_device": "the member joined on a device the partner uses",
    "card_reused": "the member's card is on other members' accounts too",
    "disposable_email": "a throw-away email domain",
    "click_flood": "the click came from an address flooding clicks",
}


def _cards(member_ids: list[int]) -> dict:
    from redenvelope.billing.models import PaymentMethod

    tokens: dict = {}
    for mid, tok in PaymentMethod.objects.filter(member_id__in=member_ids).values_list(
        "member_id", "token"
    ):
        tokens.setdefault(mid, set()).add(tok)
    every = {t for s in tokens.values() for t in s}
    holders: dict = {}
    for mid, tok in PaymentMethod.objects.filter(token__in=every).values_list("member_id", "token"):
        holders.setdefault(tok, set()).add(mid)
    for mid, toks in list(tokens.items()):
        if isinstance(mid, int):
            tokens[("shared", mid)] = len(set().union(*(holders[t] for t in toks)) - {mid})
    return tokens


def _post(kind, debit: str, credit: str, cents: int, memo: str, key: str, actor=None, day=None):
    return post_entry(
        kind,
        [Line(debit, debit=from_cents(cents)), Line(credit, credit=from_cents(cents))],
        memo=memo[:300],
        effective_date=day or clock.today(),
        actor=actor,
        idempotency_key=key,
    )


def settle_commissions(day: dt.date | None = None) -> dict:
    """The daily job: earn, release and reverse commissions from what billing recorded.
    Safe to run again for the same day (each step keyed by its commission)."""
    from redenvelope.billing.models import Payment
    from redenvelope.membership.models import Member

    day = day or clock.today()
    out = {"earned": 0, "review": 0, "released": 0, "reversed": 0}
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    # Only referred members who have paid and have no commission yet: one query, however
    # many referrals never paid.
    with connection.cursor() as cur:
        cur.execute(
            "SELECT s.member_id FROM growth_signup s WHERE s.partner_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM growth_commission c WHERE c.member_id = s.member_id) "
            "AND EXISTS (SELECT 1 FROM billing_payment p WHERE p.member_id = s.member_id "
            "AND p.status = 'succeeded' AND p.attempted_at < %s)",
            [end],
        )
        due = [r[0] for r in cur.fetchall()]
    pending = list(Signup.objects.filter(member_id__in=due).order_by("member_id"))
    firsts: dict[int, Payment] = {}
    for p in Payment.objects.filter(
        member_id__in=due, status="succeeded", attempted_at__lt=end
    ).order_by("attempted_at", "id"):
        firsts.setdefault(p.member_id, p)
    members = Member.objects.select_related("user").in_bulk([s.member_id for s in pending])
    partners = Partner.objects.in_bulk({s.partner_id for s in pending})
    partner_members = Member.objects.in_bulk(
        [p.member_id for p in partners.values() if p.member_id]
    )
    rules = {(r.partner_id, r.plan_id): r for r in CommissionRule.objects.all()}
    cards = _cards(list(firsts) + list(partner_members))
    hold = dt.timedelta(days=_setting("AFFILIATE_HOLD_DAYS"))
    for s in pending:
        pay, member = firsts.get(s.member_id), members.get(s.member_id)
        if pay is None or member is None:
            continue
        partner = partners[s.partner_id]
        if pay.refunded or pay.charged_back_at:
            continue  # reversed before it was ever earned: never accrued
        cents = _amount(partner, member.plan_id, pay.amount, rules)
        flags = fraud_flags(s, partner, member, partner_members.get(partner.member_id), cards)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    c = Commission.objects.create(
                        member_id=s.member_id,
                        partner=partner,
                        plan_id=member.plan_id,
                        payment_id=pay.pk,
                        amount_cents=cents,
                        status=Commission.Status.REVIEW if flags else Commission.Status.HELD,
                        flags=",".join(flags),
                        earned_on=pay.attempted_at.date(),
                        payable_on=pay.attempted_at.date() + hold,
                    )
            except IntegrityError:
                continue  # earned by a run beside this one
            if cents:
                _post(
                    "commission", "5200", "2400", cents,
                    f"Affiliate commission: {partner.name}, member {s.member_id}",
                    f"commission:{c.pk}",
                )  # fmt: skip
        out["review" if flags else "earned"] += 1
    out["reversed"] = reverse_commissions(day)
    with transaction.atomic():
        out["released"] = Commission.objects.filter(
            status=Commission.Status.HELD, payable_on__lte=day
        ).update(status=Commission.Status.PAYABLE)
    return out


def reverse_commissions(day: dt.date) -> int:
    """Commissions whose member refunded, charged back, or left within the trial (within
    AFFILIATE_REVERSAL_DAYS of joining): reversed, the accrual undone; one already paid is taken
    back on the partner's next statement."""
    from redenvelope.billing.models import Payment, Refund
    from redenvelope.membership.models import Member

    limit = dt.timedelta(days=_setting("AFFILIATE_REVERSAL_DAYS"))
    # the members of commissions still standing, as a subquery (never a list in Python)
    live = Commission.objects.exclude(
        status__in=[Commission.Status.REVERSED, Commission.Status.REJECTED]
    ).values("member_id")
    events: list[tuple[int, dt.datetime, str]] = [
        (m, at, "the member was refunded")
        for m, at in Refund.objects.filter(payment__member_id__in=live).values_list(
            "payment__member_id", "created_at"
        )
    ] + [
        (m, at, "the member's payment was charged back")
        for m, at in Payment.objects.filter(
            member_id__in=live, charged_back_at__isnull=False
        ).values_list("member_id", "charged_back_at")
    ]
    signed = dict(
        Signup.objects.filter(member_id__in={m for m, _, _ in events}).values_list(
            "member_id", "at"
        )
    )
    reasons: dict[int, str] = {}
    for m, at, why in sorted(events, key=lambda e: e[1]):
        if m in signed and at - signed[m] <= limit:
            reasons.setdefault(m, why)
    for m in Member.objects.filter(
        pk__in=live, cancelled_at__isnull=False, trial_ends_on__isnull=False
    ).only("id", "cancelled_at", "trial_ends_on"):
        if m.cancelled_at.date() <= m.trial_ends_on:
            reasons.setdefault(m.pk, "the member left within the trial")
    by_member = {c.member_id: c for c in Commission.objects.filter(member_id__in=list(reasons))}
    n = 0
    for mid, why in sorted(reasons.items()):
        with transaction.atomic():
            c = Commission.objects.select_for_update().get(pk=by_member[mid].pk)
            if c.status in (Commission.Status.REVERSED, Commission.Status.REJECTED):
                continue
            was_paid = c.status in (Commission.Status.PAID, Commission.Status.STATEMENT)
            c.status = Commission.Status.REVERSED
            c.reversed_on = day
            c.reason = why + ("; taken back on the next statement" if was_paid else "")
            c.save(update_fields=["status", "reversed_on", "reason"])
            if c.amount_cents:
                _post(
                    "commission", "2400", "5200", c.amount_cents,
                    f"Affiliate commission reversed ({why}): member {mid}",
                    f"commission-reversal:{c.pk}",
                )  # fmt: skip
            n += 1
    return n


@transaction.atomic
def review_commission(commission: Commission, *, approve: bool, actor, why: str) -> Commission:
    """Finance decides a flagged commission: released (payable after its hold) or rejected
    (the accrual undone). Recorded with who and why."""
    _need(actor, *FINANCE)
    if not (why or "").strip():
        raise DomainError("Say why (it is kept with the decision).")
    c = Commission.objects.select_for_update().get(pk=commission.pk)
    if c.status != Commission.Status.REVIEW:
        raise Conflict("That commission is not waiting for review.", code="not_in_review")
    c.reviewed_by = actor
    c.reason = why.strip()[:300]
    if approve:
        c.status = (
            Commission.Status.PAYABLE if c.payable_on <= clock.today() else Commission.Status.HELD
        )
    else:
        c.status = Commission.Status.REJECTED
        if c.amount_cents:
            _post(
                "commission", "2400", "5200", c.amount_cents,
                f"Affiliate commission rejected in review: member {c.member_id} ({why})",
                f"commission-rejected:{c.pk}", actor=actor,
            )  # fmt: skip
    c.save(update_fields=["status", "reviewed_by", "reason"])
    return c


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


@transaction.atomic
def close_month(period: dt.date, *, actor=None) -> list[PayoutStatement]:
    """One payout statement per partner for the month: their payable commissions, less what was
    reversed after an earlier payout, plus an earlier statement's balance that could not be
    paid (nothing or less than nothing: brought forward). Closing a month again adds nothing
    (one statement per partner and month)."""
    if actor is not None:
        _need(actor, *FINANCE)
    period = month_start(period)
    if period >= month_start(clock.today()):
        raise DomainError("A month is closed once it is over.", code="month_open")
    made = []
    payable = Commission.objects.select_for_update().filter(
        status=Commission.Status.PAYABLE, statement__isnull=True
    )
    clawback = Commission.objects.select_for_update().filter(
        status=Commission.Status.REVERSED, statement__isnull=False, clawback_statement__isnull=True
    )
    owing = PayoutStatement.objects.select_for_update().filter(
        status=PayoutStatement.Status.OPEN, amount_cents__lte=0
    )
    partners = set(payable.values_list("partner_id", flat=True)) | set(
        clawback.values_list("partner_id", flat=True)
    )
    for pid in sorted(partners):
        if PayoutStatement.objects.filter(partner_id=pid, period=period).exists():
            continue
        mine = list(payable.filter(partner_id=pid))
        back = list(clawback.filter(partner_id=pid))
        earned = sum(c.amount_cents for c in mine)
        taken = sum(c.amount_cents for c in back)
        before = list(owing.filter(partner_id=pid))
        carried = sum(b.amount_cents for b in before)
        st = PayoutStatement.objects.create(
            partner_id=pid,
            period=period,
            amount_cents=earned - taken + carried,
            commissions=len(mine),
            clawback_cents=taken,
            carried_cents=carried,
            created_at=clock.now(),
        )
        PayoutStatement.objects.filter(pk__in=[b.pk for b in before]).update(
            status=PayoutStatement.Status.CARRIED
        )
        Commission.objects.filter(pk__in=[c.pk for c in mine]).update(
            statement=st, status=Commission.Status.STATEMENT
        )
        Commission.objects.filter(pk__in=[c.pk for c in back]).update(clawback_statement=st)
        made.append(st)
    return made


@transaction.atomic
def pay_statement(statement: PayoutStatement, *, actor, why: str = "monthly affiliate payout"):
    """Finance pays a statement: affiliate payable against cash. Paying it again is refused
    (nothing posted twice); a statement whose total is not positive carries to the next."""
    _need(actor, *FINANCE)
    st = PayoutStatement.objects.select_for_update().get(pk=statement.pk)
    if st.status == PayoutStatement.Status.PAID:
        raise Conflict(
            f"That statement was already paid on {st.paid_at:%Y-%m-%d}.", code="already_paid"
        )
    if st.amount_cents <= 0:
        raise DomainError(
            "Nothing to pay: what was taken back is at least what was earned.", code="nothing_due"
        )
    entry = _post(
        "payout", "2400", "1000", st.amount_cents,
        f"Affiliate payout {st.period:%Y-%m} to {st.partner.name}: {why}",
        f"payout:{st.pk}", actor=actor,
    )  # fmt: skip
    st.status = PayoutStatement.Status.PAID
    st.paid_at = clock.now()
    st.paid_by = actor
    st.entry_id = entry.pk
    st.save(update_fields=["status", "paid_at", "paid_by", "entry_id"])
    Commission.objects.filter(statement=st).update(status=Commission.Status.PAID)
    return st


# --------------------------------------------------------------------------- announcements


def announce_new_titles(*, since: dt.date, until: dt.date | None = None, actor: str = "") -> int:
    """Queue a post for each title released (or first streamable) in the span; one per title."""
    from redenvelope.catalog.models import Title

    until = until or clock.today()
    n = 0
    for t in Title.objects.filter(release_date__gte=since, release_date__lte=until).order_by(
        "release_date", "id"
    ):
        text = f"New on Red Envelope: {t.name} ({t.year}). Add it to your queue."
        _, made = Announcement.objects.get_or_create(
            kind=Announcement.Kind.NEW_TITLE,
            title_id=t.pk,
            defaults={
                "text": text[:280],
                "link": f"/catalog/{t.pk}/",
                "publish_at": dt.datetime.combine(t.release_date, dt.time(9), tzinfo=dt.UTC),
                "created_at": clock.now(),
                "created_by": actor,
            },
        )
        n += int(made)
    return n


@transaction.atomic
def announce(*, text: str, kind: str = Announcement.Kind.NEWS, link: str = "", publish_at=None,
             title_id=None, actor: str = "") -> Announcement:  # fmt: skip
    text = (text or "").strip()
    if not text or len(text) > 280:
        raise DomainError("A post is 1 to 280 characters.")
    if kind not in Announcement.Kind.values:
        raise DomainError(f"A post is one of: {', '.join(Announcement.Kind.values)}.")
    return Announcement.objects.create(
        kind=kind, text=text, link=link, title_id=title_id,
        publish_at=publish_at or clock.now(), created_at=clock.now(), created_by=actor,
    )  # fmt: skip
