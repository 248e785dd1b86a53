"""Pick lists and mailing labels for a dispatch run, one pair of PDFs per DC (reportlab).

Pick lists are in shelf order (titles alphabetically, then barcode), as discs are shelved.
Labels carry the member's address, the DC's return address and the copy's barcode as Code 128,
which the return scan reads. The rows are read in one query; the DCs' PDFs are drawn in parallel
processes, written by `core.pdf` (plain pages of text and rectangles; reportlab's page objects
were half the time of a national day's labels), with the Code 128 bars as raw PDF rectangles
(reportlab's barcode widget is about three times slower; its symbol table is used).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numpy as np
from django.conf import settings
from reportlab.graphics.barcode.code128 import _patterns
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch

from redenvelope.core.pdf import PdfWriter, literal

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
"""


# A DC's pick list and labels come in parts of at most this many discs (a national day's big
# DC would otherwise be one 20,000-page file); parts are what the worker processes share out.
PART = 40_000
# Runs of more discs than this are drawn by forked workers; smaller ones in-process.
FORK_ABOVE = 5000


def _plan(counts: dict[str, int]) -> list[tuple[str, str, str, int, int]]:
    """(file name, kind, DC code, part, parts) for each document of a run, from the discs each
    DC ships."""
    jobs = []
    for code, n in sorted(counts.items()):
        parts = max(1, -(-n // PART))
        for kind in ("picklist", "labels"):
            for part in range(parts):
                name = f"{code}-{kind}.pdf" if parts == 1 else f"{code}-{kind}-{part + 1}.pdf"
                jobs.append((name, kind, code, part, parts))
    return jobs


def _draw(
    folder: str, run_id: int, day: str, jobs, make_rows, nice: int = 0, parent: int = 0
) -> None:
    if nice:
        os.nice(nice)
    rows = shelf_order(make_rows({code for _, _, code, _, _ in jobs}))
    by_dc: dict[str, list[tuple]] = {}
    for r in rows:
        by_dc.setdefault(r[0], []).append(r)
    for name, kind, code, part, parts in jobs:
        if parent and os.getppid() != parent:
            os._exit(1)  # the run died (killed): its documents are never wanted
        path = os.path.join(folder, name)
        part_rows = by_dc[code][part * PART : (part + 1) * PART]
        if kind == "picklist":
            _pick_list(path, run_id, day, part_rows, part=(part, parts))
        else:
            _labels(path, part_rows)


def _share(jobs, counts: dict[str, int], workers: int) -> list[list]:
    """Jobs dealt to workers, biggest first to the least loaded (labels cost about three
    times a pick list's row)."""

    def cost(job) -> float:
        name, kind, code, part, parts = job
        n = min(PART, counts[code] - part * PART)
        return n * (3 if kind == "labels" else 1)

    loads = [[0.0, []] for _ in range(workers)]
    for job in sorted(jobs, key=lambda j: -cost(j)):
        least = min(loads, key=lambda x: x[0])
        least[0] += cost(job)
        least[1].append(job)
    return [w[1] for w in loads if w[1]]


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def sweep_partial(folder: Path) -> int:
    """Remove what runs killed while drawing left behind (hidden `.partial-<pid>-*` folders
    whose process is gone); returns how many."""
    import shutil

    gone = 0
    for path in folder.glob(".partial-*"):
        if not _alive(path.name.split("-")[1]):
            shutil.rmtree(path, ignore_errors=True)
            gone += 1
    return gone


def shelf_order(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: (r[0], r[5], r[4]))


class Renderer:
    """Draws a run's pick lists and labels while the caller goes on (writing the run): forked
    worker processes inherit what makes the rows (no copying through pipes), make them and
    write into a hidden folder; `finish()`, after the run has committed, waits for them and
    moves the files into the run's folder; `abandon()`, when the run failed, stops them and
    leaves nothing behind. Small runs are drawn in-process at `finish()`.

    `make_rows(codes)` gives the rows `_ROWS` reads (any order) of the DCs with those codes;
    `counts` the discs per DC code.
    The workers never touch the database (a forked connection is the parent's)."""

    def __init__(
        self,
        run: DispatchRun,
        make_rows,
        counts: dict[str, int],
        *,
        workers: int | None = None,
    ):
        import multiprocessing
        import tempfile

        self.run = run
        self.make_rows = make_rows
        self.folder = run_folder(run)
        sweep_partial(self.folder)
        # Named by this process, so a later run can tell a killed run's leftovers from a
        # live one's.
        self.tmp = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=self.folder))
        self.jobs = _plan(counts)
        self.day = run.run_date.strftime("%A %B %-d, %Y")
        self.procs = []
        # A worker per core, at a lower priority: the database writing the run meanwhile keeps
        # its core, the workers take what it leaves and all of it after the commit.
        workers = workers or os.cpu_count() or 1
        # Forking a process that runs other threads (a Huey consumer's workers) could leave a
        # lock held in the child: there the documents are drawn in-process instead.
        if sum(counts.values()) > FORK_ABOVE and threading.active_count() == 1:
            ctx = multiprocessing.get_context("fork")
            for share in _share(self.jobs, counts, workers):
                proc = ctx.Process(
                    target=_draw,
                    args=(str(self.tmp), run.pk, self.day, share, make_rows, 10, os.getpid()),
                )
                proc.start()
                self.procs.append(proc)

    def finish(self) -> list[Path]:
        import shutil

        if self.procs:
            for proc in self.procs:
                proc.join()
            if any(proc.exitcode != 0 for proc in self.procs):
                self.abandon()
                raise RuntimeError("Drawing the pick lists and labels failed.")
        else:
            _draw(str(self.tmp), self.run.pk, self.day, self.jobs, self.make_rows)
        paths = []
        for name, *_ in self.jobs:
            os.replace(self.tmp / name, self.folder / name)
            paths.append(self.folder / name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return paths

    def abandon(self) -> None:
        import shutil

        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rows_from_memory(result, copies: dict, people: dict, dcs: dict, codes) -> list[tuple]:
    """The rows `_ROWS` reads from the database, made from a run's arrays in memory:
    (dc code, name, city, state, barcode, title, format, first, last, username, street, city,
    state, zip) per shipment from the DCs with those `codes`. Runs in the drawing process, so
    it reads nothing itself."""
    names = people["titles"]
    keep = np.isin(result.dc_id, [pk for pk, d in dcs.items() if d[0] in codes])
    at = np.searchsorted(people["id"], result.member_id[keep].astype(np.int64))
    cols = [
        people[c][at].tolist()
        for c in ("first_name", "last_name", "username", "street", "city", "state", "zip_code")
    ]
    return [
        (*dcs[d], b, names[t], f, *p)
        for d, b, t, f, *p in zip(
            result.dc_id[keep].tolist(),
            copies["barcode"][keep].tolist(),
            result.title_id[keep].tolist(),
            copies["format"][keep].tolist(),
            *cols,
            strict=True,
        )
    ]


def write_run_documents(run: DispatchRun, *, workers: int | None = None) -> list[Path]:
    """A run's pick lists and labels drawn again from what the database recorded."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_ROWS, [run.pk])
        rows = cur.fetchall()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    return Renderer(
        run,
        lambda codes: [r for r in rows if r[0] in codes],
        counts,
        workers=workers or os.cpu_count(),
    ).finish()


class _Ops:
    """A page's content as raw operators, joined once per page (core.pdf)."""

    def __init__(self, pdf: PdfWriter):
        self.pdf = pdf
        self.parts: list[str] = []

    def text(self, x: float, y: float, s: str, size: float, bold: bool = False) -> None:
        self.parts.append(
            f"BT {'/F2' if bold else '/F1'} {size} Tf {x:.2f} {y:.2f} Td ({literal(s)}) Tj ET"
        )

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
        self.pdf.page(" ".join(self.parts))
        self.parts = []


def _pick_list(
    path: str, run_id: int, day: str, rows: list[tuple], part: tuple[int, int] = (0, 1)
) -> None:
    with PdfWriter(path, *letter) as pdf:
        ops = _Ops(pdf)
        height = letter[1]
        per_page = 45
        pages = max(1, -(-len(rows) // per_page))
        for page in range(pages):
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
                f"Run {run_id}, {len(rows)} discs, shelf order. Page {page + 1} of {pages}."
                + (f" Part {part[0] + 1} of {part[1]}." if part[1] > 1 else ""),
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
                ops.text(0.6 * inch, y, str(part[0] * PART + i + 1), 9)
                ops.text(1.0 * inch, y, r[4], 9)
                ops.text(2.3 * inch, y, r[5][:62], 9)
                ops.text(6.0 * inch, y, "Blu-ray" if r[6] == "bluray" else "DVD", 9)
                ops.text(6.8 * inch, y, r[13], 9)
                y -= 0.2 * inch
            ops.flush()


def _labels(path: str, rows: list[tuple]) -> None:
    """Two columns of five 4 x 2 inch labels per letter page."""
    with PdfWriter(path, *letter) as pdf:
        ops = _Ops(pdf)
        w, h = 4 * inch, 2 * inch
        module = 0.011 * inch
        for i, r in enumerate(rows):
            slot = i % 10
            if i and slot == 0:
                ops.flush()
            col, row = slot % 2, slot // 2
            x = 0.25 * inch + col * w
            y = letter[1] - 0.5 * inch - (row + 1) * h
            name = f"{r[7]} {r[8]}".strip() or r[9]
            ops.text(
                x + 0.15 * inch, y + h - 0.25 * inch, f"Red Envelope, {r[1]}, {r[2]}, {r[3]}", 7
            )
            ops.text(x + 0.15 * inch, y + h - 0.55 * inch, name[:40], 11, bold=True)
            ops.text(x + 0.15 * inch, y + h - 0.75 * inch, r[10][:45], 10)
            ops.text(x + 0.15 * inch, y + h - 0.92 * inch, f"{r[11]}, {r[12]} {r[13]}", 10)
            ops.barcode(r[4], x + 0.2 * inch, y + 0.3 * inch, module, 0.45 * inch)
            ops.text(x + 0.15 * inch, y + 0.15 * inch, r[4], 8)
        ops.flush()
