import pytest
from django.urls import reverse

from redenvelope.checks import run_checks
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.fulfillment.actions import check_in_return, ship_copy
from redenvelope.fulfillment.models import Shipment
from redenvelope.membership import actions as membership
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry


def test_ship_and_return_leave_full_records(world):
    queues.add_to_queue(world.alice, world.films[0])
    copy = world.new_copy(world.films[0])
    shipment = ship_copy(world.alice, copy)
    copy.refresh_from_db()
    assert copy.status == "shipped"
    assert list(copy.events.values_list("kind", flat=True)) == ["received", "shipped"]
    assert not QueueEntry.objects.filter(member=world.alice).exists()
    with pytest.raises(Conflict):
        ship_copy(world.bob, copy)
    back = check_in_return(copy.barcode, world.sjc)
    copy.refresh_from_db()
    assert back.pk == shipment.pk and back.status == "returned" and back.returned_to == world.sjc
    assert copy.status == "on_shelf" and copy.dc == world.sjc
    with pytest.raises(NotFound, match="already scanned in"):
        check_in_return(copy.barcode, world.sjc)
    assert all(r.ok for r in run_checks())


def test_shipping_rules(world):
    queues.add_to_queue(world.bob, world.films[0])
    queues.add_to_queue(world.bob, world.films[1])
    ship_copy(world.bob, world.new_copy(world.films[0]))
    with pytest.raises(DomainError, match="limit 1"):
        ship_copy(world.bob, world.new_copy(world.films[1]))
    with pytest.raises(DomainError, match="not eligible"):
        ship_copy(world.alice, world.new_copy(world.films[2]))  # not in her queue
    # Series order: disc 2 waits for disc 1.
    queues.add_to_queue(world.alice, world.discs[1])
    queues.add_to_queue(world.alice, world.discs[0])
    with pytest.raises(DomainError, match="not eligible"):
        ship_copy(world.alice, world.new_copy(world.discs[1]))
    membership.cancel(world.alice)
    with pytest.raises(DomainError, match="cancelled"):
        ship_copy(world.alice, world.new_copy(world.discs[0]))
    assert Shipment.objects.count() == 1


def test_queue_page_shows_discs_at_home(member_client, world):
    queues.add_to_queue(world.alice, world.films[3])
    ship_copy(world.alice, world.new_copy(world.films[3]))
    html = member_client.get(reverse("queue")).content.decode()
    assert "At home (1 of 3)" in html and "Film 3" in html
