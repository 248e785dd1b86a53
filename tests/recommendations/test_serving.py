"""Training on the business's records, what members are shown (and never shown), falling back
when a model file is missing or old, switching and rolling back, and the pages and API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from typer.testing import CliRunner

from redenvelope.catalog import actions as catalog
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.actions import ship_copy
from redenvelope.membership import actions as membership
from redenvelope.queues import actions as queues
from redenvelope.ratings.actions import rate_title
from redenvelope.recommendations import actions, engine, serving, store
from redenvelope.recommendations.models import LiveChange, ModelVersion
from tests.conftest import _member
from tests.streaming.conftest import licensed


@pytest.fixture(autouse=True)
def recs_dir(settings, tmp_path):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "RECS_DIR": str(tmp_path / "recs")}
    serving.forget_cache()
    yield tmp_path / "recs"
    serving.forget_cache()


@pytest.fixture
def taste(world):
    """Two kinds of taste among 24 members: even films (comedies) or odd films (dramas), each
    rated 5 stars on their own kind and 1 star on a film of the other."""
    comedies = [f for k, f in enumerate(world.films) if k % 2 == 0]
    dramas = [f for k, f in enumerate(world.films) if k % 2 == 1]
    world.fans = []
    for k in range(24):
        m = _member(f"fan{k}", world.plan1 if k % 3 else world.plan3, "10001")
        mine, other = (comedies, dramas) if k % 2 == 0 else (dramas, comedies)
        for f in mine:
            rate_title(m, f, 5)
        rate_title(m, other[k % len(other)], 1)
        world.fans.append(m)
    world.comedies, world.dramas = comedies, dramas
    return world


def ids(picks):
    return [p.title.pk for p in picks.items]


def test_training_on_an_empty_business_is_a_clear_refusal(db):
    with pytest.raises(DomainError, match="Nothing to train on"):
        actions.train()
    assert not ModelVersion.objects.exists()


def test_a_new_comedy_fan_is_shown_comedies_first_with_the_reason(taste):
    w = taste
    version = actions.train(seed=1)
    assert version.status == "live" and version.metrics["ratings"] > 100
    assert LiveChange.objects.get().version == version
    rate_title(w.alice, w.comedies[0], 5)  # after training: serving reads it fresh
    picks = serving.top_picks(w.alice, n=5)
    assert picks.version == version.pk and not picks.note
    top3 = ids(picks)[:3]
    assert set(top3) == {f.pk for f in w.comedies[1:]}
    assert w.comedies[0].pk not in ids(picks)  # rated: never suggested back
    assert picks.items[0].reason == f"Because you rated {w.comedies[0].name} 5 stars"
    liked = serving.because_you_rated(w.alice, n=3)
    assert liked.anchor == w.comedies[0] and liked.items


def test_never_rented_rated_queued_saved_nor_outside_the_plan(taste):
    w = taste
    actions.train()
    rate_title(w.bob, w.films[0], 4)
    queues.add_to_queue(w.bob, w.films[4])
    ship_copy(w.bob, w.new_copy(w.films[4]))  # it leaves the queue: rented
    queues.add_to_queue(w.bob, w.films[2])
    queues.save_title(w.bob, w.unreleased)
    got = ids(serving.top_picks(w.bob, n=20))
    assert got, "bob should get picks"
    for t in (w.films[0], w.films[2], w.films[4], w.unreleased):
        assert t.pk not in got
    later_discs = {d.pk for d in w.discs if (d.season, d.disc_number) != (1, 1)}
    assert not later_discs & set(got)  # a series starts at its first disc


def test_a_streaming_only_member_is_shown_only_what_streams_now(taste):
    w = taste
    streaming = membership.create_plan(
        code="watch", name="Watch only", discs_at_once=0, monthly_price="7.99",
        streaming_screens=2,
    )  # fmt: skip
    viewer = _member("viewer", streaming, "10001")
    licensed(w.films[1])
    licensed(w.films[3], days_before=-5)  # not yet
    licensed(w.films[5], territories="GB")  # elsewhere
    actions.train()
    rate_title(viewer, w.films[7], 5)
    assert ids(serving.top_picks(viewer, n=20)) == [w.films[1].pk]
    assert [p.title.pk for p in serving.more_like_this(w.films[7], viewer)] == [w.films[1].pk]


def test_cold_start_from_the_genres_chosen_and_popularity(taste):
    w = taste
    actions.train()
    newcomer = _member("newcomer", w.plan1, "94105")
    picks = serving.top_picks(newcomer, n=5)
    assert picks.cold_start and picks.items  # no signals: not an error
    newcomer = membership.set_favourite_genres(newcomer, ["drama"])
    picks = serving.top_picks(newcomer, n=5)
    assert {p.title.pk for p in picks.items[:4]} == {f.pk for f in w.dramas}
    assert any("Drama, which you like" in p.reason for p in picks.items)
    with pytest.raises(DomainError, match="Unknown genre"):
        membership.set_favourite_genres(newcomer, ["no-such-genre"])


def test_a_missing_or_old_model_file_falls_back_to_the_one_before_and_says_so(taste, recs_dir):
    w = taste
    first = actions.train(seed=1)
    second = actions.train(seed=2)
    assert ModelVersion.objects.get(pk=first.pk).status == "retired"
    (recs_dir / second.file).unlink()
    serving.forget_cache()
    picks = serving.top_picks(w.alice, n=5)
    assert picks.version == first.pk
    assert f"live model v{second.pk} could not be loaded" in picks.note
    assert "missing" in picks.note
    ModelVersion.objects.filter(pk=first.pk).update(format=engine.FORMAT - 1)
    serving.forget_cache()
    picks = serving.top_picks(w.alice, n=5)
    assert picks.version is None and picks.items and "most popular" in picks.note
    with pytest.raises(DomainError, match="older version"):
        actions.make_live(first.pk, actor="ops", why="try")


def test_switch_and_roll_back_are_recorded_with_who_and_why(taste, recs_dir):
    first = actions.train(seed=1)
    second = actions.train(seed=2, make_live=False)
    assert second.status == "trained"
    with pytest.raises(DomainError, match="Say why"):
        actions.make_live(second.pk, actor="ops", why=" ")
    actions.make_live(second.pk, actor="ops", why="better NDCG")
    assert ModelVersion.objects.get(status="live") == second
    back = actions.rollback(actor="ops", why="complaints")
    assert back == ModelVersion.objects.get(status="live") == ModelVersion.objects.get(pk=first.pk)
    change = LiveChange.objects.order_by("-id").first()
    assert (change.by, change.why, change.previous_id) == ("ops", "complaints", second.pk)
    with pytest.raises(DomainError):
        actions.make_live(999, actor="ops", why="x")


def test_retraining_is_deterministic_with_a_seed(taste, recs_dir):
    a = actions.train(seed=5, make_live=False)
    b = actions.train(seed=5, make_live=False)
    bundle_a = store.load(a.file, a.checksum, a.format)
    bundle_b = store.load(b.file, b.checksum, b.format)
    assert a.checksum == b.checksum
    assert (bundle_a.rank.b == bundle_b.rank.b).all()


def test_a_title_gone_since_training_is_not_served(taste):
    w = taste
    actions.train()
    extra = catalog.add_title(name="Short lived", year=2001, release_date=w.today, genres=["Drama"])
    # the model knows nothing of it; and a title the model knows that is gone is skipped
    model_titles = set(serving.live_bundle()[0].rank.titles.tolist())
    assert extra.pk not in model_titles
    picks = serving.top_picks(w.alice, n=20)
    assert all(p.title.pk != extra.pk for p in picks.items)


def test_pages_show_picks_to_members_only(taste, client):
    w = taste
    actions.train()
    rate_title(w.alice, w.comedies[0], 5)
    client.force_login(w.alice.user)
    assert client.get(reverse("home")).url == reverse("for_you")
    page = client.get(reverse("for_you")).content.decode()
    assert "Top picks for you" in page and f"Because you rated {w.comedies[0].name}" in page
    title_page = client.get(reverse("title_detail", args=[w.comedies[0].pk])).content.decode()
    assert "More like this" in title_page
    queue_page = client.get(reverse("queue")).content.decode()
    assert "Add next" in queue_page
    resp = client.post(reverse("set_genres"), {"genre": ["drama"]})
    assert resp.status_code == 302
    w.alice.refresh_from_db()
    assert w.alice.favourite_genres == "drama"
    client.force_login(w.staff["support_agent"])
    assert client.get(reverse("for_you")).status_code == 403
    client.logout()
    assert client.get(reverse("for_you")).status_code == 302


def test_api_gives_the_signed_in_members_own_picks(taste, client):
    w = taste
    actions.train()
    client.force_login(w.alice.user)
    body = client.get("/api/recommendations/top-picks?limit=3").json()
    assert len(body["picks"]) <= 3 and body["model_version"]
    assert all(p["reason"] for p in body["picks"])
    assert client.get("/api/recommendations/top-picks?limit=0").status_code == 422
    more = client.get(f"/api/recommendations/more-like/{w.films[0].pk}").json()
    assert isinstance(more, list)
    assert client.get("/api/recommendations/more-like/999999").status_code == 404
    assert client.get(f"/api/recommendations/stars/{w.films[1].pk}").status_code == 200
    client.force_login(w.staff["operations"])
    assert client.get("/api/recommendations/top-picks").status_code == 403
    client.logout()
    assert client.get("/api/recommendations/top-picks").status_code == 401


def test_cli_train_on_an_empty_database_says_so(db):
    from redenvelope.cli import app

    result = CliRunner().invoke(app, ["recs", "train"])
    assert result.exit_code == 2
    assert "Nothing to train on" in result.output


def test_genres_chosen_at_sign_up_are_kept(world, client):
    resp = client.post(
        reverse("join"),
        {
            "plan": "one",
            "first_name": "Gina",
            "last_name": "Genre",
            "email": "gina@example.com",
            "password": "a-long-enough-password",
            "street": "5 Elm St",
            "city": "New York",
            "state": "NY",
            "zip_code": "10003",
            "card_number": "4242424242424242",
            "exp_month": "12",
            "exp_year": "2040",
            "genre": ["drama", "comedy"],
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    from redenvelope.membership.models import Member

    gina = Member.objects.get(user__email="gina@example.com")
    assert gina.favourite_genres == "comedy,drama"


def test_popularity_per_region_and_nationally_with_or_without_regions():
    import numpy as np

    from redenvelope.recommendations.actions import _popularity

    imp = {
        "member_id": np.array([1, 1, 2, 2, 3, 3, 3, 4]),
        "title_id": np.array([10, 11, 10, 12, 10, 11, 11, 13]),
        "w": np.array([1, 1, 1, 1, 1, 0.6, 0.6, 0.2], np.float32),  # 4's signal is weak
    }
    got = _popularity(imp, {"member_id": np.array([3, 1, 2]), "region_id": np.array([8, 7, 7])})
    assert got["popular"].tolist() == [10, 11, 12] and got["popular_counts"].tolist() == [3, 2, 1]
    assert got["regions"].tolist() == [7, 8]
    a, b, c = got["region_indptr"].tolist()
    assert got["region_titles"][a:b].tolist() == [10, 11, 12]  # members 1 and 2
    assert got["region_counts"][a:b].tolist() == [2, 1, 1]
    assert got["region_titles"][b:c].tolist() == [10, 11]
    empty = np.zeros(0, np.int64)
    none = _popularity(imp, {"member_id": empty, "region_id": empty})
    assert none["regions"].size == 0 and none["region_indptr"].tolist() == [0]


def test_a_visitor_sees_more_like_this_only_among_released_first_discs(taste):
    w = taste
    actions.train()
    got = {p.title.pk for p in serving.more_like_this(w.films[0], None, n=20)}
    assert got and w.films[0].pk not in got
    assert w.unreleased.pk not in got
    assert not got & {d.pk for d in w.discs if (d.season, d.disc_number) != (1, 1)}
