"""Every change in streaming: start, beat and stop a playback; register, pair and remove devices.
(Encoding is in `media.py`: it calls out to ffmpeg and object storage, so it is not one atomic
step; its records are written the same way, through `media.encode_title`.)"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from redenvelope.accounts.actions import issue_api_token
from redenvelope.accounts.models import ApiToken, hash_token
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.membership.models import Member, MemberStatus
from redenvelope.rights import queries as rights
from redenvelope.rights.models import CEILING_HEIGHT

from . import leases, pairing
from .models import Device, Encode, PairingCode, PairingMiss, Session, WatchPosition

STREAMING_STATUSES = (MemberStatus.TRIAL, MemberStatus.ACTIVE)
FINISHED_WITHIN_S = 120  # stopping this close to the end counts as finished


class TooManyScreens(Conflict):
    """A start beyond the plan's screens: `playing` lists the sessions to stop one of."""

    code = "too_many_screens"

    def __init__(self, message: str, playing: list[Session]):
        super().__init__(message)
        self.playing = playing


def lease_s() -> float:
    return float(settings.REDENVELOPE.get("STREAM_LEASE_S", 45))


def heartbeat_s() -> int:
    return int(settings.REDENVELOPE.get("STREAM_HEARTBEAT_S", 15))


def ready_encode(title_id: int) -> Encode | None:
    return (
        Encode.objects.filter(title_id=title_id, status=Encode.Status.READY)
        .order_by("-finished_at", "-pk")
        .first()
    )


def _start_context(member: Member, title_id: int) -> tuple[str | None, int | None, float]:
    """What a start must know, in one statement (a start is on the player's path): the title's
    licence window for the member now (its format ceiling), its newest ready encode, where the
    member stopped in it. NotFound for an unknown title."""
    from django.db import connection

    now = clock.now()
    ceiling_sql, ceiling_params = rights.window_subquery(
        "t.id", member.territory, now, select="ceiling"
    )
    sql = (
        f"SELECT t.id, {ceiling_sql}, e.id, "  # noqa: S608 - placeholders only
        "(SELECT p.position_s FROM streaming_watchposition p WHERE p.member_id = %s "
        "AND p.title_id = t.id AND p.finished = %s) "
        "FROM catalog_title t LEFT JOIN streaming_encode e ON e.id = ("
        "SELECT e2.id FROM streaming_encode e2 WHERE e2.title_id = t.id AND e2.status = %s "
        "ORDER BY e2.finished_at DESC, e2.id DESC LIMIT 1) WHERE t.id = %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*ceiling_params, member.pk, False, Encode.Status.READY, title_id])
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"No title {title_id}.", code="unknown_title")
    _, ceiling, encode_id, position = row
    return ceiling, encode_id, position or 0.0


def _may_stream(member: Member, title_id: int) -> tuple[int, float, int]:
    """The encode to play, where to start and the tallest picture the licence allows, or why
    not."""
    if member.status not in STREAMING_STATUSES:
        raise Forbidden(
            f"A {member.get_status_display().lower()} membership cannot stream; "
            "streaming needs an active membership or a free trial.",
            code="not_streaming_member",
        )
    if member.blocked:
        raise Forbidden("This account is on hold; customer service can help.", code="blocked")
    if not member.plan.streaming_screens:
        raise Forbidden(
            f"The {member.plan.name} plan is discs only; a plan with screens streams.",
            code="no_screens",
        )
    ceiling, encode_id, position = _start_context(member, title_id)
    if ceiling is None:
        raise Forbidden(
            "This title is not licensed to stream in your country now.", code="not_licensed"
        )
    if encode_id is None:
        raise Conflict("This title has no playable version yet.", code="not_encoded")
    return encode_id, position, CEILING_HEIGHT[ceiling]


def _device(member: Member, device) -> Device | None:
    if device is None:
        return None
    pk = device.pk if isinstance(device, Device) else device
    found = Device.objects.filter(pk=pk, member_id=member.pk, removed_at__isnull=True).first()
    if found is None:
        raise NotFound(f"No device {pk} of yours.", code="unknown_device")
    return found


def playing_sessions(member_id: int) -> list[Session]:
    """The member's screens playing now (live leases), oldest first."""
    live = leases.store().live(member_id)
    return list(
        Session.objects.filter(member_id=member_id, lease_id__in=live)
        .select_related("title", "device")
        .order_by("started_at")
    )


def start_playback(member: Member, title_id: int, *, device=None, device_name: str = "") -> Session:
    """One lease for one screen, then the session that records it. A start beyond the plan's
    screens is refused with the screens now playing. Resumes where the member stopped."""
    try:
        title_id = int(title_id)
    except (TypeError, ValueError):
        raise NotFound(f"No title {title_id!r}.", code="unknown_title") from None
    encode_id, pos, max_height = _may_stream(member, title_id)
    dev = _device(member, device)
    lease_id = uuid.uuid4().hex
    store = leases.store()
    ok, _live = store.start(member.pk, lease_id, member.plan.streaming_screens, lease_s(), pos)
    if not ok:
        screens = member.plan.streaming_screens
        raise TooManyScreens(
            f"Your plan streams on {screens} screen{'s' if screens != 1 else ''} at once, and "
            "that many are playing now. Stop one to watch here.",
            playing_sessions(member.pk),
        )
    try:
        with transaction.atomic():
            now = clock.now()
            session = Session.objects.create(
                lease_id=lease_id,
                member_id=member.pk,
                title_id=title_id,
                device=dev,
                device_name=(dev.name if dev else device_name or "Web browser")[:80],
                encode_id=encode_id,
                max_height=max_height,
                started_at=now,
                start_position_s=pos,
                position_s=pos,
            )
            if dev is not None:
                Device.objects.filter(pk=dev.pk).update(last_seen_at=now)
    except Exception:
        store.stop(member.pk, lease_id)  # no lease leaks when the record cannot be written
        raise
    return session


def session_of(member: Member, lease_id: str) -> Session:
    """The member's own playback by its lease id; NotFound for anyone else's."""
    return _session(member, lease_id)


def _session(member: Member, lease_id: str) -> Session:
    session = Session.objects.filter(lease_id=str(lease_id)[:40], member_id=member.pk).first()
    if session is None:
        raise NotFound("No such playback of yours.", code="unknown_lease")
    return session


def _position(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        pos = float(value)
    except (TypeError, ValueError):
        raise DomainError(f"Position {value!r} is not a number of seconds.") from None
    if not 0 <= pos <= 86_400 * 2:
        raise DomainError("A position is between 0 and 48 hours.")
    return pos


def _save_position(session: Session, pos: float, *, ended: str = "") -> None:
    now = clock.now()
    duration = session.encode.duration_s if session.encode_id else 0.0
    finished = bool(duration) and pos >= duration - min(FINISHED_WITHIN_S, duration * 0.05)
    change = {"position_s": pos}
    if ended:
        change.update(ended_at=now, end_reason=ended)
    Session.objects.filter(pk=session.pk).update(**change)
    WatchPosition.objects.update_or_create(
        member_id=session.member_id,
        title_id=session.title_id,
        defaults={
            "position_s": 0.0 if finished else pos,
            "duration_s": duration,
            "updated_at": now,
            "finished": finished,
        },
    )


def heartbeat(member: Member, lease_id: str, position=None) -> int:
    """Keep the lease (and note the position in the lease store; it reaches the database in
    bulk every minute and at stop). Refused once the lease has run out: the player must start
    again, which may find the screens taken. Touches the database only when refusing."""
    pos = _position(position)
    lease_id = str(lease_id)[:40]
    if leases.store().beat(member.pk, lease_id, lease_s(), pos) == leases.BEAT_OK:
        return leases.BEAT_OK
    session = _session(member, lease_id)  # not theirs: NotFound
    if session.ended_at is None:
        with transaction.atomic():
            _save_position(session, session.position_s, ended="expired")
    raise Conflict(
        "This playback stopped: no heartbeat came in time. Start again.", code="lease_expired"
    )


def stop_playback(member: Member, lease_id: str, position=None) -> Session:
    """Free the screen and keep where the member stopped. Stopping twice changes nothing."""
    pos = _position(position)
    session = _session(member, lease_id)
    if session.ended_at is not None:
        return session
    last = leases.store().stop(member.pk, session.lease_id)
    final = pos if pos is not None else (last if last is not None else session.position_s)
    with transaction.atomic():
        _save_position(session, final, ended="stopped" if last is not None else "expired")
    session.refresh_from_db()
    return session


def sync_sessions() -> dict:
    """Every minute (a job): bring the positions of screens playing into the database, and
    close the sessions whose lease ran out without a stop (a closed laptop), at their last
    known position. Set-based: one read of the open sessions, one round trip to the store."""
    store = leases.store()
    open_ = list(Session.objects.filter(ended_at__isnull=True).select_related("encode"))
    found = store.positions([(s.member_id, s.lease_id) for s in open_]) if open_ else []
    moved, ended = [], 0
    for s, pos in zip(open_, found, strict=True):
        if pos is None:
            with transaction.atomic():
                _save_position(s, s.position_s, ended="expired")
            ended += 1
        elif pos != s.position_s:
            s.position_s = pos
            moved.append(s)
    with transaction.atomic():
        Session.objects.bulk_update(moved, ["position_s"], batch_size=1000)
        now = clock.now()
        for s in moved:
            WatchPosition.objects.update_or_create(
                member_id=s.member_id,
                title_id=s.title_id,
                defaults={
                    "position_s": s.position_s,
                    "duration_s": s.encode.duration_s,
                    "updated_at": now,
                    "finished": False,
                },
            )
    return {"open": len(open_), "moved": len(moved), "ended": ended}


# --- devices -----------------------------------------------------------------------------


@transaction.atomic
def register_device(member: Member, *, kind: str, name: str) -> Device:
    if kind not in Device.Kind.values:
        raise DomainError(f"Unknown device kind {kind!r} (web, phone, console or tv).")
    name = " ".join((name or "").split())[:80]
    if not name:
        raise DomainError("Give the device a name (e.g. Living room TV).")
    if Device.objects.filter(member_id=member.pk, removed_at__isnull=True).count() >= 20:
        raise Conflict("At most 20 devices; remove one you no longer use.")
    return Device.objects.create(
        member_id=member.pk, kind=kind, name=name, registered_at=clock.now()
    )


@transaction.atomic
def remove_device(device: Device | int, *, actor, member: Member | None = None) -> Device:
    """Remove a device (the member, or an agent for them): its token stops working and its
    playing screen, if any, is stopped."""
    pk = device.pk if isinstance(device, Device) else device
    row = Device.objects.select_for_update().filter(pk=pk).first()
    if row is None or (member is not None and row.member_id != member.pk):
        raise NotFound(f"No device {pk}.", code="unknown_device")
    if row.removed_at is not None:
        return row
    row.removed_at = clock.now()
    row.removed_by = getattr(actor, "username", str(actor))[:150]
    if row.token_sha256:  # the paired device's API token stops working
        ApiToken.objects.filter(key_hash=row.token_sha256, revoked_at=None).update(
            revoked_at=row.removed_at
        )
    row.token_sha256 = ""
    row.save(update_fields=["removed_at", "removed_by", "token_sha256"])
    for s in Session.objects.filter(device_id=row.pk, ended_at__isnull=True):
        leases.store().stop(row.member_id, s.lease_id)
    return row


# ---------------------------------------------------------------- pairing a TV or console


def begin_pairing(*, kind: str, name: str) -> dict:
    """A new pairing: the device code (secret, the device keeps it) and the user code."""
    if kind not in (Device.Kind.TV, Device.Kind.CONSOLE, Device.Kind.PHONE):
        raise DomainError("Pairing is for a TV box, a console or a phone.")
    name = " ".join((name or "").split())[:80]
    if not name:
        raise DomainError("Give the device a name (e.g. Living room TV).")
    device_code = secrets.token_urlsafe(32)
    now = clock.now()
    for _ in range(5):
        try:
            with transaction.atomic():
                row = PairingCode.objects.create(
                    device_code_sha256=pairing.sha(device_code),
                    user_code=pairing.user_code(),
                    kind=kind,
                    name=name,
                    created_at=now,
                    expires_at=now + pairing.CODE_TTL,
                )
            break
        except IntegrityError:  # a user code still open: draw again
            continue
    else:  # pragma: no cover - 20^8 codes
        raise Conflict("Could not draw a pairing code; try again.")
    return {
        "device_code": device_code,
        "user_code": row.user_code,
        "verification_uri": "/account/devices/",
        "expires_in": int(pairing.CODE_TTL.total_seconds()),
        "interval": pairing.POLL_S,
    }


class _PairingMiss(NotFound):
    pass


def approve_pairing(member: Member, code: str) -> Device:
    """The member typed the code shown on the TV: the TV becomes one of their devices. A wrong
    code is counted (and kept) before it is refused."""
    try:
        with transaction.atomic():
            return _approve_pairing(member, code)
    except _PairingMiss as miss:
        with transaction.atomic():
            PairingMiss.objects.create(member_id=member.pk, at=clock.now(), code=(code or "")[:20])
        raise NotFound(miss.message, code="bad_code") from None


def _approve_pairing(member: Member, code: str) -> Device:
    now = clock.now()
    Member.objects.select_for_update().filter(pk=member.pk).values_list("pk").first()
    wrong = PairingMiss.objects.filter(member_id=member.pk, at__gt=now - dt.timedelta(hours=1))
    if wrong.count() >= pairing.WRONG_PER_HOUR:
        raise Forbidden(
            "Too many wrong codes in the last hour. Wait a while, then try the code on the "
            "screen again.",
            code="too_many_tries",
        )
    row = (
        PairingCode.objects.select_for_update()
        .filter(user_code=pairing.normalise(code), approved_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if row is None:
        raise _PairingMiss(
            "That code is not one we showed, or it has expired (codes last 10 minutes). "
            "Check the code on the screen.",
            code="bad_code",
        )
    device = Device.objects.create(
        member_id=member.pk, kind=row.kind, name=row.name, registered_at=now
    )
    row.member_id = member.pk
    row.device = device
    row.approved_at = now
    row.save(update_fields=["member", "device", "approved_at"])
    return device


@transaction.atomic
def collect_pairing(device_code: str) -> dict:
    """The device's poll: pending, slow down, expired, or its token (given once)."""
    now = clock.now()
    row = (
        PairingCode.objects.select_for_update(of=("self",))  # PostgreSQL: not the nullable joins
        .filter(device_code_sha256=pairing.sha(device_code or ""))
        .select_related("device", "member__user")
        .first()
    )
    if row is None:
        raise NotFound("Unknown device code.", code="invalid_grant")
    if row.collected_at is not None:
        raise Conflict("This pairing was already completed.", code="invalid_grant")
    if row.approved_at is None:
        if row.expires_at <= now:
            raise Conflict("The code expired; start pairing again.", code="expired_token")
        too_soon = row.last_polled_at and now - row.last_polled_at < dt.timedelta(
            seconds=pairing.POLL_S
        )
        row.last_polled_at = now
        row.save(update_fields=["last_polled_at"])
        if too_soon:
            return {"error": "slow_down", "interval": pairing.POLL_S + 5}
        return {"error": "authorization_pending", "interval": pairing.POLL_S}
    token = issue_api_token(row.member.user, name=f"device {row.device_id}: {row.device.name}")
    Device.objects.filter(pk=row.device_id).update(token_sha256=hash_token(token))
    row.collected_at = now
    row.save(update_fields=["collected_at"])
    return {"access_token": token, "token_type": "Bearer", "device_id": row.device_id}
