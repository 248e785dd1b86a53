from django.urls import path

from . import views

urlpatterns = [
    path("support/", views.console, name="support_console"),
    path("support/calls/ringing/", views.ringing, name="support_ringing"),
    path("support/members/<int:member_id>/", views.member, name="support_member"),
    path("support/members/<int:member_id>/cases/", views.open_case, name="support_open_case"),
    path("support/members/<int:member_id>/close/", views.close_member, name="support_close"),
    path(
        "support/members/<int:member_id>/devices/<int:device_id>/remove/",
        views.remove_device,
        name="support_remove_device",
    ),
    path("support/cases/<int:case_id>/", views.case, name="support_case"),
    path("support/cases/<int:case_id>/do/", views.case_do, name="support_case_do"),
    path("support/approvals/", views.approvals, name="support_approvals"),
    path("support/approvals/<int:approval_id>/", views.decide, name="support_decide"),
    path("support/flags/", views.flags, name="support_flags"),
    path("support/reports/<slug:name>/", views.report, name="support_report"),
    path("support/flags/<int:flag_id>/clear/", views.clear_flag, name="support_clear_flag"),
    path("support/chats/", views.chats_waiting, name="support_chats"),
    path("support/cases/<int:case_id>/log/", views.case_log, name="support_case_log"),
    path("help/chat/", views.chat_panel, name="chat_panel"),
    path("help/chat/send/", views.chat_send, name="chat_send"),
    path("help/cases/<int:case_id>/transcript/", views.chat_transcript, name="chat_transcript"),
    path("help/", views.help_center, name="help_center"),
    path("help/survey/<str:token>/", views.survey, name="support_survey"),
    path("help/articles/<slug:slug>/", views.article, name="help_article"),
    path("support/articles/", views.articles_admin, name="support_articles"),
    path("support/articles/new/", views.article_edit, name="support_article_new"),
    path("support/articles/<int:article_id>/", views.article_edit, name="support_article_edit"),
    path("help/cases/", views.my_cases, name="my_cases"),
    path("help/queue/restore/", views.restore_queue, name="restore_queue"),
    path("help/cases/new/", views.my_new_case, name="my_new_case"),
    path("help/own-disc/", views.my_own_disc, name="my_own_disc"),
    path("help/cases/<int:case_id>/", views.my_case, name="my_case"),
]
