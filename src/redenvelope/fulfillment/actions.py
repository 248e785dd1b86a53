"""Per-row shipping and returns: the door people click through. Bulk dispatch must leave the same
records (copy events picked + shipped, one open shipment, the title leaves the queue)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.inventory import actions as inventory
from redenvelope.inventory.models import Copy, CopyStatus, DistributionCenter, EventKind
from redenvelope.membership.actions import on_hold
from redenvelope.membership.models import SHIPPABLE_STATUSES, Member
from redenvelope.queues.actions import remove_from_queue
from redenvelope.queues.models import QueueEntry
from redenvelope.queues.queries import eligible_entries

from .models import Shipment
from .queries import open_shipments


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
    eligible = {e.title_id for e in eligible_entries(member.pk, [s.title for s in out])}
    if copy.title_id not in eligible:
        raise DomainError(f"{copy.title} is not eligible to ship to this member now.")
    ref = f"member:{member.pk}"
    inventory.record_event(copy, EventKind.PICKED, actor=actor, ref=ref)
    inventory.record_event(copy, EventKind.SHIPPED, actor=actor, ref=ref)
    shipment = Shipment.objects.create(
        member=member, copy=copy, title=copy.title, dc=copy.dc, shipped_at=timezone.now()
    )
    if QueueEntry.objects.filter(member_id=member.pk, title_id=copy.title_id).exists():
        remove_from_queue(member.pk, copy.title_id)
    return shipment


@transaction.atomic
def check_in_return(barcode: str, dc: DistributionCenter, *, actor=None) -> Shipment:
    """A returned disc scanned at a DC: closes its shipment and shelves it there."""
    copy = inventory.get_copy_for_update(barcode)
    shipment = (
        Shipment.objects.select_for_update().filter(copy=copy, status=Shipment.Status.OPEN).first()
    )
    if shipment is None:
        raise NotFound(f"Copy {copy.barcode} is not out with any member.", code="not_out")
    inventory.record_event(
        copy, EventKind.RETURNED, dc=dc, actor=actor, ref=f"shipment:{shipment.pk}"
    )
    Shipment.objects.filter(pk=shipment.pk).update(
        status=Shipment.Status.RETURNED, closed_at=timezone.now(), returned_to=dc
    )
    shipment.refresh_from_db()
    return shipment
