"""Per-row shipping and returns: the door people click through. Bulk dispatch must leave the same
records (one shipped copy event, one open shipment, the title leaves the queue)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.bulk import copy_rows, db_timestamp
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.inventory import actions as inventory
from redenvelope.inventory.barcodes import parse_barcode
from redenvelope.inventory.bulk import append_copy_events
from redenvelope.inventory.models import Copy, CopyStatus, DistributionCenter, EventKind, Transit
from redenvelope.membership.actions import on_hold
from redenvelope.membership.models import SHIPPABLE_STATUSES, Member
from redenvelope.queues.actions import remove_from_queue
from redenvelope.queues.models import QueueEntry
from redenvelope.queues.queries import eligible_entries
from redenvelope.rights.queries import disc_allowed

from .models import Incident, ReturnScan, Shipment
from .notifications import queue_received_emails
from .queries import OVERDUE_NOTE, open_shipments
from .rules import billing_month_start, dc_capacity_on


@transaction.atomic
def ship_copy(member: Member, copy: Copy, *, actor=None) -> Shipment:
    """Pick a shelved copy and mail it to the member; it leaves their queue."""
    member = Member.objects.select_for_update().select_related("plan").get(pk=member.pk)
    copy = Copy.objects.select_for_update().select_related("title").get(pk=copy.pk)
    if member.status not in SHIPPABLE_STATUSES or member.blocked:
        raise DomainError(
            f"Nothing ships to a member who is {member.get_status_display().lower()}"
            + (" and blocked" if member.blocked else "")
            + "."
        )
    if on_hold(member):
        raise DomainError("The member is on a vacation hold.")
    out = list(open_shipments(member.pk).select_related("title"))
    if len(out) >= member.disc_limit:
        raise DomainError(
            f"The member already has {len(out)} discs out (limit {member.disc_limit})."
        )
    if copy.status != CopyStatus.ON_SHELF:
        raise Conflict(f"Copy {copy.barcode} is not on a shelf.")
    if not disc_allowed(copy.title_id):
        raise DomainError(f"{copy.title} is outside its disc-rental window: it cannot ship.")
    # The rules the daily dispatch applies (rules.py), for this one disc.
    today = clock.today()
    if dc_capacity_on(today, [copy.dc])[copy.dc_id] <= 0:
        raise DomainError(
            f"{copy.dc.name} is not shipping today (suspended, a shipping incident, or its "
            "daily capacity is used)."
        )
    limit = member.plan.monthly_disc_limit
    if limit:
        since = billing_month_start(member.billing_day, today)
        this_month = Shipment.objects.filter(member_id=member.pk, shipped_at__gte=since).count()
        if this_month >= limit:
            raise DomainError(
                f"The member has had {this_month} discs this billing month (limit {limit})."
            )
    eligible = {e.title_id for e in eligible_entries(member.pk, [s.title for s in out])}
    if copy.title_id not in eligible:
        raise DomainError(f"{copy.title} is not eligible to ship to this member now.")
    ref = f"member:{member.pk}"
    # One event, shelf to mail, as the daily run records it (inventory.models.TRANSITIONS).
    inventory.record_event(copy, EventKind.SHIPPED, actor=actor, ref=ref)
    bonus = len(out) + 1 > member.plan.discs_at_once and member.bonus_rentals > 0
    entry = QueueEntry.objects.filter(member_id=member.pk, title_id=copy.title_id).first()
    transit = Transit.objects.filter(dc_id=copy.dc_id, region_id=member.region_id).first()
    shipment = Shipment.objects.create(
        # its rank in the queue (positions keep order, not necessarily 1, 2, 3 ...)
        queue_position=QueueEntry.objects.filter(
            member_id=member.pk, position__lte=entry.position
        ).count()
        if entry
        else None,
        transit_days=transit.days if transit else None,
        member=member,
        copy=copy,
        title=copy.title,
        dc=copy.dc,
        shipped_at=clock.now(),
        bonus=bonus,
    )
    if QueueEntry.objects.filter(member_id=member.pk, title_id=copy.title_id).exists():
        remove_from_queue(member.pk, copy.title_id)
    if bonus:
        Member.objects.filter(pk=member.pk).update(bonus_rentals=F("bonus_rentals") - 1)
    return shipment


@transaction.atomic
def check_in_return(barcode: str, dc: DistributionCenter, *, actor=None) -> Shipment:
    """A returned disc checked in at a DC: closes its shipment and shelves it there. Raises when
    the disc is not out (the scan desk uses `scan_return`, which records every outcome)."""
    scan = scan_return(barcode, dc, actor=actor)
    if scan.outcome not in (ReturnScan.Outcome.RETURNED, ReturnScan.Outcome.WRONG_MEMBER):
        raise NotFound(scan.message, code=scan.outcome)
    return scan.shipment


@transaction.atomic
def scan_return(
    raw: str,
    dc: DistributionCenter,
    *,
    actor=None,
    damaged: bool = False,
    envelope_member: int | None = None,
    source: str = "desk",
    batch: str = "",
) -> ReturnScan:
    """Read one barcode at a DC's return desk and record what it did.

    A disc out with a member closes its shipment and goes on this DC's shelf (or is marked
    damaged); a disc reported lost is found and shelved. Everything else is set aside with its
    reason: an unreadable barcode, a disc that is not ours, a second scan of a disc already in,
    a disc that was not out. A disc from another member's envelope still closes its own
    shipment and is flagged. Two scans of the same disc at once run one after the other (the
    copy row is locked), so the second finds it already in.
    """
    now = clock.now()
    text = (raw or "").strip()[:64]

    def record(outcome, message, copy=None, shipment=None, member=None):
        return ReturnScan.objects.create(
            dc=dc,
            raw=text,
            copy=copy,
            shipment=shipment,
            outcome=outcome,
            message=message,
            source=source,
            batch=batch,
            actor=actor,
            scanned_at=now,
            member=member,
        )

    def not_ours(outcome, message):
        # A disc that is not ours in a member's envelope is that member's own disc, sent back
        # by mistake: kept aside under their number until they choose (through support).
        owner = Member.objects.filter(pk=envelope_member).first() if envelope_member else None
        if owner is None:
            return record(outcome, message)
        return record(
            ReturnScan.Outcome.MEMBERS_DISC,
            f"Not one of our discs: member {owner.pk}'s own. Put it in the members'-discs bin "
            f"labelled {owner.pk}; support will say whether to mail it back.",
            member=owner,
        )

    try:
        code = parse_barcode(text)
    except DomainError as exc:
        return not_ours(ReturnScan.Outcome.MALFORMED, exc.message)
    copy = Copy.objects.select_for_update().select_related("title").filter(barcode=code).first()
    if copy is None:
        return not_ours(
            ReturnScan.Outcome.UNKNOWN, f"{code} is not one of our discs: set it aside."
        )
    shipment = (
        Shipment.objects.select_for_update().filter(copy=copy, status=Shipment.Status.OPEN).first()
    )
    if shipment is None:
        if copy.status == CopyStatus.LOST:
            inventory.record_event(
                copy,
                EventKind.FOUND,
                dc=dc,
                actor=actor,
                ref="scan",
                note="came back after being reported lost",
            )
            lost = (
                Shipment.objects.filter(copy=copy, status=Shipment.Status.LOST)
                .order_by("-shipped_at")
                .first()
            )
            if damaged:
                inventory.record_event(copy, EventKind.DAMAGED, dc=dc, actor=actor, ref="scan")
            # Billing waives a lost-disc fee for a disc that came back (its daily run reads the
            # "found" event): fulfillment knows nothing of fees.
            return record(
                ReturnScan.Outcome.FOUND,
                f"{code} ({copy.title}) was lost and is back: shelved.",
                copy,
                lost,
            )
        recent = ReturnScan.objects.filter(copy=copy).order_by("-scanned_at").first()
        if (
            copy.status == CopyStatus.ON_SHELF
            and recent
            and recent.outcome
            in (
                ReturnScan.Outcome.RETURNED,
                ReturnScan.Outcome.FOUND,
                ReturnScan.Outcome.DUPLICATE,
                ReturnScan.Outcome.WRONG_MEMBER,
            )
        ):
            return record(
                ReturnScan.Outcome.DUPLICATE,
                f"{code} ({copy.title}) was already scanned in; nothing changed.",
                copy,
            )
        return record(
            ReturnScan.Outcome.NOT_OUT,
            f"{code} ({copy.title}) is {copy.get_status_display().lower()}, not out "
            "with a member: set it aside for a supervisor.",
            copy,
        )
    ref = f"shipment:{shipment.pk}"
    inventory.record_event(copy, EventKind.RETURNED, dc=dc, actor=actor, ref=ref)
    if damaged:
        inventory.record_event(
            copy, EventKind.DAMAGED, dc=dc, actor=actor, ref=ref, note="damaged on return"
        )
    Shipment.objects.filter(pk=shipment.pk).update(
        status=Shipment.Status.RETURNED, closed_at=now, returned_to=dc
    )
    shipment.refresh_from_db()
    queue_received_emails([shipment.pk])
    if envelope_member and envelope_member != shipment.member_id:
        return record(
            ReturnScan.Outcome.WRONG_MEMBER,
            f"{code} ({copy.title}) was sent to member {shipment.member_id} but came in "
            f"member {envelope_member}'s envelope: checked in, flagged for support.",
            copy,
            shipment,
        )
    if damaged:
        return record(
            ReturnScan.Outcome.DAMAGED,
            f"{code} ({copy.title}) returned damaged: put it in the damaged bin.",
            copy,
            shipment,
        )
    return record(
        ReturnScan.Outcome.RETURNED, f"{code} ({copy.title}) returned: shelve it.", copy, shipment
    )


@transaction.atomic
def dispose_members_disc(scan: ReturnScan | int, how: str, *, actor=None) -> ReturnScan:
    """Say what becomes of a member's own disc in the bin: mail it back, or keep it (the member
    took a credit for it: support's side). Called by support with the member's choice; saying
    the same thing twice changes nothing, a different thing after it was mailed is refused."""
    row = ReturnScan.objects.select_for_update().filter(pk=getattr(scan, "pk", scan)).first()
    if row is None or row.outcome != ReturnScan.Outcome.MEMBERS_DISC:
        raise NotFound("No such member's disc at a return desk.")
    D = ReturnScan.Disposition
    if how not in (D.MAIL_BACK, D.KEPT):
        raise DomainError("A member's disc is either mailed back or kept.")
    if row.disposition == how:
        return row
    if row.disposition:
        raise Conflict(f"That disc is already settled: {row.get_disposition_display().lower()}.")
    ReturnScan.objects.filter(pk=row.pk).update(disposition=how, disposed_at=clock.now())
    row.refresh_from_db()
    return row


@transaction.atomic
def mark_members_disc_mailed(
    scan: ReturnScan | int, dc: DistributionCenter, *, actor
) -> ReturnScan:
    """The desk mailed a member's own disc back to them."""
    row = (
        ReturnScan.objects.select_for_update()
        .filter(pk=getattr(scan, "pk", scan), outcome=ReturnScan.Outcome.MEMBERS_DISC, dc=dc)
        .first()
    )
    if row is None:
        raise NotFound("No such member's disc at this desk.")
    if row.disposition == ReturnScan.Disposition.MAILED:
        return row
    if row.disposition != ReturnScan.Disposition.MAIL_BACK:
        raise Conflict("The member has not asked for that disc back.")
    ReturnScan.objects.filter(pk=row.pk).update(
        disposition=ReturnScan.Disposition.MAILED, disposed_at=clock.now()
    )
    row.refresh_from_db()
    return row


class CsvError(DomainError):
    pass


@transaction.atomic
def import_scans_csv(text: str, dc: DistributionCenter, *, actor=None) -> list[ReturnScan]:
    """A CSV of scans (header `barcode`, optional `damaged` and `envelope_member`). A file that
    cannot be read as such changes nothing; unreadable barcodes inside it are set aside rows."""
    import csv
    import io
    import uuid

    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise CsvError(f"Not a CSV file: {exc}") from None
    if "barcode" not in fields:
        raise CsvError("The CSV needs a header row with a 'barcode' column.")
    rows = []
    for n, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        damaged = row.get("damaged", "").lower()
        if damaged not in ("", "0", "1", "yes", "no", "true", "false", "y", "n"):
            raise CsvError(f"Line {n}: damaged must be yes/no, not {row.get('damaged')!r}.")
        env = row.get("envelope_member", "")
        if env and not env.isdigit():
            raise CsvError(f"Line {n}: envelope_member must be a member number.")
        rows.append(
            (
                row.get("barcode", ""),
                damaged in ("1", "yes", "true", "y"),
                int(env) if env else None,
            )
        )
    if not rows:
        raise CsvError("The CSV has no scans.")
    batch = f"csv-{uuid.uuid4().hex[:12]}"
    return [
        scan_return(b, dc, actor=actor, damaged=d, envelope_member=e, source="csv", batch=batch)
        for b, d, e in rows
    ]


@transaction.atomic
def report_problem(member: Member, shipment_id: int, problem: str, *, actor=None) -> Shipment:
    """The member says a disc never arrived ('not_received'), arrived broken ('damaged') or
    another disc was in its sleeve ('wrong_disc'). The shipment closes, the copy is lost or
    damaged, and the member's slot opens."""
    shipment = (
        Shipment.objects.select_for_update()
        .select_related("copy")
        .filter(pk=shipment_id, member=member)
        .first()
    )
    if shipment is None:
        raise NotFound("You have no such disc out.")
    if shipment.status != Shipment.Status.OPEN:
        raise Conflict("That disc was already reported or returned.")
    if problem == "not_received":
        inventory.record_event(
            shipment.copy,
            EventKind.LOST,
            actor=actor,
            ref=f"shipment:{shipment.pk}",
            note="member: never arrived",
        )
        status = Shipment.Status.LOST
    elif problem == "damaged":
        inventory.record_event(
            shipment.copy,
            EventKind.DAMAGED,
            actor=actor,
            ref=f"shipment:{shipment.pk}",
            note="member: arrived damaged",
        )
        status = Shipment.Status.DAMAGED
    elif problem == "wrong_disc":
        # Another disc came in this one's sleeve: this copy never left the DC's hands as far as
        # the member knows, so it is lost until a scan finds it; what came is mailed back and
        # checked in on its own barcode.
        inventory.record_event(
            shipment.copy,
            EventKind.LOST,
            actor=actor,
            ref=f"shipment:{shipment.pk}",
            note="member: another disc came in its sleeve",
        )
        status = Shipment.Status.LOST
    else:
        raise DomainError(f"Unknown problem {problem!r}.")
    Shipment.objects.filter(pk=shipment.pk).update(status=status, closed_at=clock.now())
    shipment.refresh_from_db()
    return shipment


@transaction.atomic
def mark_overdue_lost(today: dt.date | None = None, days: int | None = None) -> int:
    """Discs out longer than the threshold become lost, set-wise; a later scan finds them."""
    today = today or clock.today()
    days = days if days is not None else settings.REDENVELOPE["LOST_AFTER_DAYS"]
    cutoff = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time()))
    overdue = list(
        Shipment.objects.select_for_update()
        .filter(status=Shipment.Status.OPEN, shipped_at__lt=cutoff)
        .values_list("id", "copy_id", "dc_id", "member_id")
    )
    if not overdue:
        return 0
    now = clock.now()
    ids = [s for s, _, _, _ in overdue]
    copies = [c for _, c, _, _ in overdue]
    for start in range(0, len(ids), 5000):
        Shipment.objects.filter(pk__in=ids[start : start + 5000]).update(
            status=Shipment.Status.LOST, closed_at=now
        )
        Copy.objects.filter(pk__in=copies[start : start + 5000], status=CopyStatus.SHIPPED).update(
            status=CopyStatus.LOST
        )
    at = db_timestamp(now)
    append_copy_events(
        (c, "lost", "shipped", "lost", d, at, None, f"shipment:{s}", f"{OVERDUE_NOTE}{days} days")
        for s, c, d, _ in overdue
    )
    # Billing charges the lost-disc fee from these records in its daily run (FEE_ON_OVERDUE_LOST).
    return len(overdue)


@transaction.atomic
def check_in_bulk(items: list[tuple[int, int, bool]], *, source: str = "sim") -> int:
    """Many returns at once (copy id, DC id, damaged), leaving the same records as `scan_return`
    does for each: the shipment closed, a returned (and damaged) event, the copy on that DC's
    shelf or damaged, and a ReturnScan. Copies not out with a member are skipped."""
    if not items:
        return 0
    want = {c: (d, dmg) for c, d, dmg in items}
    rows = list(
        Shipment.objects.select_for_update()
        .filter(status=Shipment.Status.OPEN, copy_id__in=list(want))
        .values_list("id", "copy_id", "copy__barcode")
    )
    if not rows:
        return 0
    now = clock.now()
    at = db_timestamp(now)
    events, scans = [], []
    by_state: dict[tuple[int, bool], list[int]] = {}
    for sid, cid, barcode in rows:
        dc, damaged = want[cid]
        by_state.setdefault((dc, damaged), []).append(cid)
        events.append((cid, "returned", "shipped", "on_shelf", dc, at, None, f"shipment:{sid}", ""))
        if damaged:
            events.append(
                (
                    cid,
                    "damaged",
                    "on_shelf",
                    "damaged",
                    dc,
                    at,
                    None,
                    f"shipment:{sid}",
                    "damaged on return",
                )
            )
        outcome = "damaged" if damaged else "returned"
        scans.append((dc, barcode, cid, sid, outcome, f"{barcode} {outcome}", source, "", None, at))
    for (dc, damaged), cids in by_state.items():
        for start in range(0, len(cids), 5000):
            chunk = cids[start : start + 5000]
            Shipment.objects.filter(copy_id__in=chunk, status=Shipment.Status.OPEN).update(
                status=Shipment.Status.RETURNED, closed_at=now, returned_to_id=dc
            )
            fields = {"status": CopyStatus.DAMAGED if damaged else CopyStatus.ON_SHELF, "dc_id": dc}
            if damaged:
                fields["condition"] = "damaged"
            Copy.objects.filter(pk__in=chunk).update(**fields)
    append_copy_events(events)
    copy_rows(
        "fulfillment_returnscan",
        [
            "dc_id",
            "raw",
            "copy_id",
            "shipment_id",
            "outcome",
            "message",
            "source",
            "batch",
            "actor_id",
            "scanned_at",
        ],
        scans,
    )
    queue_received_emails([sid for sid, _, _ in rows])
    return len(rows)


@transaction.atomic
def open_incident(
    dc: DistributionCenter,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str,
    *,
    kind: str = "shipping",
    actor=None,
    via: str = "web",
) -> Incident:
    """Operations records days a DC cannot ship (or receive). Dispatch gives it no capacity on
    those days, so its members are served from other DCs where transit allows, or wait; billing
    credits members against this record."""
    if ends_on <= starts_on:
        raise DomainError("An incident ends after it starts (the end day is not included).")
    if kind not in Incident.Kind.values:
        raise DomainError(f"Unknown incident kind {kind!r}.")
    if not (reason or "").strip():
        raise DomainError("Say what happened: the reason is shown to staff and to billing.")
    if Incident.objects.filter(dc=dc, starts_on__lt=ends_on, ends_on__gt=starts_on).exists():
        raise Conflict(f"{dc.code} already has an incident overlapping those days.")
    return Incident.objects.create(
        dc=dc,
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason.strip()[:300],
        created_by=actor,
        via=via[:60],
    )


# The first three entries of every queue, counted per title in one pass (a window over the
# queues, read in (member, position) order by its index); titles nobody has near the top count 0.
_DEMAND_SQL = """
INSERT INTO fulfillment_titledemand (title_id, copies, on_shelf, near_top, counted_at)
SELECT t.id, COALESCE(c.n, 0), COALESCE(c.shelf, 0), COALESCE(d.n, 0), %s
FROM catalog_title t LEFT JOIN (
    SELECT title_id, COUNT(*) AS n FROM (
        SELECT title_id, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY position) AS rn
        FROM queues_queueentry
    ) ranked WHERE rn <= 3 GROUP BY title_id
) d ON d.title_id = t.id LEFT JOIN (
    SELECT title_id, COUNT(*) AS n, SUM(CASE WHEN status = 'on_shelf' THEN 1 ELSE 0 END) AS shelf
    FROM inventory_copy WHERE status IN ('on_shelf', 'picked', 'shipped', 'in_transfer')
    GROUP BY title_id
) c ON c.title_id = t.id
"""


@transaction.atomic
def count_title_demand() -> int:
    """Count, for every title, its copies in circulation and on shelves and the members who
    have it near the top of their queue: what the availability estimates read (an hourly job;
    the demo builder and the simulator after their days). Returns how many were counted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM fulfillment_titledemand")
        cursor.execute(_DEMAND_SQL, [clock.now()])
        return cursor.rowcount
