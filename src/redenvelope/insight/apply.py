"""A planner's recommendation applied, through the domains' actions: DCs opened with their
transit table, copies moved between DCs, capacity set. Who applied it is recorded."""

from __future__ import annotations

from django.db import transaction

from redenvelope.core.errors import DomainError
from redenvelope.inventory import actions as inventory
from redenvelope.inventory.geo import km_between, transit_days
from redenvelope.inventory.models import DistributionCenter, Region


def _code_for(name: str, taken: set[str]) -> str:
    """A free three-letter code from the city's name: its first letter and two after it in
    order (Boston: BOS, BOT, ...), else its first three letters and a digit."""
    letters = "".join(ch for ch in name.upper() if "A" <= ch <= "Z") or "DCX"
    for b in range(1, len(letters)):
        for c in range(b + 1, len(letters)):
            code = letters[0] + letters[b] + letters[c]
            if code not in taken:
                return code
    for digit in range(10):
        code = f"{letters[:3]:X<3}{digit}"
        if code not in taken:
            return code
    raise DomainError(f"No free DC code for {name}.")


@transaction.atomic
def open_sites(sites: list[dict], *, actor=None) -> list[DistributionCenter]:
    """Open a DC at each recommended site (a region's centre), with a transit row to every
    region it reaches by first-class mail."""
    regions = list(Region.objects.all())
    taken = set(DistributionCenter.objects.values_list("code", flat=True))
    opened = []
    for site in sites:
        region = min(
            regions, key=lambda r: km_between(r.latitude, r.longitude, site["lat"], site["lon"])
        )
        code = _code_for(region.name, taken)
        taken.add(code)
        dc = inventory.add_distribution_center(
            code=code,
            name=f"{region.name} Distribution Center",
            city=region.name,
            state=region.state,
            latitude=site["lat"],
            longitude=site["lon"],
            daily_capacity=int(site["capacity"]),
        )
        for r in regions:
            days = transit_days(km_between(site["lat"], site["lon"], r.latitude, r.longitude))
            if days is not None:
                inventory.set_transit(dc, r, days)
        opened.append(dc)
    return opened


def move_copies(moves: list[tuple[str, str, int, int]], *, actor=None) -> int:
    """(from DC code, to DC code, title id, copies) as transfers, set-wise."""
    ids = dict(DistributionCenter.objects.values_list("code", "pk"))
    unknown = {c for a, b, _, _ in moves for c in (a, b)} - set(ids)
    if unknown:
        raise DomainError(f"No distribution center {sorted(unknown)[0]}.")
    return inventory.transfer_shelf_copies(
        [(ids[a], ids[b], t, n) for a, b, t, n in moves],
        actor=actor,
        note="planner: copies for next week's demand",
    )


@transaction.atomic
def set_capacities(capacity: dict[str, int], *, actor=None) -> int:
    n = 0
    for dc in DistributionCenter.objects.filter(code__in=list(capacity)):
        inventory.set_daily_capacity(dc, capacity[dc.code])
        n += 1
    return n


def buy_copies(
    buys: list[tuple[str, int, int]], *, vendor, unit_cents: int, actor=None, receive: bool = False
) -> list:
    """One purchase order per DC (lines: title, copies), sent to `vendor`; with `receive`, each
    received whole at once (the copies go on the shelves)."""
    from collections import defaultdict

    from redenvelope.payables import actions as payables

    by_dc: dict[str, list] = defaultdict(list)
    for code, title_id, n in buys:
        if n > 0:
            by_dc[code].append((title_id, n, unit_cents))
    ids = dict(DistributionCenter.objects.values_list("code", "pk"))
    unknown = set(by_dc) - set(ids)
    if unknown:
        raise DomainError(f"No distribution center {sorted(unknown)[0]}.")
    orders = []
    with transaction.atomic():
        for code, lines in sorted(by_dc.items()):
            po = payables.create_order(
                vendor, ids[code], lines, actor=actor, note="planner: shelves for queue demand"
            )
            payables.send_order(po, actor=actor)
            if receive:
                for line in po.lines.all():
                    payables.receive(line, quantity=line.quantity, actor=actor)
            po.refresh_from_db()
            orders.append(po)
    return orders
