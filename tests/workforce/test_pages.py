"""Workforce pages: HR sees pay; a DC manager (operations) publishes a rota and sees no pay; an
employee sees their own record only; a stranger reading another's pay is refused."""

import datetime as dt

import pytest

from redenvelope.core import clock
from redenvelope.workforce import actions as wf
from redenvelope.workforce.models import Rota


@pytest.fixture
def people(world):
    boss = wf.add_employee(name="Mo Manager", job="manager", team="warehouse", dc=world.ewr,
                           badge="B-01", pay_type="salaried", rate_cents=7_000_000,
                           starts_on=clock.today() - dt.timedelta(days=900),
                           user=world.staff["warehouse"])  # fmt: skip
    pat = wf.add_employee(name="Pat Picker", job="picker", team="warehouse", dc=world.ewr,
                          badge="B-02", pay_type="hourly", rate_cents=2_150, manager=boss,
                          starts_on=clock.today() - dt.timedelta(days=90),
                          user=world.staff["support_agent"])  # fmt: skip
    return boss, pat


def test_hr_sees_pay_operations_does_not(client, world, people):
    boss, pat = people
    client.force_login(world.staff["hr"])
    page = client.get("/workforce/").content.decode()
    assert "Pat Picker" in page and "$21.50/h" in page
    assert "$21.50 an hour" in client.get(f"/workforce/people/{pat.pk}/").content.decode()
    client.force_login(world.staff["operations"])
    page = client.get("/workforce/").content.decode()
    assert "Pat Picker" in page and "$21.50" not in page
    assert "$21.50" not in client.get(f"/workforce/people/{pat.pk}/").content.decode()
    client.force_login(world.staff["finance"])
    assert client.get("/workforce/").status_code == 403
    assert client.get(f"/workforce/people/{pat.pk}/").status_code == 403
    client.force_login(world.alice.user)
    assert client.get("/workforce/me/").status_code == 403


def test_employee_reads_own_record_not_anothers(client, world, people):
    boss, pat = people
    client.force_login(world.staff["support_agent"])  # Pat's login
    assert client.get("/workforce/me/").status_code == 200
    assert client.get(f"/workforce/people/{boss.pk}/").status_code == 403  # the boss's pay
    # The manager reads their report's goals, not their pay.
    client.force_login(world.staff["warehouse"])  # Mo's login
    r = client.get(f"/workforce/people/{pat.pk}/")
    assert r.status_code == 200 and "$21.50" not in r.content.decode()
    client.post(f"/workforce/people/{pat.pk}/", {"kind": "goal", "text": "700 discs an hour"})
    client.force_login(world.staff["support_agent"])
    assert "700 discs an hour" in client.get("/workforce/me/").content.decode()


def test_manager_publishes_a_rota_dispatch_follows(client, world, people):
    from redenvelope.fulfillment.rules import dc_capacity_on

    boss, pat = people
    client.force_login(world.staff["operations"])
    day = clock.today() + dt.timedelta(days=7)
    r = client.post("/workforce/do/", {"action": "rota", "dc": "EWR", "week": day.isoformat()})
    rota = Rota.objects.get()
    assert r.url == f"/workforce/rotas/{rota.pk}/"
    client.post(r.url, {"action": "shift", "employee": pat.pk, "day": day.isoformat(),
                        "start": "06:00", "end": "14:30", "break": "30"})  # fmt: skip
    client.post(r.url, {"action": "shift", "employee": pat.pk, "day": day.isoformat(),
                        "start": "10:00", "end": "12:00"})  # fmt: skip
    assert rota.shifts.count() == 1
    assert dc_capacity_on(day, [world.ewr])[world.ewr.pk] == 500
    client.post(r.url, {"action": "publish"})
    assert dc_capacity_on(day, [world.ewr])[world.ewr.pk] == 8 * 325
    page = client.get("/workforce/").content.decode()
    assert "rota" in page


def test_reports_render_with_csv(client, world, people):
    from redenvelope.workforce.reports import REPORTS

    boss, pat = people
    wf.clock_in(pat, at=clock.now() - dt.timedelta(hours=3))
    wf.clock_out(pat)
    client.force_login(world.staff["hr"])
    for name in REPORTS:
        assert client.get(f"/workforce/reports/{name}/").status_code == 200, name
        csv = client.get(f"/workforce/reports/{name}/?format=csv")
        assert csv["Content-Type"].startswith("text/csv")
    page = client.get("/workforce/reports/dc-labour/").content.decode()
    assert "EWR" in page
    gaps = client.get("/workforce/reports/coverage/?format=csv").content.decode()
    assert len(gaps.splitlines()) == 2  # no support rota: one gap, the whole fortnight


def test_templates_fill_a_draft_rota(client, world, people):
    boss, pat = people
    client.force_login(world.staff["operations"])
    client.post("/workforce/do/", {"action": "template", "dc": "EWR", "name": "Early",
                                   "starts": "06:00", "ends": "14:30", "headcount": "1",
                                   "weekday": ["0", "1", "2"]})  # fmt: skip
    client.post("/workforce/do/", {"action": "template", "dc": "EWR", "name": "Night",
                                   "starts": "22:00", "ends": "06:30", "headcount": "1",
                                   "weekday": ["0"]})  # fmt: skip
    week = clock.today() + dt.timedelta(days=14)
    r = client.post("/workforce/do/", {"action": "rota", "dc": "EWR", "week": week.isoformat()})
    client.post(r.url, {"action": "templates"})
    rota = Rota.objects.get()
    shifts = list(rota.shifts.order_by("starts_at"))
    # Early on Mon-Wed and Night on Monday, people taken in turn, nobody twice at once.
    assert len(shifts) == 4
    from django.utils import timezone

    starts = sorted(timezone.localtime(s.starts_at).hour for s in shifts)
    assert starts == [6, 6, 6, 22]
    assert all(s.ends_at - s.starts_at == dt.timedelta(hours=8, minutes=30) for s in shifts)
    client.post(r.url, {"action": "publish"})
    r2 = client.post(r.url, {"action": "templates"}, follow=True)
    assert "is published" in r2.content.decode()
