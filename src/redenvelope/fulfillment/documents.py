"""Pick lists and mailing labels for a dispatch run, one pair of PDFs per DC (reportlab).

Pick lists are in shelf order (titles alphabetically, then barcode), as discs are shelved.
Labels carry the member's address, the DC's return address and the copy's barcode as Code 128,
which the return scan reads. The rows are read in one query; the DCs' PDFs are drawn in parallel
processes, with the Code 128 bars written as raw PDF rectangles (reportlab's barcode widget is
about three times slower, which matters on a national day of hundreds of thousands of labels).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from django.conf import settings
from reportlab.graphics.barcode.code128 import _patterns
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

from .models import DispatchRun

# Code 128: per symbol value, its bars as (offset, width) in modules, and its total width.
_SYMBOLS = {}
for _value, _pattern in _patterns.items():
    if isinstance(_value, int):
        _off, _bars = 0, []
        for _ch in _pattern:
            _w = ord(_ch.upper()) - 64
            if _ch.isupper():
                _bars.append((_off, _w))
            _off += _w
        _SYMBOLS[_value] = (_bars, _off)


def code128_symbols(value: str) -> list[int]:
    """Code set B for letters, switching to set C for an even run of digits (our barcodes)."""
    head = value.rstrip("0123456789")
    digits = value[len(head) :]
    if len(digits) % 2:
        head, digits = head + digits[0], digits[1:]
    symbols = [104] + [ord(ch) - 32 for ch in head]
    if digits:
        symbols.append(99)
        symbols += [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    check = symbols[0] + sum(i * v for i, v in enumerate(symbols[1:], start=1))
    return [*symbols, check % 103, 106]


@functools.cache
def _symbol_ops(module: float, height: float) -> dict[int, str]:
    ops = {}
    for v, (bars, width) in _SYMBOLS.items():
        rects = " ".join(
            f"{off * module:.3f} 0 {w * module:.3f} {height:.2f} re" for off, w in bars
        )
        ops[v] = f"{rects} f 1 0 0 1 {width * module:.3f} 0 cm"
    return ops


def run_folder(run: DispatchRun) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "runs" / run.run_date.isoformat() / run.scope
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_ROWS = """
    SELECT d.code, d.name, d.city, d.state, c.barcode, t.name, c.format, u.first_name,
           u.last_name, u.username, m.street, m.city, m.state, m.zip_code
    FROM fulfillment_shipment s
    JOIN inventory_distributioncenter d ON d.id = s.dc_id
    JOIN inventory_copy c ON c.id = s.copy_id
    JOIN catalog_title t ON t.id = s.title_id
    JOIN membership_member m ON m.id = s.member_id
    JOIN auth_user u ON u.id = m.user_id
    WHERE s.run_id = %s
    ORDER BY d.code, t.name, c.barcode
"""


def write_run_documents(run: DispatchRun, *, workers: int | None = None) -> list[Path]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_ROWS, [run.pk])
        rows = cur.fetchall()
    by_dc: dict[str, list[tuple]] = {}
    for r in rows:
        by_dc.setdefault(r[0], []).append(r)
    folder = run_folder(run)
    jobs = [
        (str(folder), code, run.pk, run.run_date.strftime("%A %B %-d, %Y"), dc_rows)
        for code, dc_rows in by_dc.items()
    ]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and sum(len(j[4]) for j in jobs) > 5000:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_dc_documents, jobs))
    else:
        done = [_dc_documents(j) for j in jobs]
    return [Path(p) for pair in done for p in pair]


def _dc_documents(job) -> tuple[str, str]:
    folder, code, run_id, day, rows = job
    pick = os.path.join(folder, f"{code}-picklist.pdf")
    labels = os.path.join(folder, f"{code}-labels.pdf")
    _pick_list(pick, run_id, day, rows)
    _labels(labels, rows)
    return pick, labels


class _Ops:
    """PDF content written as raw operators, one append per page (public drawString builds a
    text object per call, which is what makes a national day's labels slow)."""

    def __init__(self, c: canvas.Canvas):
        self.c = c
        self.parts: list[str] = []
        self.fonts = {
            name: c._doc.getInternalFontName(name) for name in ("Helvetica", "Helvetica-Bold")
        }

    def text(self, x: float, y: float, s: str, size: float, bold: bool = False) -> None:
        font = self.fonts["Helvetica-Bold" if bold else "Helvetica"]
        raw = self.c._escape(s.encode("cp1252", "replace"))
        self.parts.append(f"BT {font} {size} Tf {x:.2f} {y:.2f} Td ({raw}) Tj ET")

    def barcode(self, value: str, x: float, y: float, module: float, height: float) -> None:
        """Each symbol's bars are a pre-formatted path in its own coordinates; between symbols
        the origin moves right by the symbol's width."""
        ops = _symbol_ops(module, height)
        self.parts.append(
            f"q 1 0 0 1 {x:.2f} {y:.2f} cm "
            + " ".join(ops[v] for v in code128_symbols(value))
            + " Q"
        )

    def flush(self) -> None:
        if self.parts:
            self.c._code.append(" ".join(self.parts))
            self.parts = []


def _pick_list(path: str, run_id: int, day: str, rows: list[tuple]) -> None:
    c = canvas.Canvas(path, pagesize=letter)
    ops = _Ops(c)
    height = letter[1]
    per_page = 45
    pages = max(1, -(-len(rows) // per_page))
    for page in range(pages):
        if page:
            ops.flush()
            c.showPage()
        ops.text(
            0.6 * inch,
            height - 0.7 * inch,
            f"Pick list - {rows[0][0]} {rows[0][1]} - {day}",
            14,
            bold=True,
        )
        ops.text(
            0.6 * inch,
            height - 0.9 * inch,
            f"Run {run_id}, {len(rows)} discs, shelf order. Page {page + 1} of {pages}.",
            9,
        )
        y = height - 1.2 * inch
        for x, label in (
            (0.6, "#"),
            (1.0, "Barcode"),
            (2.3, "Title"),
            (6.0, "Format"),
            (6.8, "Ship to"),
        ):
            ops.text(x * inch, y, label, 9, bold=True)
        y -= 0.22 * inch
        for i in range(page * per_page, min(len(rows), (page + 1) * per_page)):
            r = rows[i]
            ops.text(0.6 * inch, y, str(i + 1), 9)
            ops.text(1.0 * inch, y, r[4], 9)
            ops.text(2.3 * inch, y, r[5][:62], 9)
            ops.text(6.0 * inch, y, "Blu-ray" if r[6] == "bluray" else "DVD", 9)
            ops.text(6.8 * inch, y, r[13], 9)
            y -= 0.2 * inch
    ops.flush()
    c.save()


def _labels(path: str, rows: list[tuple]) -> None:
    """Two columns of five 4 x 2 inch labels per letter page."""
    c = canvas.Canvas(path, pagesize=letter)
    ops = _Ops(c)
    w, h = 4 * inch, 2 * inch
    module = 0.011 * inch
    for i, r in enumerate(rows):
        slot = i % 10
        if i and slot == 0:
            ops.flush()
            c.showPage()
        col, row = slot % 2, slot // 2
        x = 0.25 * inch + col * w
        y = letter[1] - 0.5 * inch - (row + 1) * h
        name = f"{r[7]} {r[8]}".strip() or r[9]
        ops.text(x + 0.15 * inch, y + h - 0.25 * inch, f"Red Envelope, {r[1]}, {r[2]}, {r[3]}", 7)
        ops.text(x + 0.15 * inch, y + h - 0.55 * inch, name[:40], 11, bold=True)
        ops.text(x + 0.15 * inch, y + h - 0.75 * inch, r[10][:45], 10)
        ops.text(x + 0.15 * inch, y + h - 0.92 * inch, f"{r[11]}, {r[12]} {r[13]}", 10)
        ops.barcode(r[4], x + 0.2 * inch, y + 0.3 * inch, module, 0.45 * inch)
        ops.text(x + 0.15 * inch, y + 0.15 * inch, r[4], 8)
    ops.flush()
    c.save()
