"""Scheduled job of insight (Huey): the reporting tables brought up to date every 15 minutes
(only what changed since the last refresh is read), so dashboards never compute from records."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task


@db_periodic_task(crontab(minute="*/15"))
@lock_task("insight-refresh")
def insight_refresh():
    from .refresh import refresh

    return refresh()


@db_task()
def answer_planner(run_id: int):
    from .actions import answer

    return answer(run_id).status
