"""The database side of money: a column of integer cents that Python sees as a Decimal."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Value

from redenvelope.core.errors import DomainError

from .money import from_cents, to_cents


class MoneyField(models.BigIntegerField):
    """Integer cents in the database (exact sums on SQLite and PostgreSQL alike); a Decimal of
    whole cents in Python, forms and the admin. Assigning a Decimal, str or int dollars stores
    it rounded half-up to the cent; floats are refused."""

    description = "An amount of money, stored as integer cents"

    def from_db_value(self, value, expression, connection):
        return None if value is None else from_cents(value)

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return from_cents(to_cents(value))
        except DomainError as e:
            raise ValidationError(e.message, code="invalid") from None

    def get_prep_value(self, value):
        if value is None:
            return None
        if hasattr(value, "resolve_expression"):
            return value
        return to_cents(value)

    def formfield(self, **kwargs):
        from django import forms

        return models.Field.formfield(
            self,
            **{"form_class": forms.DecimalField, "max_digits": 12, "decimal_places": 2, **kwargs},
        )


def money_value(amount) -> Value:
    """An amount as an SQL value in cents, for expressions such as F("refunded") + amount."""
    return Value(from_cents(to_cents(amount)), output_field=MoneyField())
