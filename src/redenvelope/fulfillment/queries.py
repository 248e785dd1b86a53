"""Fulfillment reads shared by pages, the API and actions."""

from .models import Shipment


def open_shipments(member_id: int):
    """The discs a member has at home (or in the mail to or from them)."""
    return Shipment.objects.filter(member_id=member_id, status=Shipment.Status.OPEN)
