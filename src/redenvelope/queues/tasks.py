"""Scheduled jobs of the queues domain (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import actions


@db_periodic_task(crontab(hour="0", minute="5"))
def release_saved_titles_daily():
    return actions.release_saved_titles()


@db_periodic_task(crontab(hour="3", minute="30"))
def purge_cancelled_queues_daily():
    return actions.purge_cancelled_queues()
