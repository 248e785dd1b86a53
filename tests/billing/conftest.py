"""The billing tests' world: the shared one, billed on the 10th, with NY sales tax and a 1/3/7-day
dunning schedule."""

import pytest

from redenvelope.membership.models import Member


@pytest.fixture
def shop(world, settings, mailoutbox):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "SALES_TAX": {"NY": "0.08875"},
        "DUNNING_RETRY_DAYS": [1, 3, 7],
    }
    Member.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).update(billing_day=10)
    return world
