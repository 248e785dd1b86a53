"""A set-wise writer and a request writing the same table at the same time never take the same
id: bulk writers number their rows from the table's sequence (or let the database number
them), never from the highest id they can see."""

import datetime as dt
import threading

import numpy as np
import pytest
from django.db import connection, transaction

from redenvelope.core.bulk import new_ids
from redenvelope.ledger.actions import Line, ensure_chart, post_bulk, post_entry
from redenvelope.ledger.models import JournalEntry, JournalLine


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL")
def test_a_bulk_posting_and_a_single_entry_written_at_once_both_land():
    ensure_chart()
    written, errors = threading.Event(), []
    inside = threading.Event()

    def one_entry():
        try:
            inside.wait(10)  # while the bulk posting's transaction is open
            post_entry(
                "credit",
                [Line("4900", debit="1.00"), Line("2200", credit="1.00")],
                memo="a staff credit meanwhile",
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            written.set()
            connection.close()

    t = threading.Thread(target=one_entry)
    t.start()
    with transaction.atomic():
        ids = post_bulk(
            "credit",
            effective_date=dt.date(2026, 4, 1),
            memo="bulk",
            member_ids=np.arange(1, 51),
            keys=None,
            lines=[ln for i in range(50) for ln in ((i, "4900", 100, 0), (i, "2200", 0, 100))],
        )
        inside.set()
        assert written.wait(10)  # the other entry committed while this one was open
    t.join()
    assert errors == []
    assert JournalEntry.objects.count() == 51 and JournalLine.objects.count() == 102
    assert len(set(ids.tolist())) == 50


@pytest.mark.django_db
def test_new_ids_ascend_and_are_free():
    ensure_chart()
    post_entry("credit", [Line("4900", debit="1.00"), Line("2200", credit="1.00")], memo="one")
    ids = new_ids("ledger_journalentry", 5)
    assert (np.diff(ids) > 0).all()
    assert not JournalEntry.objects.filter(pk__in=ids.tolist()).exists()
