"""A disc back at a DC tells its member, whichever door checked it in: the scan desk one at a
time or the bulk check-in (the simulator's, an import's) many at once; the same email, once."""

from redenvelope.core.models import OutboundEmail
from redenvelope.fulfillment.actions import check_in_bulk, scan_return, ship_copy
from redenvelope.queues.actions import add_to_queue


def test_scan_desk_and_bulk_check_in_send_the_same_email_once(world):
    a = world.new_copy(world.films[0])
    b = world.new_copy(world.films[1])
    add_to_queue(world.alice, world.films[0])
    add_to_queue(world.bob, world.films[1])
    first = ship_copy(world.alice, a)
    second = ship_copy(world.bob, b)
    scan_return(a.barcode, world.ewr)
    scan_return(a.barcode, world.ewr)  # a second scan closes nothing, tells nobody again
    assert check_in_bulk([(b.pk, world.ewr.pk, False), (a.pk, world.ewr.pk, False)]) == 1
    mails = {m.key: m for m in OutboundEmail.objects.filter(kind="received").order_by("id")}
    assert set(mails) == {f"received:{first.pk}", f"received:{second.pk}"}
    assert mails[f"received:{second.pk}"].to == "bob@example.com"
    assert mails[f"received:{second.pk}"].subject == "We got Film 1 back"
    assert mails[f"received:{first.pk}"].body.startswith("Hello Alice,")
