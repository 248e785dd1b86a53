"""Scheduled jobs of growth (Huey): the daily commission settlement, the weekly newsletter,
and sending an issue."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="6", minute="10"))
def growth_daily_commissions():
    """Each morning: commissions earned, released after their hold, and reversed."""
    from .actions import settle_commissions

    return settle_commissions()


@db_periodic_task(crontab(day_of_week="2", hour="9", minute="0"))
def growth_weekly_newsletter():
    """Tuesdays at 9: the week's issue built, queued and sent (an issue already queued by hand
    is left alone, and sent if it is waiting)."""
    from redenvelope.core.errors import DomainError

    from .models import Issue
    from .newsletter import build_issue, queue_issue

    try:
        issue = build_issue()
        queue_issue(issue)
    except DomainError as exc:
        log.warning("newsletter: %s", exc.message)
        issue = Issue.objects.filter(status__in=["queued", "sending"]).first()
    if issue is not None:
        send_newsletter(issue.pk)


@db_periodic_task(crontab(minute="25"))
def growth_resume_newsletter():
    """Hourly: an issue left sending (a sender that stopped on a broken server, retries that
    came due, a worker restarted) is picked up again; one being sent is left alone."""
    from .models import Issue

    for issue_id in Issue.objects.filter(status="sending", sender="").values_list("pk", flat=True):
        send_newsletter(issue_id)


@db_task()
def send_newsletter(issue_id: int):
    """Send an issue's queued deliveries (another sender at work: nothing to do)."""
    from redenvelope.core.errors import Conflict

    from .models import Issue
    from .newsletter import send_issue

    try:
        result = send_issue(Issue.objects.get(pk=issue_id))
    except Conflict as exc:
        log.info("newsletter %s: %s", issue_id, exc.message)
        return None
    return {"sent": result.sent, "failed": result.failed, "stopped": result.stopped}
