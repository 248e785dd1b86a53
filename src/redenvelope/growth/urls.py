from django.urls import path

from . import views

urlpatterns = [
    path("r/<slug:code>/", views.click, name="affiliate_click"),
    path("partners/", views.partner_dashboard, name="partner_dashboard"),
    path("partners/<int:partner_id>/", views.partner_dashboard, name="partner_dashboard_for"),
    path("newsletter/", views.subscribe, name="newsletter_subscribe"),
    path("newsletter/confirm/<str:token>/", views.confirm, name="newsletter_confirm"),
    path("n/u/<str:token>/", views.unsubscribe, name="newsletter_unsubscribe"),
    path("n/o/<str:token>.gif", views.opened, name="newsletter_open"),
    path("n/c/<str:token>/<int:title_id>/", views.clicked, name="newsletter_click"),
    path("growth/", views.overview, name="growth"),
    path("growth/do/", views.overview_action, name="growth_action"),
    path("growth/issues/<int:issue_id>/", views.issue_page, name="newsletter_issue"),
    path("growth/issues/<int:issue_id>/preview/", views.issue_preview, name="newsletter_preview"),
    path("growth/reports/<slug:name>/", views.report, name="growth_report"),
    path("announcements.atom", views.feed, name="announcements_feed"),
    path("announcements.csv", views.feed_csv, name="announcements_csv"),
]
