from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "redenvelope.ledger"
    label = "ledger"
    verbose_name = "General ledger"
