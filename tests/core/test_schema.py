"""The database the migrations build has every index and constraint the models declare.

Django's AlterField can drop more than it was asked to on PostgreSQL (turning a foreign key's
own index off also dropped a partial unique index on the same column); the migration state then
still believes in a constraint the database no longer enforces. This test reads the database's
own catalog, so it fails on whichever backend lost one."""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db


def _constraints(table: str) -> dict:
    with connection.cursor() as cur:
        return connection.introspection.get_constraints(cur, table)


def test_every_declared_index_and_constraint_exists():
    missing = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        found = _constraints(model._meta.db_table)
        for item in [*model._meta.constraints, *model._meta.indexes]:
            if item.name not in found:
                missing.append(f"{model._meta.label}: {item.name}")
    assert missing == []


def test_the_one_open_shipment_per_disc_rule_is_unique_in_the_database():
    found = _constraints("fulfillment_shipment")["one_open_shipment_per_copy"]
    assert found["unique"] and found["columns"] == ["copy_id"]
