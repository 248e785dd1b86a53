from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from redenvelope.api import api
from redenvelope.billing import views as billing_views
from redenvelope.fulfillment import views as fulfillment_views
from redenvelope.web import account, views

admin.site.site_header = "Red Envelope back office"
admin.site.site_title = "Red Envelope"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("home/", views.home, name="home"),
    path("login/", account.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/", account.join, name="join"),
    path("join/continue/", views.join_or_sign_in, name="join_or_sign_in"),
    path("account/", account.account, name="account"),
    path("account/do/", account.account_action, name="account_action"),
    path("account/verify/<str:token>/", account.verify_email, name="verify_email"),
    path("account/verify-again/", account.resend_verification, name="resend_verification"),
    path("email/unsubscribe/<str:token>/", account.unsubscribe, name="unsubscribe"),
    path("password/reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="web/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="web/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="web/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:title_id>/", views.title_detail, name="title_detail"),
    path("queue/", views.queue, name="queue"),
    path("queue/change/", views.queue_change, name="queue_change"),
    path("queue/added/", views.complete_add, name="complete_add"),
    path("history/", views.history, name="history"),
    path("ratings/", views.my_ratings, name="my_ratings"),
    path("ratings/rate-what-you-saw/", views.rate_seen, name="rate_seen"),
    path("ratings/rate/", views.rate, name="rate"),
    path("queue/report/", views.report_problem, name="report_problem"),
    path("account/billing/", billing_views.member_billing, name="billing"),
    path("account/billing/do/", billing_views.member_action, name="billing_action"),
    path(
        "billing/statements/<int:statement_id>.pdf",
        billing_views.statement_download,
        name="statement_pdf",
    ),
    path("gifts/", billing_views.gifts, name="gifts"),
    path("finance/", billing_views.finance_index, name="finance"),
    path("finance/reports/<slug:name>/", billing_views.report, name="finance_report"),
    path(
        "finance/members/<int:member_id>/",
        billing_views.staff_member,
        name="staff_member_billing",
    ),
    path(
        "finance/members/<int:member_id>/do/",
        billing_views.staff_member_action,
        name="staff_member_billing_action",
    ),
    path("finance/outages/", billing_views.outages, name="outages"),
    path("warehouse/returns/", fulfillment_views.scan_desk, name="scan_desk"),
    path("warehouse/returns/scan/", fulfillment_views.scan, name="scan"),
    path("warehouse/returns/csv/", fulfillment_views.scan_csv, name="scan_csv"),
    path(
        "warehouse/returns/members-discs/<int:scan_id>/mailed/",
        fulfillment_views.members_disc_mailed,
        name="members_disc_mailed",
    ),
    path("operations/dispatch/", fulfillment_views.dispatch_overview, name="dispatch_overview"),
    path("warehouse/runs/<int:run_id>/", fulfillment_views.run_documents, name="run_documents"),
    path(
        "warehouse/runs/<int:run_id>/<str:name>",
        fulfillment_views.run_document,
        name="run_document",
    ),
    path("", include("redenvelope.support.urls")),
    path("", include("redenvelope.streaming.urls")),
    path("", include("redenvelope.recommendations.urls")),
    path("", include("redenvelope.growth.urls")),
    path("", include("redenvelope.rights.urls")),
    path("", include("redenvelope.payables.urls")),
    path("", include("redenvelope.insight.urls")),
    path("", include("redenvelope.workforce.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
