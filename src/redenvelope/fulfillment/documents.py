"""Pick lists and mailing labels for a dispatch run, one pair of PDFs per DC (reportlab).

Pick lists are in shelf order (titles alphabetically, then barcode), as discs are shelved.
Labels carry the member's address, the DC's return address and the copy's barcode as Code 128,
which the return scan reads.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

from .models import DispatchRun, Shipment


def run_folder(run: DispatchRun) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "runs" / run.run_date.isoformat() / run.scope
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_run_documents(run: DispatchRun) -> list[Path]:
    rows = list(
        Shipment.objects.filter(run=run)
        .select_related("copy", "title", "dc", "member__user")
        .order_by("dc__code", "title__name", "copy__barcode")
    )
    paths: list[Path] = []
    by_dc: dict[str, list[Shipment]] = {}
    for s in rows:
        by_dc.setdefault(s.dc.code, []).append(s)
    folder = run_folder(run)
    for code, shipments in by_dc.items():
        paths.append(_pick_list(folder / f"{code}-picklist.pdf", run, shipments))
        paths.append(_labels(folder / f"{code}-labels.pdf", shipments))
    return paths


def _pick_list(path: Path, run: DispatchRun, shipments: list[Shipment]) -> Path:
    c = canvas.Canvas(str(path), pagesize=letter)
    width, height = letter
    dc = shipments[0].dc
    page = 1

    def header():
        c.setFont("Helvetica-Bold", 14)
        c.drawString(
            0.6 * inch,
            height - 0.7 * inch,
            f"Pick list — {dc.code} {dc.name} — {run.run_date:%A %B %-d, %Y}",
        )
        c.setFont("Helvetica", 9)
        c.drawString(
            0.6 * inch,
            height - 0.9 * inch,
            f"Run {run.pk}, {len(shipments)} discs, shelf order. Page {page}.",
        )
        c.setFont("Helvetica-Bold", 9)
        y0 = height - 1.2 * inch
        for x, label in (
            (0.6, "#"),
            (1.0, "Barcode"),
            (2.3, "Title"),
            (6.0, "Format"),
            (6.8, "Ship to"),
        ):
            c.drawString(x * inch, y0, label)
        c.setFont("Helvetica", 9)
        return y0 - 0.22 * inch

    y = header()
    for i, s in enumerate(shipments, start=1):
        if y < 0.7 * inch:
            c.showPage()
            page += 1
            y = header()
        c.drawString(0.6 * inch, y, str(i))
        c.drawString(1.0 * inch, y, s.copy.barcode)
        c.drawString(2.3 * inch, y, s.title.name[:62])
        c.drawString(6.0 * inch, y, s.copy.get_format_display())
        c.drawString(6.8 * inch, y, s.member.zip_code)
        y -= 0.2 * inch
    c.save()
    return path


def _labels(path: Path, shipments: list[Shipment]) -> Path:
    """Two columns of five 4 x 2 inch labels per letter page."""
    c = canvas.Canvas(str(path), pagesize=letter)
    w, h = 4 * inch, 2 * inch
    for i, s in enumerate(shipments):
        slot = i % 10
        if i and slot == 0:
            c.showPage()
        col, row = slot % 2, slot // 2
        x = 0.25 * inch + col * w
        y = letter[1] - 0.5 * inch - (row + 1) * h
        m = s.member
        c.setFont("Helvetica", 7)
        c.drawString(
            x + 0.15 * inch,
            y + h - 0.25 * inch,
            f"Red Envelope, {s.dc.name}, {s.dc.city}, {s.dc.state}",
        )
        c.setFont("Helvetica-Bold", 11)
        c.drawString(x + 0.15 * inch, y + h - 0.55 * inch, str(m)[:40])
        c.setFont("Helvetica", 10)
        c.drawString(x + 0.15 * inch, y + h - 0.75 * inch, m.street[:45])
        c.drawString(x + 0.15 * inch, y + h - 0.92 * inch, f"{m.city}, {m.state} {m.zip_code}")
        barcode = code128.Code128(s.copy.barcode, barHeight=0.45 * inch, barWidth=0.011 * inch)
        barcode.drawOn(c, x + 0.1 * inch, y + 0.3 * inch)
        c.setFont("Helvetica", 8)
        c.drawString(x + 0.15 * inch, y + 0.15 * inch, s.copy.barcode)
    c.save()
    return path
