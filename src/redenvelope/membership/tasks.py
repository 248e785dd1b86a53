"""Scheduled jobs of the membership domain (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from redenvelope.accounts import throttle

from . import actions


@db_periodic_task(crontab(hour="6", minute="0"))
def hold_notices_daily():
    """Members whose vacation hold starts or ends today hear of it (keyed: a rerun adds none)."""
    return actions.send_hold_notices()


@db_periodic_task(crontab(hour="4", minute="10"))
def forget_old_login_failures_daily():
    return throttle.forget_old()
