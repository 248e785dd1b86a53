from django.apps import AppConfig


class MembershipConfig(AppConfig):
    name = "redenvelope.membership"
    label = "membership"
