from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "redenvelope.catalog"
    label = "catalog"
