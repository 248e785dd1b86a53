import pytest

from redenvelope.payables import actions as payables

IBAN = "DE89370400440532013000"  # the standard's own example, valid check digits


@pytest.fixture
def distributor(world):
    return payables.add_vendor(
        "Ingram Discs", kind="distributor", account_number="123456789", routing_number="011000015"
    )


@pytest.fixture
def studio_vendor(world):
    return payables.add_vendor("Euro Films", kind="licensor", iban=IBAN, bic="COBADEFFXXX")
