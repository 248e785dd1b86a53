from django.apps import AppConfig


class QueuesConfig(AppConfig):
    name = "redenvelope.queues"
    label = "queues"
