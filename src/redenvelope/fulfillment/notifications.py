"""Emails to members about their discs, rendered from a run's arrays and queued to the outbox
in the run's transaction (delivered after the commit, in batches: `core.mail`)."""

from __future__ import annotations

import numpy as np

from redenvelope.core.mail import queue_emails

CLOSING = (
    "\n\nWhen you are done, mail each disc back in its prepaid envelope and the next "
    "title in your queue ships.\n\nRed Envelope"
)


def queue_run_emails(run, result, people: dict, dc_city: dict[int, str]) -> int:
    """One email per member telling what ships today and from where. `people` is the run's
    members sorted by id with their names and email (and every title's name under "titles"),
    `dc_city` each DC's city. Returns how many were queued."""
    n = len(result.member_id)
    if n == 0:
        return 0
    member = result.member_id.astype(np.int64)
    # Titles by name, as a rank per title id: the sort is of the catalog's few thousand names,
    # not of the run's hundreds of thousands of lines.
    titles = people["titles"]
    ids = np.fromiter(titles, np.int64, len(titles))
    by_name = sorted(range(len(ids)), key=lambda i: titles[int(ids[i])])
    rank_of = np.empty(len(ids), np.int64)
    rank_of[by_name] = np.arange(len(ids))
    id_order = np.argsort(ids)
    title = result.title_id.astype(np.int64)
    rank = rank_of[id_order[np.searchsorted(ids[id_order], title)]]
    order = np.lexsort((rank, member))  # by member, then title name
    member, title, dcs = member[order], title[order].tolist(), result.dc_id[order].tolist()
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]])
    ends = np.r_[starts[1:], n].tolist()
    at = np.searchsorted(people["id"], member[starts])
    emails = people["email"][at].tolist()
    first = people["first_name"][at].tolist()
    usernames = people["username"][at].tolist()
    when = f"{run.run_date:%B %-d}"
    # One line per (title, DC) in the run: rendered once each.
    line = {}
    for t, d in zip(title, dcs, strict=True):
        if (t, d) not in line:
            line[t, d] = f"  • {titles[t]} — from our {dc_city.get(d, '')} center"
    lines = [line[t, d] for t, d in zip(title, dcs, strict=True)]
    cols: dict[str, list] = {c: [] for c in ("key", "member_id", "to", "subject", "body")}
    prefix = f"shipped:{run.pk}:"
    opening = f",\n\nOn its way to you today ({when}):\n"
    members = member[starts].tolist()
    for j, (s, e) in enumerate(zip(starts.tolist(), ends, strict=True)):
        if not emails[j]:
            continue
        m = members[j]
        cols["key"].append(prefix + str(m))
        cols["member_id"].append(m)
        cols["to"].append(emails[j])
        cols["subject"].append(
            "Your disc is on its way" if e - s == 1 else f"{e - s} discs are on their way"
        )
        cols["body"].append(
            "Hello " + (first[j] or usernames[j]) + opening + "\n".join(lines[s:e]) + CLOSING
        )
    cols["kind"] = ["shipped"] * len(cols["key"])
    return queue_emails(cols, new_keys=True)  # keys name this run


def queue_received_emails(shipment_ids) -> int:
    """ "We got it back" to each member whose shipment a return closed (the scan desk's one at a
    time and the bulk check-in's many: the same email, keyed by shipment, so a rerun adds none).
    Queued in the caller's transaction; returns how many were added."""
    from django.db import connection

    from redenvelope.core.bulk import temp_table
    from redenvelope.membership.emails import SIGN_OFF

    ids = np.unique(np.asarray(list(shipment_ids), np.int64))
    if len(ids) == 0:
        return 0
    temp_table("received_ids", "id bigint", {"id": ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.member_id, u.email, u.first_name, u.username, t.name "
            "FROM received_ids r JOIN fulfillment_shipment s ON s.id = r.id "
            "JOIN membership_member m ON m.id = s.member_id "
            "JOIN auth_user u ON u.id = m.user_id "
            "JOIN catalog_title t ON t.id = s.title_id "
            "WHERE u.email <> '' ORDER BY s.id"
        )
        rows = cursor.fetchall()
    cols: dict[str, list] = {c: [] for c in ("key", "kind", "member_id", "to", "subject", "body")}
    for sid, member_id, email, first, username, title in rows:
        cols["key"].append(f"received:{sid}")
        cols["kind"].append("received")
        cols["member_id"].append(member_id)
        cols["to"].append(email)
        cols["subject"].append(f"We got {title} back")
        cols["body"].append(
            f"Hello {first or username},\n\n{title} is back with us, thank you. The next disc "
            "in your queue ships at the next cut-off." + SIGN_OFF
        )
    return queue_emails(cols)
