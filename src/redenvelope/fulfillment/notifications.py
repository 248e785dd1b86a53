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
    titles = people["titles"]
    names = np.array([titles[t] for t in result.title_id.tolist()], dtype=str)
    order = np.lexsort((names, member))  # by member, then title
    member, names, dcs = member[order], names[order], result.dc_id[order].tolist()
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]])
    ends = np.r_[starts[1:], n].tolist()
    at = np.searchsorted(people["id"], member[starts])
    emails = people["email"][at].tolist()
    first = people["first_name"][at].tolist()
    usernames = people["username"][at].tolist()
    when = f"{run.run_date:%B %-d}"
    cols: dict[str, list] = {c: [] for c in ("key", "kind", "member_id", "to", "subject", "body")}
    names = names.tolist()
    for j, (s, e) in enumerate(zip(starts.tolist(), ends, strict=True)):
        if not emails[j]:
            continue
        m = int(member[s])
        lines = "\n".join(
            f"  • {names[k]} — from our {dc_city.get(dcs[k], '')} center" for k in range(s, e)
        )
        cols["key"].append(f"shipped:{run.pk}:{m}")
        cols["kind"].append("shipped")
        cols["member_id"].append(m)
        cols["to"].append(emails[j])
        cols["subject"].append(
            "Your disc is on its way" if e - s == 1 else f"{e - s} discs are on their way"
        )
        cols["body"].append(
            f"Hello {first[j] or usernames[j]},\n\nOn its way to you today ({when}):\n"
            + lines
            + CLOSING
        )
    return queue_emails(cols, new_keys=True)  # keys name this run
