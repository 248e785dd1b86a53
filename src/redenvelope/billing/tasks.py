"""Scheduled jobs of billing (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .actions import daily_billing


@db_periodic_task(crontab(hour="1", minute="0"))
def billing_daily():
    """The day's billing: the same path as `redenvelope billing run` (disputes and revenue
    recognition included)."""
    return daily_billing()
