import pytest

from redenvelope.core.errors import DomainError, NotFound
from redenvelope.ratings import actions
from redenvelope.ratings.models import Rating
from redenvelope.ratings.queries import all_ratings, average_of, stars_of


def test_rerating_replaces_and_averages(world):
    film = world.films[0]
    actions.rate_title(world.alice, film, 2, source="queue")
    actions.rate_title(world.alice, film, "5", source="history")
    actions.rate_title(world.bob, film, 4)
    assert Rating.objects.filter(title=film).count() == 2
    r = Rating.objects.get(member=world.alice, title=film)
    assert (r.stars, r.source) == (5, "history")
    assert average_of(film.pk) == (4.5, 2)
    assert stars_of(world.alice.pk, [film.pk, world.films[1].pk]) == {film.pk: 5}


@pytest.mark.parametrize("stars", [0, 6, -1, "x", "", None, 3.5])
def test_stars_out_of_range_change_nothing(world, stars):
    with pytest.raises(DomainError) as exc:
        actions.rate_title(world.alice, world.films[0], stars)
    assert exc.value.code == "bad_stars"
    assert not Rating.objects.exists()


def test_unknown_title_and_source(world):
    with pytest.raises(NotFound):
        actions.rate_title(world.alice, 999999, 3)
    with pytest.raises(DomainError):
        actions.rate_title(world.alice, world.films[0], 3, source="elsewhere")
    assert not Rating.objects.exists()


def test_clear_rating(world):
    actions.rate_title(world.alice, world.films[0], 3)
    assert actions.clear_rating(world.alice, world.films[0]) is True
    assert actions.clear_rating(world.alice, world.films[0]) is False


def test_all_ratings_in_one_bulk_read(world):
    for i, film in enumerate(world.films[:5]):
        actions.rate_title(world.alice, film, 1 + i)
        actions.rate_title(world.bob, film, 5 - i)
    cols = all_ratings()  # one SELECT (a COPY on PostgreSQL) into numpy columns
    assert len(cols["member_id"]) == 10
    assert sorted(cols["stars"].tolist()) == sorted([1, 2, 3, 4, 5] * 2)
    assert cols["rated_at"].dtype.kind == "i" and cols["rated_at"].min() > 1_600_000_000


def test_ratings_api_is_own_only(client, world):
    client.force_login(world.alice.user)
    film = world.films[0]
    resp = client.put(f"/api/ratings/{film.pk}", {"stars": 4}, content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["stars"] == 4 and resp.json()["source"] == "api"
    bad = client.put(f"/api/ratings/{film.pk}", {"stars": 6}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_stars"
    missing = client.put("/api/ratings/999999", {"stars": 3}, content_type="application/json")
    assert missing.status_code == 404
    assert [r["title_id"] for r in client.get("/api/ratings").json()] == [film.pk]
    client.force_login(world.bob.user)
    assert client.get("/api/ratings").json() == []
    assert client.delete(f"/api/ratings/{film.pk}").status_code == 404  # not bob's
    assert Rating.objects.filter(member=world.alice).count() == 1
    client.force_login(world.alice.user)
    assert client.delete(f"/api/ratings/{film.pk}").status_code == 204
