"""Every change to licenses: licensors, contracts and their amendments, the titles they cover,
windows (add one, end one early). Each records who did it."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection, transaction
from django.db.models import Q

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound

from .models import (
    TERMS,
    Ceiling,
    Contract,
    ContractTitle,
    ContractVersion,
    FeeEvery,
    LicenseWindow,
    Licensor,
    WindowKind,
)

_CODE = re.compile(r"^[A-Z]{2}$")


def known_territories() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (pycountry's list), plus XK (Kosovo, used by the studios)."""
    global _KNOWN
    if _KNOWN is None:
        import pycountry

        _KNOWN = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK"}
    return _KNOWN


_KNOWN: frozenset[str] | None = None


def territory_codes(value) -> str:
    """'us, ca' / ['US', 'CA'] -> 'CA,US'; refuses anything but two-letter codes."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    codes = sorted({str(c).strip().upper() for c in items if str(c).strip()})
    if not codes:
        raise DomainError("A window needs at least one territory (e.g. US).", code="territory")
    bad = [c for c in codes if not _CODE.match(c)]
    if bad:
        raise DomainError(
            f"Territories are two-letter country codes (ISO 3166-1), not {', '.join(bad)}.",
            code="territory",
        )
    unknown = [c for c in codes if c not in known_territories()]
    if unknown:
        raise DomainError(
            f"Unknown territory code {', '.join(unknown)} (ISO 3166-1 alpha-2).", code="territory"
        )
    return ",".join(codes)


def _moment(value, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise DomainError(f"{name} {value!r} is not a date or a time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.now().tzinfo)
    return moment


@transaction.atomic
def add_window(
    title,
    *,
    territories: str | list,
    starts_at,
    ends_at=None,
    kind: str = WindowKind.SVOD,
    ceiling: str = Ceiling.HD,
    actor=None,
    note: str = "",
    contract: Contract | int | None = None,
    exclusive: bool = True,
) -> LicenseWindow:
    """A new window for a title. Two windows of the same kind for the same title may not
    overlap in a territory they share when either is exclusive (which one would apply?):
    refused, naming the other. A window under a contract stays inside its territories and term,
    and the contract then covers the title."""
    title_id = title.pk if isinstance(title, Title) else title
    if not Title.objects.filter(pk=title_id).exists():
        raise NotFound(f"No title {title_id}.", code="unknown_title")
    if kind not in WindowKind.values:
        raise DomainError(f"Unknown window kind {kind!r} (svod, avod, tvod or dvd).")
    if ceiling not in Ceiling.values:
        raise DomainError(f"Unknown format ceiling {ceiling!r} (sd, hd or uhd).")
    codes = territory_codes(territories)
    start = _moment(starts_at, "Start")
    if start is None:
        raise DomainError("A window needs a start.")
    end = _moment(ends_at, "End")
    if end is not None and end <= start:
        raise DomainError("A window must end after it starts.")
    deal = None
    if contract is not None:
        deal = _contract(contract)
        outside = set(codes.split(",")) - set(deal.territories.split(","))
        if outside:
            raise DomainError(
                f"Contract {deal.reference} does not cover {', '.join(sorted(outside))}.",
                code="territory",
            )
        if start.date() < deal.starts_on or (end is None or end.date() > deal.ends_on):
            raise DomainError(
                f"The window must lie within contract {deal.reference}'s term "
                f"({deal.starts_on} to {deal.ends_on}).",
                code="outside_term",
            )
    Title.objects.select_for_update().filter(pk=title_id).first()  # one writer per title
    if connection.vendor == "postgresql":
        # An avails import writes many titles' windows at once and takes this lock too: the
        # overlap test below reads what is held, so no window may land beside it meanwhile.
        with connection.cursor() as cur:
            cur.execute("LOCK TABLE rights_licensewindow IN SHARE ROW EXCLUSIVE MODE")
    for other in LicenseWindow.objects.filter(title_id=title_id, kind=kind):
        shared = set(codes.split(",")) & set(other.territory_list)
        overlaps = (other.ends_at is None or other.ends_at > start) and (
            end is None or end > other.starts_at
        )
        if shared and overlaps and (exclusive or other.exclusive):
            raise Conflict(
                f"It overlaps {'exclusive ' if other.exclusive else ''}window {other.pk} "
                f"({other}) in {', '.join(sorted(shared))}.",
                code="window_overlap",
            )
    if deal is not None:
        ContractTitle.objects.get_or_create(contract=deal, title_id=title_id)
    return LicenseWindow.objects.create(
        contract=deal,
        exclusive=exclusive,
        title_id=title_id,
        kind=kind,
        territories=codes,
        starts_at=start,
        ends_at=end,
        ceiling=ceiling,
        created_at=clock.now(),
        created_by=actor,
        note=note[:300],
    )


@transaction.atomic
def end_window(
    window: LicenseWindow | int, *, ends_at, actor=None, note: str = ""
) -> LicenseWindow:
    """End a window early (or move its end earlier). A window can only be shortened."""
    pk = window.pk if isinstance(window, LicenseWindow) else window
    row = LicenseWindow.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No license window {pk}.")
    end = _moment(ends_at, "End")
    if end is None or end <= row.starts_at:
        raise DomainError("The new end must come after the window's start.")
    if row.ends_at is not None and end >= row.ends_at:
        raise Conflict(f"Window {pk} already ends on {row.ends_at:%Y-%m-%d}; it can only shorten.")
    row.ends_at = end
    row.note = (f"{row.note} · " if row.note else "") + f"ended by {actor or 'system'}: {note}"
    row.note = row.note[:300]
    row.save(update_fields=["ends_at", "note"])
    return row


# --- licensors and contracts ---------------------------------------------------------------


def _contract(contract) -> Contract:
    if isinstance(contract, Contract):
        return contract
    found = Contract.objects.filter(
        Q(reference=str(contract)) | Q(pk=int(contract) if str(contract).isdigit() else -1)
    ).first()
    if found is None:
        raise NotFound(f"No contract {contract}.", code="unknown_contract")
    return found


def _day(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError(f"{name} {value!r} is not a date (YYYY-MM-DD).") from None


def _cents(value, name: str) -> int:
    try:
        cents = int(value or 0)
    except (TypeError, ValueError):
        raise DomainError(f"{name} must be a whole number of cents.") from None
    if cents < 0:
        raise DomainError(f"{name} cannot be negative.")
    return cents


@transaction.atomic
def add_licensor(name: str, *, country: str = "US", email: str = "") -> Licensor:
    name = (name or "").strip()
    if not name:
        raise DomainError("A licensor needs a name.")
    if Licensor.objects.filter(name__iexact=name).exists():
        raise Conflict(f"A licensor named {name!r} already exists.", code="duplicate")
    return Licensor.objects.create(
        name=name[:120],
        country=territory_codes(country),
        email=email.strip(),
        created_at=clock.now(),
    )


def _checked_terms(terms: dict) -> dict:
    out = dict(terms)
    out["name"] = (out.get("name") or "").strip()[:200]
    if not out["name"]:
        raise DomainError("A contract needs a name.")
    out["territories"] = territory_codes(out.get("territories"))
    out["starts_on"] = _day(out.get("starts_on"), "Start")
    out["ends_on"] = _day(out.get("ends_on"), "End")
    if out["ends_on"] <= out["starts_on"]:
        raise DomainError(
            f"The contract ends ({out['ends_on']}) before it starts ({out['starts_on']}).",
            code="bad_term",
        )
    for key in ("flat_fee_cents", "per_rental_cents", "per_stream_cents"):
        out[key] = _cents(out.get(key), key.replace("_", " "))
    out["minimum_guarantee_cents"] = _cents(out.get("minimum_guarantee_cents"), "Minimum guarantee")
    out["flat_fee_every"] = out.get("flat_fee_every") or FeeEvery.ONCE
    if out["flat_fee_every"] not in FeeEvery.values:
        raise DomainError(f"A flat fee is paid once or every month, not {out['flat_fee_every']!r}.")
    return out


@transaction.atomic
def add_contract(
    licensor: Licensor | int,
    *,
    reference: str,
    titles=(),
    actor=None,
    **terms,
) -> Contract:
    """Sign a contract: its terms become version 1; the titles listed are covered by it."""
    licensor_id = licensor.pk if isinstance(licensor, Licensor) else licensor
    if not Licensor.objects.filter(pk=licensor_id).exists():
        raise NotFound(f"No licensor {licensor_id}.")
    reference = (reference or "").strip()
    if not reference:
        raise DomainError("A contract needs a reference.")
    if Contract.objects.filter(reference=reference).exists():
        raise Conflict(f"Contract {reference} already exists.", code="duplicate")
    checked = _checked_terms(terms)
    contract = Contract.objects.create(
        licensor_id=licensor_id,
        reference=reference[:60],
        created_at=clock.now(),
        created_by=actor,
        **checked,
    )
    ContractVersion.objects.create(
        contract=contract, version=1, terms=contract.terms(), reason="signed",
        at=contract.created_at, by=actor,
    )  # fmt: skip
    cover_titles(contract, titles)
    return contract


@transaction.atomic
def cover_titles(contract: Contract | int, titles) -> int:
    """Add titles to a contract (those already covered are left as they are)."""
    deal = _contract(contract)
    ids = {t.pk if isinstance(t, Title) else int(t) for t in titles}
    if not ids:
        return 0
    found = set(Title.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing := sorted(ids - found):
        raise NotFound(f"No title {', '.join(map(str, missing[:10]))}.", code="unknown_title")
    have = set(ContractTitle.objects.filter(contract=deal).values_list("title_id", flat=True))
    ContractTitle.objects.bulk_create(
        [ContractTitle(contract=deal, title_id=t) for t in sorted(found - have)]
    )
    return len(found - have)


@transaction.atomic
def amend_contract(contract: Contract | int, *, reason: str, actor=None, **changes) -> Contract:
    """Change a contract's terms: the new terms become the next version, the old ones stay in
    its history. Windows already granted must still fit the amended term and territories."""
    deal = Contract.objects.select_for_update().get(pk=_contract(contract).pk)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the contract is amended.")
    unknown = set(changes) - set(TERMS)
    if unknown:
        raise DomainError(f"Not a term of a contract: {', '.join(sorted(unknown))}.")
    merged = {k: getattr(deal, k) for k in TERMS} | changes
    checked = _checked_terms(merged)
    for window in deal.windows.all():
        outside = set(window.territory_list) - set(checked["territories"].split(","))
        late = window.ends_at is None or window.ends_at.date() > checked["ends_on"]
        if outside or window.starts_at.date() < checked["starts_on"] or late:
            raise Conflict(
                f"Window {window.pk} ({window}) would fall outside the amended contract; end "
                "or change it first.",
                code="window_outside",
            )
    for k, v in checked.items():
        setattr(deal, k, v)
    deal.version += 1
    deal.save()
    ContractVersion.objects.create(
        contract=deal, version=deal.version, terms=deal.terms(), reason=reason[:300],
        at=clock.now(), by=actor,
    )  # fmt: skip
    return deal
