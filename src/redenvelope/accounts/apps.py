from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "redenvelope.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
