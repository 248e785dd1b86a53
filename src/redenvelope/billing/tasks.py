"""Scheduled jobs of billing (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .run import run_billing


@db_periodic_task(crontab(hour="1", minute="0"))
def billing_daily():
    return run_billing()
