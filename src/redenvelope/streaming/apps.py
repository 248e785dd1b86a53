from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "redenvelope.streaming"
    label = "streaming"
    verbose_name = "Streaming"
