from __future__ import annotations

from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Title
from redenvelope.inventory.models import Copy, DistributionCenter
from redenvelope.membership.models import Member


class Shipment(models.Model):
    """One copy sent to one member: opened when shipped, closed by a return scan or as lost."""

    class Status(models.TextChoices):
        OPEN = "open", "Out with member"
        RETURNED = "returned", "Returned"
        LOST = "lost", "Lost"

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="shipments")
    copy = models.ForeignKey(Copy, on_delete=models.PROTECT, related_name="shipments")
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="+")
    dc = models.ForeignKey(DistributionCenter, on_delete=models.PROTECT, related_name="shipments")
    shipped_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    returned_to = models.ForeignKey(
        DistributionCenter, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["member", "status"])]
        constraints = [
            # A disc is in exactly one place: at most one open shipment per copy.
            models.UniqueConstraint(
                fields=["copy"], condition=Q(status="open"), name="one_open_shipment_per_copy"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.copy_id} → {self.member_id} ({self.status})"
