"""No page reads row by row: each page's number of SQL queries is the same for a member (and a
catalog) ten times bigger."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from redenvelope.catalog import actions as catalog
from redenvelope.fulfillment.actions import scan_return, ship_copy
from redenvelope.queues import actions as queues
from redenvelope.ratings.actions import rate_title

PAGES = [
    "/",
    "/catalog/",
    "/catalog/?q=grow",
    "/catalog/?list=new",
    "/catalog/{title}/",
    "/queue/",
    "/for-you/",
    "/history/",
    "/ratings/",
    "/ratings/rate-what-you-saw/",
    "/account/",
]


def grow(world, n):
    """n more titles (all in the queue), n discs had and returned, n ratings, n holds' worth
    of history: what a long-standing member and a bigger catalog look like."""
    past = world.today - dt.timedelta(days=30)
    made = [
        catalog.add_title(
            name=f"Grow {len(world.grown) + i}",
            year=2001,
            release_date=past,
            genres=["Drama", "Comedy"],
        )
        for i in range(n)
    ]
    world.grown += made
    for t in made:
        queues.add_to_queue(world.alice, t)
    for t in made[: n // 2]:
        copy = world.new_copy(t)
        ship_copy(world.alice, copy)
        scan_return(copy.barcode, world.ewr)
        rate_title(world.alice, t, 3)
        world.new_copy(t)


def counts(client, world):
    out = {}
    for path in PAGES:
        url = path.format(title=world.grown[0].pk)
        cache.clear()  # cached reads count as the first visit's
        with CaptureQueriesContext(connection) as ctx:
            resp = client.get(url)
        assert resp.status_code == 200, url
        out[path] = len(ctx.captured_queries)
    return out


@pytest.mark.django_db
def test_page_queries_do_not_grow_with_the_data(member_client, world, settings, tmp_path):
    from redenvelope.recommendations import actions as recs
    from redenvelope.recommendations import serving

    settings.REDENVELOPE = {**settings.REDENVELOPE, "RECS_DIR": str(tmp_path)}
    world.grown = []
    grow(world, 4)
    recs.train()
    serving.top_picks(world.alice)  # the model loaded once per process, as a server has it
    small = counts(member_client, world)
    grow(world, 36)
    recs.train()
    serving.top_picks(world.alice)
    big = counts(member_client, world)
    serving.forget_cache()
    assert big == small
