"""Service levels on a 24/7 clock, and the survey after resolution."""

import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.support import actions as support
from redenvelope.support.models import Survey


def test_first_response_targets_run_around_the_clock(world):
    night = timezone.make_aware(dt.datetime(2026, 12, 5, 3, 0))  # 3 a.m. on a Saturday
    with clock.frozen(night):
        case = support.open_case(
            world.alice, channel="chat", subject="Hi", body="?", actor=world.alice.user
        )
    sla = support.sla(case, now=night + dt.timedelta(minutes=4))
    assert not sla["first_breached"] and sla["first_due"] == night + dt.timedelta(minutes=5)
    assert support.sla(case, now=night + dt.timedelta(minutes=6))["first_breached"]
    with clock.frozen(night + dt.timedelta(minutes=3)):
        support.add_interaction(
            case, kind="chat", body="Hello!", actor=world.staff["support_agent"]
        )
    case.refresh_from_db()
    assert not support.sla(case, now=night + dt.timedelta(hours=2))["first_breached"]
    agent = Client()
    agent.force_login(world.staff["support_agent"])
    with clock.frozen(night + dt.timedelta(days=2)):
        html = agent.get(reverse("support_console")).content.decode()
    assert "Resolution late" in html or "late" in html


def test_survey_after_resolution_by_email_link(world, smtp, emails_at_once, client):
    case = support.open_case(
        world.alice, channel="web", subject="Billing", body="?", actor=world.alice.user
    )
    agent = world.staff["support_agent"]
    support.add_interaction(case, kind="chat", body="Fixed it", actor=agent)
    support.set_status(case, "resolved", actor=agent)
    support.set_status(case, "closed", actor=agent)  # asked once
    (mail,) = [m for m in smtp.messages if "How did we do" in m[1]]
    link = next(w for w in mail[2].split() if "/help/survey/" in w)
    path = link[link.index("/help/survey/") :]
    assert client.get(path).status_code == 200  # no sign-in needed
    client.post(path, {"score": "9"})
    assert Survey.objects.get().score is None  # refused
    client.post(path, {"score": "5", "comment": "Quick and kind"})
    s = Survey.objects.get()
    assert (s.score, s.comment, s.agent, s.channel) == (5, "Quick and kind", agent, "web")
    assert client.get("/help/survey/forged-token/").status_code == 404
