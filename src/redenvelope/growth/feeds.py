"""Announcements as an Atom feed and as CSV, for whoever posts to social channels (nothing is
posted from here: no network)."""

from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

from django.conf import settings


def _url(link: str) -> str:
    return link if link.startswith("http") else settings.SITE_URL.rstrip("/") + link


def atom(posts) -> str:
    site = settings.SITE_URL.rstrip("/")
    posts = list(posts)
    updated = posts[0].publish_at.isoformat() if posts else "1970-01-01T00:00:00+00:00"
    entries = []
    for p in posts:
        link = _url(p.link or "/")
        entries.append(
            "<entry>"
            f"<id>{escape(site)}/announcements/{p.pk}</id>"
            f"<title>{escape(p.text[:80])}</title>"
            f'<link href="{escape(link)}"/>'
            f"<updated>{p.publish_at.isoformat()}</updated>"
            f'<category term="{escape(p.kind)}"/>'
            f'<content type="text">{escape(p.text)}</content>'
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(site)}/announcements.atom</id>"
        "<title>Red Envelope: new on the shelves</title>"
        f'<link rel="self" href="{escape(site)}/announcements.atom"/>'
        f"<updated>{updated}</updated>"
        "<author><name>Red Envelope</name></author>" + "".join(entries) + "</feed>\n"
    )


def as_csv(posts) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "kind", "publish_at", "text", "link"])
    for p in posts:
        w.writerow([p.pk, p.kind, p.publish_at.isoformat(), p.text, _url(p.link or "/")])
    return out.getvalue()
