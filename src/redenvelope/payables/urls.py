from django.urls import path

from . import views

urlpatterns = [
    path("payables/", views.overview, name="payables"),
    path("payables/do/", views.overview_action, name="payables_action"),
    path("payables/runs/<int:run_id>/file/", views.run_file, name="payables_run_file"),
    path("payables/receiving/", views.receiving, name="payables_receiving"),
    path("payables/orders/<int:order_id>/", views.order, name="payables_order"),
    path("payables/plan/", views.plan, name="payables_plan"),
    path("payables/reports/<slug:name>/", views.report, name="payables_report"),
]
