"""A migration operation that turns a model's decimal amount columns into integer cents."""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.operations.base import Operation


class AmountsToCents(Operation):
    """Alter `fields` ({name: MoneyField}) of one model from two-decimal columns to integer
    cents, multiplying the stored amounts by 100 (rounded). All of a table's columns move in one
    statement, so checks between them (paid ≤ due) hold throughout: PostgreSQL in one ALTER TABLE
    ... USING; SQLite in one UPDATE, then the table remade with the new column types."""

    reversible = True

    def __init__(self, model_name: str, fields: dict):
        self.model_name = model_name
        self.fields = fields

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name, self.fields], {})

    def _alters(self):
        return [
            migrations.AlterField(self.model_name, name, field)
            for name, field in self.fields.items()
        ]

    def state_forwards(self, app_label, state):
        for op in self._alters():
            op.state_forwards(app_label, state)

    def _convert(self, schema_editor, model, to_type: str, expr: str) -> None:
        qn = schema_editor.quote_name
        cols = [qn(model._meta.get_field(n).column) for n in self.fields]
        table = qn(model._meta.db_table)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {table} "
                + ", ".join(
                    f"ALTER COLUMN {c} TYPE {to_type} USING {expr.format(c=c)}" for c in cols
                )
            )
        else:
            schema_editor.execute(
                f"UPDATE {table} SET "  # noqa: S608 (quoted names from the model)
                + ", ".join(f"{c} = {expr.format(c=c)}" for c in cols)
            )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        old = from_state.apps.get_model(app_label, self.model_name)
        new = to_state.apps.get_model(app_label, self.model_name)
        self._convert(schema_editor, old, "bigint", "CAST(ROUND({c} * 100) AS BIGINT)")
        if schema_editor.connection.vendor != "postgresql":
            for name in self.fields:
                schema_editor.alter_field(new, old._meta.get_field(name), new._meta.get_field(name))
                old = new

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        cents = from_state.apps.get_model(app_label, self.model_name)
        decimal = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor == "postgresql":
            self._convert(schema_editor, cents, "numeric(14, 2)", "{c} / 100.0")
            return
        for name in self.fields:
            schema_editor.alter_field(
                decimal, cents._meta.get_field(name), decimal._meta.get_field(name)
            )
        self._convert(schema_editor, decimal, "", "{c} / 100.0")

    def describe(self):
        return f"Store {self.model_name}'s amounts ({', '.join(self.fields)}) as integer cents"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name}_amounts_in_cents"
