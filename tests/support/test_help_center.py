"""The help center: staff write Markdown articles, anyone reads and searches, 'did this help?'."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from redenvelope.accounts.actions import issue_api_token
from redenvelope.core.errors import Conflict, DomainError, Forbidden
from redenvelope.support import actions as support
from redenvelope.support.models import Article, ArticleVote


@pytest.fixture
def art(world):
    return support.save_article(
        actor=world.staff["support_agent"],
        title="My disc never arrived",
        body="Report it from **your queue**.\n\n<script>alert(1)</script>",
    )


def test_articles_render_markdown_without_raw_html(art, client):
    html = client.get(reverse("help_article", kwargs={"slug": art.slug})).content.decode()
    assert "<strong>your queue</strong>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_search_and_votes(art, client, world):
    assert art.title in client.get(reverse("help_center"), {"q": "never arrived"}).content.decode()
    assert art.title not in client.get(reverse("help_center"), {"q": "streaming"}).content.decode()
    url = reverse("help_article", kwargs={"slug": art.slug})
    client.post(url, {"helpful": "no"})
    client.post(url, {"helpful": "yes"})  # a changed mind replaces the first answer
    assert list(ArticleVote.objects.values_list("helpful", flat=True)) == [True]
    client.force_login(world.alice.user)
    client.post(url, {"helpful": "yes"})
    assert ArticleVote.objects.count() == 2


def test_only_support_writes_and_bad_articles_are_refused(art, world):
    with pytest.raises(Forbidden):
        support.save_article(actor=world.alice.user, title="x", body="y")
    with pytest.raises(Forbidden):
        support.save_article(actor=world.staff["warehouse"], title="x", body="y")
    with pytest.raises(DomainError):
        support.save_article(actor=world.staff["support_agent"], title="", body="y")
    with pytest.raises(Conflict):
        support.save_article(actor=world.staff["support_lead"], title=art.title, body="again")
    assert Article.objects.count() == 1


def test_drafts_are_hidden_and_staff_edit_from_the_console(art, world, client):
    agent = Client()
    agent.force_login(world.staff["support_agent"])
    resp = agent.post(
        reverse("support_article_edit", kwargs={"article_id": art.pk}),
        {"title": art.title, "body": "Changed", "slug": art.slug},  # unchecked: a draft
    )
    assert resp.status_code == 302
    assert client.get(reverse("help_article", kwargs={"slug": art.slug})).status_code == 404
    assert art.title in agent.get(reverse("support_articles")).content.decode()
    member = Client()
    member.force_login(world.alice.user)
    assert member.get(reverse("support_articles")).status_code == 403


def test_articles_api(art, world):
    token = issue_api_token(world.alice.user, "t")
    alice = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [a["slug"] for a in alice.get("/api/support/articles?q=disc").json()] == [art.slug]
    body = json.dumps({"title": "Pausing", "body": "Go to your account."})
    assert (
        alice.post("/api/support/articles", body, content_type="application/json").status_code
        == 403
    )
    lead = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(world.staff['support_lead'], 't')}")
    assert (
        lead.post("/api/support/articles", body, content_type="application/json").status_code == 201
    )
