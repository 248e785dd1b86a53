import datetime as dt

import pytest

from redenvelope.catalog import actions
from redenvelope.catalog.models import Title
from redenvelope.catalog.queries import search_titles
from redenvelope.core.errors import DomainError


def test_series_disc_needs_season_and_disc(world):
    with pytest.raises(DomainError):
        actions.add_title(name="x", year=2001, release_date=world.today, series=world.series)
    with pytest.raises(DomainError, match="already exists"):
        actions.add_title(
            name="dup",
            year=2001,
            release_date=world.today,
            series=world.series,
            season=1,
            disc_number=1,
        )
    with pytest.raises(DomainError):
        actions.add_title(name="x", year=2001, release_date=world.today, season=1, disc_number=1)


def test_title_validation(world):
    with pytest.raises(DomainError):
        actions.add_title(name=" ", year=2001, release_date=world.today)
    with pytest.raises(DomainError):
        actions.add_title(name="Old", year=1700, release_date=world.today)
    with pytest.raises(DomainError):
        actions.add_title(name="Nothing", year=2001, release_date=world.today, on_dvd=False)


def test_released_and_unreleased(world):
    assert not world.unreleased.is_released()
    assert world.unreleased in Title.objects.unreleased()
    assert world.unreleased.is_released(world.today + dt.timedelta(days=10))


def test_search_by_name_and_genre(world):
    assert [t.name for t in search_titles("film 3")][0] == "Film 3"
    comedies = {t.name for t in search_titles(genre="comedy")}
    assert comedies == {"Film 0", "Film 2", "Film 4", "Film 6"}
    assert "The Long Show: Season 1, Disc 1" in {t.name for t in search_titles("long show")}
