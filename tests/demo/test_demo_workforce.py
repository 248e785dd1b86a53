"""The demo's people: staff and managers at every DC, HR, a 24/7 support rota with the one gap
the page should flag; seeding twice changes nothing."""

import datetime as dt

import pytest

from redenvelope.core import clock
from redenvelope.demo import build_demo
from redenvelope.demo.workforce import seed_workforce
from redenvelope.inventory.models import DistributionCenter
from redenvelope.workforce.models import Employee
from redenvelope.workforce.queries import coverage_gaps


@pytest.mark.django_db(transaction=True)
def test_demo_workforce():
    build_demo(members=200, seed=2, n_films=80, today=clock.today() - dt.timedelta(days=3))
    made = seed_workforce()
    assert made["employees"] == Employee.objects.count()
    assert seed_workforce() == {"skipped": "workforce is seeded already"}
    for dc in DistributionCenter.objects.all():
        assert Employee.objects.filter(dc=dc, pay_type="hourly").count() == 2
    assert Employee.objects.get(badge="B-HR01").user.username == "hr"
    next_monday = clock.today() - dt.timedelta(days=clock.today().weekday()) + dt.timedelta(days=7)
    gaps = coverage_gaps(next_monday, days=7)
    assert len(gaps) == 1 and gaps[0][0].weekday() == 2 and gaps[0][0].hour == 22
