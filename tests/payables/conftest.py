import pytest

from redenvelope.payables import actions as payables


@pytest.fixture
def distributor(world):
    return payables.add_vendor(
        "Ingram Discs", kind="distributor", account_number="123456789", routing_number="011000015"
    )
