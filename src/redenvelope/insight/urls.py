from django.urls import path, re_path

from . import views

urlpatterns = [
    path("insight/", views.home, name="insight"),
    path("insight/planner/", views.planner, name="planner"),
    path("insight/<slug:slug>/", views.dashboard, name="insight_dashboard"),
    re_path(
        r"^insight/(?P<slug>[-\w]+)/(?P<chart>[-\w]+)\.(?P<fmt>csv|parquet)$",
        views.export,
        name="insight_export",
    ),
]
