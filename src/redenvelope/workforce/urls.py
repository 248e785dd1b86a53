from django.urls import path

from . import views

urlpatterns = [
    path("workforce/", views.overview, name="workforce"),
    path("workforce/do/", views.overview_action, name="workforce_action"),
    path("workforce/rotas/<int:rota_id>/", views.rota, name="workforce_rota"),
    path("workforce/me/", views.me, name="workforce_me"),
    path("workforce/people/<int:employee_id>/", views.employee, name="workforce_employee"),
    path("workforce/payroll/<int:run_id>.csv", views.payroll_csv, name="workforce_payroll_csv"),
    path("workforce/reports/<slug:name>/", views.report, name="workforce_report"),
]
