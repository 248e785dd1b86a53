"""Workforce: employees, shifts on a published rota that dispatch's capacity follows, badge
scans, corrections audited, payroll with overtime and premiums posted once per closed period."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.fulfillment.rules import dc_capacity_on
from redenvelope.ledger.queries import trial_balance
from redenvelope.workforce import actions as wf
from redenvelope.workforce.models import TimeCorrection

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def picker(world):
    return wf.add_employee(name="Pat Picker", job="picker", team="warehouse", dc=world.ewr,
                           badge="B-100", pay_type="hourly", rate_cents=2000,
                           starts_on=clock.today() - dt.timedelta(days=400))  # fmt: skip


def at(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LA)


def test_bad_employees_and_shifts_are_refused(world, picker):
    with pytest.raises(Conflict, match="Badge B-100 is someone else's"):
        wf.add_employee(name="X", job="picker", team="warehouse", dc=world.ewr, badge="b-100",
                        pay_type="hourly", rate_cents=1, starts_on=clock.today())  # fmt: skip
    with pytest.raises(DomainError, match="Malformed badge"):
        wf.add_employee(name="X", job="picker", team="warehouse", dc=world.ewr, badge="!",
                        pay_type="hourly", rate_cents=1, starts_on=clock.today())  # fmt: skip
    with pytest.raises(DomainError, match="work at a distribution center"):
        wf.add_employee(name="X", job="picker", team="warehouse", badge="B-2",
                        pay_type="hourly", rate_cents=1, starts_on=clock.today())  # fmt: skip
    day = clock.today() + dt.timedelta(days=3)
    first = wf.add_shift(picker, starts_at=at(day, 8), ends_at=at(day, 16, 30))
    with pytest.raises(Conflict, match="already works"):
        wf.add_shift(picker, starts_at=at(day, 16), ends_at=at(day, 20))
    with pytest.raises(DomainError, match="end after it starts"):
        wf.add_shift(picker, starts_at=at(day, 20), ends_at=at(day, 19))
    wf.add_shift(picker, starts_at=at(day, 16, 30), ends_at=at(day, 20), break_minutes=0)
    assert first.rota.week == day - dt.timedelta(days=day.weekday())


def test_dispatch_capacity_follows_the_published_rota_and_overrides(world, picker):
    day = clock.today() + dt.timedelta(days=2)
    other = wf.add_employee(name="Ann Inspector", job="inspector", team="warehouse",
                            dc=world.ewr, badge="B-101", pay_type="hourly", rate_cents=2100,
                            starts_on=clock.today() - dt.timedelta(days=30))  # fmt: skip
    s = wf.add_shift(picker, starts_at=at(day, 6), ends_at=at(day, 14, 30))  # 8 h after break
    wf.add_shift(other, starts_at=at(day, 14), ends_at=at(day, 22, 30))
    assert dc_capacity_on(day, [world.ewr])[world.ewr.pk] == 500  # drafted: typed capacity
    wf.publish_rota(s.rota, actor=world.staff["operations"])
    assert dc_capacity_on(day, [world.ewr])[world.ewr.pk] == 16 * 325  # 16 h × default rate
    assert dc_capacity_on(day, [world.sjc])[world.sjc.pk] == 500  # no rota there
    with pytest.raises(DomainError, match="Say why"):
        wf.override_capacity(world.ewr, day=day, capacity=100, reason="")
    wf.override_capacity(world.ewr, day=day, capacity=1200, reason="conveyor down",
                         actor=world.staff["operations"])  # fmt: skip
    assert dc_capacity_on(day, [world.ewr])[world.ewr.pk] == 1200


def test_badge_scans_corrections_and_payroll(world, picker):
    with pytest.raises(NotFound, match="Badge B-999 is nobody's"):
        wf.badge_scan("b-999", dc=world.ewr)
    with pytest.raises(Conflict, match="a clock-out needs a clock-in"):
        wf.clock_out(picker)
    # A week two weeks ago: five 9-hour days (45 h after breaks: 5 overtime), Saturday night.
    monday = clock.today() - dt.timedelta(days=clock.today().weekday() + 14)
    for d in range(5):
        day = monday + dt.timedelta(days=d)
        wf.badge_scan("B-100", dc=world.ewr, at=at(day, 8))
        e = wf.badge_scan("B-100", dc=world.ewr, at=at(day, 17, 30))
        assert e.clock_out is not None and e.break_minutes == 30
    sat = monday + dt.timedelta(days=5)
    wf.clock_in(picker, at=at(sat, 20))
    with pytest.raises(Conflict, match="clocked in already"):
        wf.clock_in(picker, at=at(sat, 21))
    sunday_am = at(sat + dt.timedelta(days=1), 1)
    e = wf.clock_out(picker, at=sunday_am)  # 5 h, 2 of them at night... 3 at night
    fin = world.staff["finance"]
    with pytest.raises(DomainError, match="Say why"):
        wf.correct_entry(e, reason="", actor=fin, clock_out=at(sat, 23))
    wf.correct_entry(e, reason="left early, forgot to scan", actor=fin, clock_out=at(sat, 23))
    corr = TimeCorrection.objects.get(entry=e)
    assert corr.before["clock_out"] != corr.after["clock_out"] and corr.by == fin

    end = monday + dt.timedelta(days=13)
    run = wf.run_payroll(monday, end, actor=fin)
    line = run.csv.splitlines()[1].split(",")
    cols = dict(zip(run.csv.splitlines()[0].split(","), line, strict=True))
    # 45 weekday hours + 3 Saturday evening hours = 48: 8 overtime.
    assert cols["regular_hours"] == "40.00" and cols["overtime_hours"] == "8.00"
    assert cols["night_hours"] == "1.00" and cols["weekend_hours"] == "3.00"
    expected = 40 * 2000 + 8 * 2000 * 3 // 2 + 200 + 300  # night 10%, weekend 5%
    assert int(cols["gross_cents"]) == run.gross_cents == expected
    with pytest.raises(Conflict, match="that period is closed"):
        wf.run_payroll(monday, end, actor=fin)
    with pytest.raises(Conflict, match="is closed: the entry cannot change"):
        wf.correct_entry(e, reason="again", actor=fin, break_minutes=10)
    assert trial_balance().balanced
    assert all(c.ok for c in run_checks())


def test_payroll_refuses_open_entries_and_unfinished_periods(world, picker):
    monday = clock.today() - dt.timedelta(days=clock.today().weekday() + 7)
    wf.clock_in(picker, at=at(monday, 9))
    with pytest.raises(Conflict, match="Pat Picker is still clocked in"):
        wf.run_payroll(monday, monday + dt.timedelta(days=6))
    with pytest.raises(DomainError, match="paid once it has ended"):
        wf.run_payroll(monday, clock.today())


def test_badges_at_the_return_desk(client, world, picker):
    from redenvelope.workforce.models import TimeEntry

    client.force_login(world.staff["warehouse"])
    r = client.post("/warehouse/returns/scan/", {"dc": "EWR", "barcode": "b-100"}, follow=True)
    assert "Pat Picker clocked in" in r.content.decode()
    r = client.post("/warehouse/returns/scan/", {"dc": "EWR", "barcode": "B-404"}, follow=True)
    assert "Badge B-404 is nobody" in r.content.decode()
    r = client.post("/warehouse/returns/scan/", {"dc": "EWR", "barcode": "B-100"},
                    HTTP_HX_REQUEST="true")  # fmt: skip
    assert "clocked out" in r.content.decode()
    entry = TimeEntry.objects.get(employee=picker)
    assert entry.clock_out is not None and entry.dc == world.ewr


def test_time_off_and_swaps_are_decided_by_the_manager(world, picker):
    ops, agent = world.staff["operations"], world.staff["support_agent"]
    other = wf.add_employee(name="Ann", job="picker", team="warehouse", dc=world.ewr,
                            badge="B-102", pay_type="hourly", rate_cents=2000,
                            starts_on=clock.today() - dt.timedelta(days=30))  # fmt: skip
    day = clock.today() + dt.timedelta(days=10)
    shift = wf.add_shift(picker, starts_at=at(day, 8), ends_at=at(day, 16))
    off = wf.request_time_off(picker, starts_on=day, ends_on=day, hours=8, kind="pto")
    with pytest.raises(DomainError, match="Only their manager or HR"):
        wf.decide_time_off(off, approve=True, actor=agent)
    with pytest.raises(Conflict, match="swap or remove that shift first"):
        wf.decide_time_off(off, approve=True, actor=ops)
    swap = wf.request_swap(shift, taker=other)
    wf.decide_swap(swap, approve=True, actor=ops)
    shift.refresh_from_db()
    assert shift.employee == other
    with pytest.raises(Conflict, match="has 0 hours of paid time off"):
        wf.decide_time_off(off, approve=True, actor=ops)
    sick = wf.request_time_off(picker, starts_on=day, ends_on=day, hours=8, kind="sick")
    assert wf.decide_time_off(sick, approve=True, actor=ops).status == "approved"
    with pytest.raises(Conflict, match="approved already"):
        wf.decide_time_off(sick, approve=False, actor=ops)
    back = wf.request_swap(shift, taker=picker)
    wf.add_shift(picker, starts_at=at(day, 15), ends_at=at(day, 20), break_minutes=0)
    with pytest.raises(Conflict, match="already works"):
        wf.decide_swap(back, approve=True, actor=ops)


def test_measured_rate_comes_from_busy_days_within_bounds(world, picker):
    """Six days of 8 clocked hours, shipping 2,000, 2,400 ... discs: the busy days' rate (90th
    percentile) replaces the standard, within half and twice it; fewer days: the standard."""
    from redenvelope.inventory.models import CopyEvent
    from redenvelope.workforce.queries import ship_rates

    copy = world.new_copy(world.films[0])
    today = clock.today()
    for d, shipped in enumerate([2000, 2400, 2600, 2800, 3000, 3200]):
        day = today - dt.timedelta(days=d + 1)
        wf.clock_in(picker, at=at(day, 8))
        wf.clock_out(picker, at=at(day, 16, 30))  # 8 h after the break
        CopyEvent.objects.bulk_create(
            [
                CopyEvent(
                    copy=copy,
                    kind="shipped",
                    from_status="picked",
                    to_status="shipped",
                    dc=world.ewr,
                    at=at(day, 12),
                )
                for _ in range(shipped)
            ]  # fmt: skip
        )
        rate, measured = ship_rates([world.ewr.pk])[world.ewr.pk]
        if d < 4:
            assert (rate, measured) == (325.0, False)
    rate, measured = ship_rates([world.ewr.pk])[world.ewr.pk]
    busy = np.percentile([s / 8 for s in (2000, 2400, 2600, 2800, 3000, 3200)], 90)
    assert measured and rate == pytest.approx(float(busy))
    CopyEvent.objects.all().delete()
    assert ship_rates([world.ewr.pk])[world.ewr.pk] == (162.5, True)  # never below half


def test_the_simulator_staffs_dcs_and_a_sick_call_ships_less(world, picker):
    from redenvelope.sim import staffing
    from redenvelope.workforce.models import ShiftRemoval, TimeEntry

    wf.add_employee(name="Ann", job="packer", team="warehouse", dc=world.ewr, badge="B-103",
                    pay_type="hourly", rate_cents=2000,
                    starts_on=clock.today() - dt.timedelta(days=30))  # fmt: skip
    day = clock.today() + dt.timedelta(days=1)
    with clock.frozen(at(day, 5)):
        staffing.day(day, seed=1, sick_rate=0.0)
    full = dc_capacity_on(day, [world.ewr])[world.ewr.pk]
    assert 500 <= full < 500 + 2 * 325 / 60 * 2  # the typed 500, in whole minutes of two people
    assert TimeEntry.objects.filter(dc=world.ewr).count() >= 1
    later = day + dt.timedelta(days=1)
    with clock.frozen(at(later, 5)):
        staffing.day(later, seed=1, sick_rate=1.0)
    short = dc_capacity_on(later, [world.ewr])[world.ewr.pk]
    assert short < full and ShiftRemoval.objects.count() == 1


def test_typed_nonsense_is_refused_cleanly(world, picker):
    with pytest.raises(DomainError, match="not a whole number"):
        wf.add_employee(name="X", job="j", team="office", badge="B-77", pay_type="hourly",
                        rate_cents="ten", starts_on="2026-01-01")  # fmt: skip
    with pytest.raises(DomainError, match="not a date"):
        wf.add_employee(name="X", job="j", team="office", badge="B-77", pay_type="hourly",
                        rate_cents=100, starts_on="soon")  # fmt: skip
    with pytest.raises(Conflict, match="belongs to another employee"):
        u = world.staff["hr"]
        wf.add_employee(name="X", job="j", team="office", badge="B-78", pay_type="hourly",
                        rate_cents=100, starts_on="2026-01-01", user=u)  # fmt: skip
        wf.add_employee(name="Y", job="j", team="office", badge="B-79", pay_type="hourly",
                        rate_cents=100, starts_on="2026-01-01", user=u)  # fmt: skip
    with pytest.raises(DomainError, match="not a date"):
        wf.run_payroll("last month", "2026-01-01")
    with pytest.raises(DomainError, match="HH:MM"):
        wf.add_template(name="t", starts="6am", ends="14:00", dc=world.ewr)
