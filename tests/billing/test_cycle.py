import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from redenvelope.membership.cycle import is_billing_day, period_containing

D = dt.date


def test_month_end_anchors():
    assert period_containing(31, D(2026, 2, 28)) == (D(2026, 2, 28), D(2026, 3, 31))
    assert period_containing(31, D(2026, 3, 30)) == (D(2026, 2, 28), D(2026, 3, 31))
    assert period_containing(30, D(2028, 2, 29)) == (D(2028, 2, 29), D(2028, 3, 30))
    assert period_containing(15, D(2026, 12, 20)) == (D(2026, 12, 15), D(2027, 1, 15))
    assert period_containing(1, D(2026, 1, 1)) == (D(2026, 1, 1), D(2026, 2, 1))
    assert is_billing_day(31, D(2026, 4, 30)) and not is_billing_day(31, D(2026, 4, 29))


@given(anchor=st.integers(1, 31), day=st.dates(D(2000, 1, 1), D(2100, 12, 31)))
def test_periods_tile_the_calendar(anchor, day):
    start, end = period_containing(anchor, day)
    assert start <= day < end
    assert 28 <= (end - start).days <= 31
    # the next period starts where this one ends, and the day before start is in the previous
    assert period_containing(anchor, end)[0] == end
    assert period_containing(anchor, start - dt.timedelta(days=1))[1] == start
    # exactly one billing day per period
    assert is_billing_day(anchor, start)
