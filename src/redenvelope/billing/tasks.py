"""Scheduled jobs of billing (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .recognition import recognize_revenue
from .run import run_billing


@db_periodic_task(crontab(hour="1", minute="0"))
def billing_daily():
    """Statements due today, then the day's revenue moves from deferred to earned."""
    return run_billing(), recognize_revenue()
