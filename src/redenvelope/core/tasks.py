"""Scheduled jobs of the ground floor (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .mail import deliver


@db_periodic_task(crontab(minute="*"))
def deliver_mail():
    """Every minute: send the emails still queued (those a committing process left to the
    worker, or could not send)."""
    return deliver()
