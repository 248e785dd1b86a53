"""License windows: a title streams only inside a window for the member's territory, start
included, end excluded; overlaps refused; the catalog's wording."""

import datetime as dt

import pytest

from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.rights import actions as rights
from redenvelope.rights import queries


@pytest.fixture
def t0():
    return clock.now().replace(microsecond=0)


def test_boundaries_start_included_end_excluded(world, t0):
    film = world.films[0]
    w = rights.add_window(
        film, territories="us, ca", starts_at=t0, ends_at=t0 + dt.timedelta(days=10)
    )
    assert w.territories == "CA,US"
    second = dt.timedelta(seconds=1)
    assert queries.window_now(film.pk, "US", t0 - second) is None
    assert queries.window_now(film.pk, "US", t0) == w
    assert queries.window_now(film.pk, "CA", t0 + dt.timedelta(days=10) - second) == w
    assert queries.window_now(film.pk, "US", t0 + dt.timedelta(days=10)) is None
    assert queries.window_now(film.pk, "GB", t0) is None
    assert queries.window_now(film.pk, "A", t0) is None  # no partial code matches


def test_territory_matching_is_exact_within_the_list(world, t0):
    film = world.films[1]
    rights.add_window(film, territories=["AU", "US", "us"], starts_at=t0)
    for code in ("AU", "US"):
        assert queries.window_now(film.pk, code, t0) is not None
    assert queries.window_now(film.pk, "U", t0) is None
    assert queries.window_now(film.pk, "S", t0) is None


def test_overlap_refused_adjacent_allowed(world, t0):
    film = world.films[2]
    end = t0 + dt.timedelta(days=5)
    rights.add_window(film, territories="US", starts_at=t0, ends_at=end)
    with pytest.raises(Conflict, match="overlaps"):
        rights.add_window(film, territories="US,CA", starts_at=end - dt.timedelta(hours=1))
    rights.add_window(film, territories="US", starts_at=end)  # starts as the other ends
    rights.add_window(film, territories="US", starts_at=t0, kind="tvod")  # another kind


def test_bad_input(world, t0):
    film = world.films[3]
    for bad in ["", "USA", "1A", [], "U S"]:
        with pytest.raises(DomainError):
            rights.add_window(film, territories=bad, starts_at=t0)
    with pytest.raises(DomainError, match="after it starts"):
        rights.add_window(film, territories="US", starts_at=t0, ends_at=t0)
    with pytest.raises(DomainError):
        rights.add_window(film, territories="US", starts_at="next week")
    with pytest.raises(DomainError):
        rights.add_window(film, territories="US", starts_at=t0, ceiling="8k")
    with pytest.raises(NotFound):
        rights.add_window(999_999, territories="US", starts_at=t0)


def test_end_early_only_shortens(world, t0):
    film = world.films[4]
    w = rights.add_window(film, territories="US", starts_at=t0, ends_at=t0 + dt.timedelta(30))
    rights.end_window(w, ends_at=t0 + dt.timedelta(days=3), actor=world.staff["admin"], note="x")
    with pytest.raises(Conflict):
        rights.end_window(w, ends_at=t0 + dt.timedelta(days=20))
    with pytest.raises(DomainError):
        rights.end_window(w, ends_at=t0 - dt.timedelta(days=1))


def test_catalog_wording(world, t0):
    now_open, leaving, later = world.films[5], world.films[6], world.films[7]
    rights.add_window(now_open, territories="US", starts_at=t0 - dt.timedelta(days=1))
    rights.add_window(
        leaving, territories="US", starts_at=t0 - dt.timedelta(1), ends_at=t0 + dt.timedelta(7)
    )
    rights.add_window(later, territories="US", starts_at=t0 + dt.timedelta(days=40))
    got = queries.availability([now_open.pk, leaving.pk, later.pk, world.films[0].pk], "US", t0)
    assert got[now_open.pk].label == "Watch now"
    assert got[leaving.pk].label.startswith("Watch now · leaving on ")
    assert got[later.pk].label.startswith("Streaming from ")
    assert world.films[0].pk not in got
    assert [w.title_id for w in queries.expiring(90, t0)] == [leaving.pk]
