"""Search as people type it: typos, missing accents, prefixes, series, year and genre words.
The same tests run on SQLite (FTS5) and PostgreSQL (tsvector + pg_trgm)."""

import datetime as dt

import pytest

from redenvelope.catalog import actions as catalog
from redenvelope.catalog import search
from redenvelope.catalog.models import TitleSearch

PAST = dt.date(2001, 1, 1)


@pytest.fixture
def films(db):
    made = {}
    for name, year, genres in [
        ("The Godfather", 1972, ["Crime", "Drama"]),
        ("The Godfather: Part II", 1974, ["Crime", "Drama"]),
        ("Amélie", 2001, ["Comedy", "Romance"]),
        ("Amadeus", 1984, ["Drama"]),
        ("Godzilla", 1954, ["Action"]),
        ("Léon: The Professional", 1994, ["Action", "Crime"]),
        ("Brazil", 1985, ["Comedy"]),
        ("The Big Lebowski", 1998, ["Comedy"]),
        ("Fargo", 1996, ["Crime"]),
    ]:
        made[name] = catalog.add_title(name=name, year=year, release_date=PAST, genres=genres)
    return made


def names(q, genre=""):
    from redenvelope.catalog.models import Title

    ids = search.search(q, genre)
    by_id = dict(Title.objects.filter(pk__in=ids).values_list("id", "name"))
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    "q,first",
    [
        ("godfather", "The Godfather"),
        ("godfathr", "The Godfather"),  # a typo
        ("the godfater part ii", "The Godfather: Part II"),
        ("amelie", "Amélie"),  # no accent
        ("AMÉLIE", "Amélie"),
        ("leon professional", "Léon: The Professional"),
        ("lebow", "The Big Lebowski"),  # a prefix, as typed
        ("big leb", "The Big Lebowski"),
        ("fargo 1996", "Fargo"),  # the year
        ("brazl", "Brazil"),
        ("fagro", "Fargo"),  # two letters swapped: no trigram in common with the name
        ("amadeous", "Amadeus"),
    ],
)
def test_finds_what_people_mean(films, q, first):
    assert names(q)[0] == first


def test_ranks_and_filters(films):
    found = names("godfather")
    assert found[:2] == ["The Godfather", "The Godfather: Part II"]
    assert "Amadeus" not in found and "Fargo" not in found
    assert names("crime", genre="comedy") == []
    assert set(names("comedy")) >= {"Amélie", "Brazil", "The Big Lebowski"}  # genre words
    assert names("") == [] and names("   !!! ") == []
    assert names("zzzzqqq") == []


def test_series_words_find_their_discs(world):
    found = names("long show")
    assert found and all(n.startswith("The Long Show") for n in found[:4])


def test_index_kept_in_step_and_rebuilt(films):
    catalog.add_title(name="Zoë's Brand New Film", year=2020, release_date=PAST)
    assert names("zoes brand")[0] == "Zoë's Brand New Film" or names("zoe")[0].startswith("Zo")
    TitleSearch.objects.all().delete()
    assert names("fargo") == []
    assert search.rebuild() == 10
    assert names("fargo") == ["Fargo"]


def test_unreleased_can_be_left_out(films):
    catalog.add_title(name="Fargo Returns", year=2030, release_date=dt.date(2099, 1, 1))
    assert "Fargo Returns" in names("fargo")
    assert "Fargo Returns" not in [
        n for n in search.search("fargo", include_unreleased=False) if n == "Fargo Returns"
    ]
    ids = search.search("fargo", include_unreleased=False)
    assert len(ids) == 1
