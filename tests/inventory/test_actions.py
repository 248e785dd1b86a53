import pytest

from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.inventory import actions
from redenvelope.inventory.barcodes import check_digit, make_barcode, parse_barcode
from redenvelope.inventory.models import Copy, CopyEvent, CopyStatus, EventKind


def test_barcode_roundtrip_and_check_digit():
    code = make_barcode(12345)
    assert code == parse_barcode(f"  {code.lower()} ")
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    with pytest.raises(DomainError, match="check digit"):
        parse_barcode(wrong)
    assert check_digit("000012345") == int(code[-1])


@pytest.mark.parametrize("raw", ["", "RE123", "XX0000000017", "RE00000000AB", "RE00000001234"])
def test_malformed_barcodes_are_refused(raw):
    with pytest.raises(DomainError, match="Malformed barcode"):
        parse_barcode(raw)


def test_receive_copy_starts_history(world):
    copy = world.new_copy(world.films[0])
    assert copy.status == CopyStatus.ON_SHELF
    events = list(copy.events.all())
    assert [(e.kind, e.to_status) for e in events] == [("received", "on_shelf")]


def test_duplicate_barcode_changes_nothing(world):
    copy = world.new_copy(world.films[0])
    before = Copy.objects.count(), CopyEvent.objects.count()
    with pytest.raises(Conflict, match="already exists"):
        actions.receive_copy(title=world.films[1], dc=world.ewr, barcode=copy.barcode)
    assert (Copy.objects.count(), CopyEvent.objects.count()) == before


def test_malformed_barcode_on_receive_changes_nothing(world):
    with pytest.raises(DomainError):
        actions.receive_copy(title=world.films[0], dc=world.ewr, barcode="RE12")
    assert not Copy.objects.exists()


def test_bluray_copy_of_dvd_only_title_is_refused(world):
    with pytest.raises(DomainError, match="not released on Blu-ray"):
        actions.receive_copy(
            title=world.films[0], dc=world.ewr, barcode=make_barcode(99), format="bluray"
        )


def test_lifecycle_transitions_and_refusals(world):
    copy = world.new_copy(world.films[0])
    with pytest.raises(Conflict, match="cannot be returned"):
        actions.record_event(copy, EventKind.RETURNED)  # it was never out
    actions.mark_lost(copy, note="vanished from shelf")
    actions.mark_found(copy, world.sjc)
    copy.refresh_from_db()
    assert copy.status == CopyStatus.ON_SHELF and copy.dc == world.sjc
    actions.transfer_copy(copy, world.ewr)
    copy.refresh_from_db()
    assert copy.status == CopyStatus.IN_TRANSFER and copy.dc == world.ewr
    actions.receive_transfer(copy)
    actions.mark_damaged(copy)
    actions.retire_copy(copy)
    copy.refresh_from_db()
    assert copy.status == CopyStatus.RETIRED and copy.condition == "damaged"
    kinds = list(copy.events.values_list("kind", flat=True))
    assert kinds == [
        "received",
        "lost",
        "found",
        "transfer_out",
        "transfer_in",
        "damaged",
        "retired",
    ]
    with pytest.raises(Conflict):
        actions.mark_found(copy, world.ewr)


def test_transfer_to_same_dc_refused(world):
    copy = world.new_copy(world.films[0])
    with pytest.raises(DomainError):
        actions.transfer_copy(copy, world.ewr)


def test_unknown_barcode_lookup(world):
    with pytest.raises(NotFound, match="No copy"):
        actions.get_copy_for_update(make_barcode(424242))


def test_dc_and_region_validation(world):
    with pytest.raises(DomainError):
        actions.add_distribution_center(
            code="ne", name="x", city="x", state="NJ", latitude=0, longitude=0, daily_capacity=1
        )
    with pytest.raises(Conflict):
        actions.add_distribution_center(
            code="EWR", name="x", city="x", state="NJ", latitude=0, longitude=0, daily_capacity=1
        )
    with pytest.raises(DomainError):
        actions.add_region(zip3="1234", name="x", state="NY", latitude=0, longitude=0)
    with pytest.raises(DomainError):
        actions.set_transit(world.ewr, world.sf, 0)
