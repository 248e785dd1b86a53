from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "redenvelope.insight"
    label = "insight"
    verbose_name = "Insight"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Schema upkeep, not a side door into a domain: the reporting views are set aside
        # while migrations change tables (see reporting.py) and put back after.
        from django.db.models.signals import post_migrate, pre_migrate

        pre_migrate.connect(_views_aside, sender=self, dispatch_uid="insight-views-aside")
        post_migrate.connect(_views_back, sender=self, dispatch_uid="insight-views-back")


def _views_aside(sender, using="default", plan=None, **kwargs) -> None:
    from django.db import connections

    from .reporting import drop_views

    if plan:  # only when there is something to migrate
        drop_views(connections[using])


def _views_back(sender, using="default", **kwargs) -> None:
    from django.db import connections

    from .reporting import create_views

    create_views(connections[using])
