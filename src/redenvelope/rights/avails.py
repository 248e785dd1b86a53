"""Avails in and out: the MovieLabs/EMA Avails spreadsheet layout (v1.7, the "Movies" sheet), as
CSV or XLSX.

Import validates every row and reports each bad one with its line and reason; the operator
chooses whether valid rows import when some are bad (`valid`) or nothing does (`all`). A row the
business already holds (same title, license type, territory, start, end and format) is counted
as unchanged, so taking the same file twice changes nothing. Rows are one territory each, as the
layout has them; each becomes one window.

Columns read (others are kept in the layout and ignored):
  Territory (ISO 3166-1 alpha-2), LicenseType (SVOD; AVOD or FVOD; TVOD, VOD, EST or POEST; and
  our extension DVD for disc rental), FormatProfile (SD, HD, UHD/4K), Start, End (empty or Open:
  no end), ContentID (our title id, or any id ending ':<title id>') or else TitleInternalAlias
  (+ ReleaseYear), ContractID (a contract's reference: the window is granted under it),
  LicenseRightsDescription ("Non-exclusive" makes the window non-exclusive), EntryType (Full
  Extract; a Full Delete row is refused: end a window on its page).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import DomainError

from .actions import known_territories
from .models import AvailsImport, Ceiling, Contract, ContractTitle, LicenseWindow, WindowKind

COLUMNS = [
    "DisplayName", "StoreLanguage", "Territory", "WorkType", "EntryType", "TitleInternalAlias",
    "TitleDisplayUnlimited", "LocalizationType", "LicenseType", "LicenseRightsDescription",
    "FormatProfile", "Start", "End", "PriceType", "PriceValue", "SRP", "Description",
    "OtherTerms", "OtherInstructions", "ContentID", "ProductID", "EncodeID", "AvailID",
    "Metadata", "AltID", "SuppressionLiftDate", "SpecialPreOrderFulfillDate", "ReleaseYear",
    "ReleaseHistoryOriginal", "ReleaseHistoryPhysicalHV", "ExceptionFlag", "RatingSystem",
    "RatingValue", "RatingReason", "RentalDuration", "WatchDuration", "CaptionIncluded",
    "CaptionExemption", "Any", "ContractID", "ServiceProvider", "TotalRunTime",
    "HoldbackLanguage", "HoldbackExclusionLanguage",
]  # fmt: skip

LICENSE_TYPES = {
    "SVOD": WindowKind.SVOD,
    "AVOD": WindowKind.AVOD,
    "FVOD": WindowKind.AVOD,
    "TVOD": WindowKind.TVOD,
    "VOD": WindowKind.TVOD,
    "EST": WindowKind.TVOD,
    "POEST": WindowKind.TVOD,
    "DVD": WindowKind.DVD,
    "DVDRENTAL": WindowKind.DVD,
    "PHYSICAL": WindowKind.DVD,
}
EXPORT_TYPE = {
    WindowKind.SVOD: "SVOD",
    WindowKind.AVOD: "AVOD",
    WindowKind.TVOD: "TVOD",
    WindowKind.DVD: "DVD",
}
FORMATS = {
    "SD": Ceiling.SD,
    "HD": Ceiling.HD,
    "3D": Ceiling.HD,
    "UHD": Ceiling.UHD,
    "4K": Ceiling.UHD,
}
ID_TAIL = re.compile(r"(?:^|:)(\d+)$")
KEEP_ERRORS = 1000  # rows of errors kept on the import's record (all are counted)


@dataclass
class Result:
    record: AvailsImport
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_rows(name: str, data: bytes) -> list[tuple[int, dict]]:
    """(line number, {column: text}) for each data row of a CSV or XLSX avails file. The header
    is the first row naming Territory and LicenseType (the template's banner rows above it are
    skipped); line numbers are the spreadsheet's."""
    if name.lower().endswith((".xlsx", ".xlsm")):
        rows = _xlsx_rows(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DomainError("The file is not UTF-8 text (CSV) or an XLSX workbook.") from None
        rows = csv.reader(io.StringIO(text))
    header, out = None, []
    for line, row in enumerate(rows, start=1):
        cells = ["" if c is None else c for c in row]
        if header is None:
            names = [str(c).strip() for c in cells]
            if "Territory" in names and "LicenseType" in names:
                header = names
            elif line > 20:
                break
            continue
        if not any(str(c).strip() for c in cells):
            continue
        out.append(
            (line, {h: cells[i] if i < len(cells) else "" for i, h in enumerate(header) if h})
        )
    if header is None:
        raise DomainError(
            "No avails header found: a row naming the columns Territory and LicenseType "
            "(the EMA Avails layout) must come within the first 20 rows."
        )
    return out


def _xlsx_rows(data: bytes):
    """The Movies sheet (or the first) of a workbook, read by calamine (Rust: a 100,000-row
    avails workbook in under a second, where openpyxl takes half a minute). Whole numbers come
    back as such (Excel stores 2004 as 2004.0), dates as dates."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = "Movies" if "Movies" in book.sheet_names else book.sheet_names[0]
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the sender's error
        raise DomainError(f"The workbook cannot be read ({type(exc).__name__}).") from None
    for row in rows:
        yield [int(c) if isinstance(c, float) and c.is_integer() else c for c in row]


def _moment(value) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "open")):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.now().tzinfo)
    return moment


class _Titles:
    """Title ids by id and by (name, year), read once."""

    def __init__(self):
        self.ids = set(Title.objects.values_list("pk", flat=True))
        self.by_alias: dict[tuple[str, int | None], int | None] = {}
        for pk, name, year in Title.objects.values_list("pk", "name", "year"):
            for key in ((name.lower(), year), (name.lower(), None)):
                self.by_alias[key] = None if key in self.by_alias else pk  # None: ambiguous

    def find(self, row: dict) -> int:
        content = str(row.get("ContentID") or "").strip()
        if content:
            m = ID_TAIL.search(content)
            if not m or int(m.group(1)) not in self.ids:
                raise ValueError(f"ContentID {content!r} is no title of ours")
            return int(m.group(1))
        alias = str(row.get("TitleInternalAlias") or row.get("TitleDisplayUnlimited") or "")
        alias = alias.strip()
        if not alias:
            raise ValueError("no ContentID or TitleInternalAlias names the title")
        year = str(row.get("ReleaseYear") or "").strip()
        key = (alias.lower(), int(year) if year.isdigit() else None)
        if key not in self.by_alias:
            raise ValueError(f"no title {alias!r}" + (f" ({year})" if year else ""))
        if self.by_alias[key] is None:
            raise ValueError(f"{alias!r} names more than one title: give its ContentID or year")
        return self.by_alias[key]


def _parse(line: int, row: dict, titles: _Titles, contracts: dict, codes) -> dict:
    entry = str(row.get("EntryType") or "Full Extract").strip()
    if entry.lower() != "full extract":
        raise ValueError(f"EntryType {entry!r} is not taken from files (only Full Extract)")
    territory = str(row.get("Territory") or "").strip().upper()
    if not territory:
        raise ValueError("no Territory")
    if territory not in codes:
        raise ValueError(f"unknown territory code {territory!r} (ISO 3166-1 alpha-2)")
    ltype = str(row.get("LicenseType") or "").strip().upper()
    if ltype not in LICENSE_TYPES:
        raise ValueError(f"unknown LicenseType {ltype!r} ({', '.join(LICENSE_TYPES)})")
    fmt = str(row.get("FormatProfile") or "HD").strip().upper()
    if fmt not in FORMATS:
        raise ValueError(f"unknown FormatProfile {fmt!r} (SD, HD or UHD)")
    start = _moment(row.get("Start"))
    if start is None:
        raise ValueError("no Start")
    end = _moment(row.get("End"))
    if end is not None and end <= start:
        raise ValueError(f"the window ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d})")
    title_id = titles.find(row)
    contract = None
    ref = str(row.get("ContractID") or "").strip()
    if ref:
        contract = contracts.get(ref)
        if contract is None:
            raise ValueError(f"no contract {ref!r}")
        if territory not in contract.territories.split(","):
            raise ValueError(f"contract {ref} does not cover {territory}")
        if start.date() < contract.starts_on or end is None or end.date() > contract.ends_on:
            raise ValueError(
                f"the window lies outside contract {ref}'s term "
                f"({contract.starts_on} to {contract.ends_on})"
            )
    rights = str(row.get("LicenseRightsDescription") or "").lower()
    exclusive = not ("non-exclusive" in rights or "nonexclusive" in rights)
    return {
        "line": line,
        "title_id": title_id,
        "kind": LICENSE_TYPES[ltype],
        "territory": territory,
        "start": start,
        "end": end,
        "ceiling": FORMATS[fmt],
        "contract": contract,
        "exclusive": exclusive,
    }


_FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


def _overlaps(rows: list[dict], existing) -> tuple[list[dict], list[dict], int]:
    """Split parsed rows into those to create and those refused (overlapping an exclusive
    window, held or earlier in the file); rows the business already holds are dropped and
    counted. Per (title, kind, territory), intervals are swept in start order against the ones
    still open."""
    held: dict[tuple, list] = {}
    for w in existing:
        for code in w["territories"].split(","):
            held.setdefault((w["title_id"], w["kind"], code), []).append(w)
    new_by: dict[tuple, list] = {}
    for r in rows:
        new_by.setdefault((r["title_id"], r["kind"], r["territory"]), []).append(r)
    create, refused, unchanged = [], [], 0
    for key, group in new_by.items():
        olds = held.get(key, [])
        same = {(w["starts_at"], w["ends_at"], w["ceiling"]) for w in olds}
        items = [("old", w["starts_at"], w["ends_at"] or _FAR, w["exclusive"], w) for w in olds]
        for r in group:
            if (r["start"], r["end"], r["ceiling"]) in same:
                unchanged += 1
                continue
            items.append(("new", r["start"], r["end"] or _FAR, r["exclusive"], r))
        items.sort(key=lambda it: (it[1], it[0] != "old"))
        active: list[tuple] = []
        for it in items:
            active = [a for a in active if a[2] > it[1]]
            clash = next((a for a in active if a[3] or it[3]), None)
            if it[0] == "new" and clash is not None:
                other = clash[4]
                what = (
                    f"window {other['id']} ({other['starts_at']:%Y-%m-%d}"
                    f"–{other['ends_at']:%Y-%m-%d})"
                    if clash[0] == "old" and other["ends_at"]
                    else f"window {other['id']} (from {other['starts_at']:%Y-%m-%d}, open)"
                    if clash[0] == "old"
                    else f"line {other['line']}"
                )
                excl = "exclusive " if (clash[3] and clash[0] == "old") else ""
                refused.append(
                    {"line": it[4]["line"], "reason": f"overlaps {excl}{what} in {key[2]}"}
                )
                continue
            if it[0] == "new":
                create.append(it[4])
            active.append(it)
    return create, refused, unchanged


def import_avails(
    name: str, data: bytes, *, mode: str = AvailsImport.Mode.ALL_OR_NOTHING, actor=None
) -> Result:
    """Take an avails file in. Every bad row is reported with its line and reason; in `all`
    mode nothing imports when any row is bad, in `valid` mode the valid rows do. The import's
    record (counts, the first errors, who) is kept either way."""
    if mode not in AvailsImport.Mode.values:
        raise DomainError(f"Import mode is 'all' or 'valid', not {mode!r}.")
    rows = read_rows(name, data)
    titles = _Titles()
    contracts = {c.reference: c for c in Contract.objects.all()}
    codes = known_territories()
    parsed, errors = [], []
    for line, row in rows:
        try:
            parsed.append(_parse(line, row, titles, contracts, codes))
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One import or window change at a time: the overlap test reads what is held.
            with connection.cursor() as cur:
                cur.execute("LOCK TABLE rights_licensewindow IN SHARE ROW EXCLUSIVE MODE")
        kinds = {r["kind"] for r in parsed}
        title_ids = {r["title_id"] for r in parsed}
        existing = [
            w
            for w in LicenseWindow.objects.filter(kind__in=kinds).values(
                "id",
                "title_id",
                "kind",
                "territories",
                "starts_at",
                "ends_at",
                "ceiling",
                "exclusive",
            )  # fmt: skip
            if w["title_id"] in title_ids
        ]
        create, refused, unchanged = _overlaps(parsed, existing)
        errors = sorted(errors + refused, key=lambda e: e["line"])
        go = not errors or mode == AvailsImport.Mode.VALID_ROWS
        now = clock.now()
        record = AvailsImport.objects.create(
            filename=Path(name).name[:200],
            mode=mode,
            rows=len(rows),
            created=len(create) if go else 0,
            unchanged=unchanged,
            rejected=len(errors),
            errors=errors[:KEEP_ERRORS],
            imported=go,
            at=now,
            by=actor,
        )
        if go and create:
            LicenseWindow.objects.bulk_create(
                [
                    LicenseWindow(
                        title_id=r["title_id"],
                        kind=r["kind"],
                        territories=r["territory"],
                        starts_at=r["start"],
                        ends_at=r["end"],
                        ceiling=r["ceiling"],
                        contract=r["contract"],
                        exclusive=r["exclusive"],
                        created_at=now,
                        created_by=actor,
                        note=f"avails line {r['line']}",
                        avails_import=record,
                    )
                    for r in create
                ],
                batch_size=2000,
            )
            pairs = {(r["contract"].pk, r["title_id"]) for r in create if r["contract"]}
            if pairs:
                have = set(
                    ContractTitle.objects.filter(contract_id__in={c for c, _ in pairs}).values_list(
                        "contract_id", "title_id"
                    )
                )
                ContractTitle.objects.bulk_create(
                    [ContractTitle(contract_id=c, title_id=t) for c, t in sorted(pairs - have)],
                    batch_size=2000,
                )
    return Result(record, errors)


def export_rows(windows=None):
    """Avails rows (dicts in COLUMNS) for the windows given, or every window we hold."""
    qs = windows if windows is not None else LicenseWindow.objects.all()
    qs = qs.select_related("title", "contract").order_by("title_id", "kind", "starts_at")
    for w in qs.iterator(chunk_size=5000):
        for code in w.territory_list:
            yield {
                "DisplayName": w.title.name,
                "StoreLanguage": "en",
                "Territory": code,
                "WorkType": "Movie" if w.title.series_id is None else "Season",
                "EntryType": "Full Extract",
                "TitleInternalAlias": w.title.name,
                "TitleDisplayUnlimited": w.title.name,
                "LicenseType": EXPORT_TYPE[w.kind],
                "LicenseRightsDescription": "Exclusive" if w.exclusive else "Non-exclusive",
                "FormatProfile": w.ceiling.upper(),
                "Start": w.starts_at.date().isoformat(),
                "End": w.ends_at.date().isoformat() if w.ends_at else "Open",
                "ContentID": f"redenvelope:title:{w.title_id}",
                "AvailID": f"redenvelope:window:{w.pk}",
                "ReleaseYear": w.title.year,
                "ContractID": w.contract.reference if w.contract else "",
            }


def export_csv(out, windows=None) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for row in export_rows(windows):
        writer.writerow(row)
        n += 1
    return n


def export_xlsx(windows=None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Movies")
    sheet.append(["Avails", "Red Envelope", f"exported {clock.now():%Y-%m-%d %H:%M}"])
    sheet.append(COLUMNS)
    for row in export_rows(windows):
        sheet.append([row.get(c, "") for c in COLUMNS])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
