"""Streaming pages: watch a title (hls.js), what is playing and where you stopped, devices; the
signed media files; the staff's streaming page. Thin: every change goes through `actions`."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from redenvelope.accounts.roles import Role, role_required
from redenvelope.catalog.models import Title
from redenvelope.core.errors import DomainError, Forbidden
from redenvelope.membership.decorators import member_required
from redenvelope.rights import queries as rights

from . import actions, delivery, leases, queries
from .models import Encode
from .storage import content_type, media_storage


def _playing_json(sessions) -> list[dict]:
    return [
        {
            "lease_id": s.lease_id,
            "title": s.title.name,
            "device": s.device_name,
            "started_at": s.started_at.isoformat(),
        }
        for s in sessions
    ]


def _error(exc: DomainError) -> JsonResponse:
    body = {"detail": exc.message, "code": exc.code}
    if isinstance(exc, actions.TooManyScreens):
        body["playing"] = _playing_json(exc.playing)
    return JsonResponse(body, status=exc.status_code)


@member_required
@never_cache
def watch(request: HttpRequest, title_id: int) -> HttpResponse:
    member = request.member
    title = get_object_or_404(Title, pk=title_id)
    avail = rights.availability([title.pk], member.territory).get(title.pk)
    encode = actions.ready_encode(title.pk)
    return render(
        request,
        "streaming/watch.html",
        {
            "title": title,
            "availability": avail,
            "encode": encode,
            "playing": actions.playing_sessions(member.pk),
            "screens": member.plan.streaming_screens,
            "heartbeat_s": actions.heartbeat_s(),
        },
    )


@member_required
@require_POST
def start(request: HttpRequest, title_id: int) -> JsonResponse:
    member = request.member
    try:
        session = actions.start_playback(
            member, title_id, device_name=request.POST.get("device", "Web browser")[:80]
        )
    except DomainError as exc:
        return _error(exc)
    token = delivery.token_for(session)
    encode = Encode.objects.get(pk=session.encode_id)
    return JsonResponse(
        {
            "lease_id": session.lease_id,
            "token": token,
            "src": delivery.master_url(token),
            "captions": f"/stream/{token}/captions/en.vtt" if encode.has_captions else None,
            "position": session.start_position_s,
            "heartbeat_s": actions.heartbeat_s(),
        }
    )


@member_required
@require_POST
def beat(request: HttpRequest, lease_id: str) -> JsonResponse:
    member = request.member
    try:
        actions.heartbeat(member, lease_id, request.POST.get("position"))
        session = actions.session_of(member, lease_id)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse({"token": delivery.token_for(session)})


@member_required
@require_POST
def stop(request: HttpRequest, lease_id: str) -> HttpResponse:
    member = request.member
    try:
        session = actions.stop_playback(member, lease_id, request.POST.get("position"))
    except DomainError as exc:
        return _error(exc)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"stopped": session.lease_id, "position": session.position_s})
    return redirect(request.POST.get("next") or "watching")


@require_GET
def media(request: HttpRequest, token: str, path: str) -> HttpResponse:
    """A file of an encode, for the holder of a live lease's signed token."""
    try:
        member_id, lease_id, encode_id, max_height = delivery.read_token(token)
        if lease_id not in leases.store().live(member_id):
            raise Forbidden("This playback has ended; start again.", code="lease_gone")
        if not delivery.allowed_path(path, max_height):
            raise Forbidden("This picture is above what the licence allows.", code="ceiling")
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    prefix = Encode.objects.filter(pk=encode_id, status="ready").values_list("prefix", flat=True)
    prefix = prefix.first()
    if prefix is None or ".." in path.split("/"):
        return HttpResponse("No such file.", status=404, content_type="text/plain")
    storage = media_storage()
    key = f"{prefix}/{path}"
    try:
        if path == "master.m3u8":  # the ladder, less what the licence does not allow
            body = storage.open(key)
            try:
                text = body.read().decode()
            finally:
                body.close()
            response = HttpResponse(
                delivery.master_within(text, max_height), content_type=content_type(key)
            )
        elif storage.kind == "file":
            if not storage.path(key).is_file():
                raise FileNotFoundError(key)
            response = FileResponse(storage.open(key), content_type=content_type(key))
        else:
            body = storage.open(key)
            response = StreamingHttpResponse(body.iter_chunks(), content_type=content_type(key))
    except (FileNotFoundError, ValueError):
        return HttpResponse("No such file.", status=404, content_type="text/plain")
    except Exception as exc:  # noqa: BLE001 - the S3 client's "no such key"
        if "NoSuchKey" in type(exc).__name__ or "NoSuchKey" in str(exc):
            return HttpResponse("No such file.", status=404, content_type="text/plain")
        raise
    response["Cache-Control"] = "private, max-age=60"
    return response


@member_required
def watching(request: HttpRequest) -> HttpResponse:
    member = request.member
    return render(
        request,
        "streaming/watching.html",
        {
            "playing": actions.playing_sessions(member.pk),
            "continue_watching": queries.continue_watching(member.pk),
            "history": queries.history(member.pk),
            "screens": member.plan.streaming_screens,
        },
    )


@member_required
def devices(request: HttpRequest) -> HttpResponse:
    member = request.member
    if request.method == "POST":
        try:
            if request.POST.get("do") == "remove":
                actions.remove_device(
                    int(request.POST.get("device", 0) or 0), actor=request.user, member=member
                )
                note = "Device removed: it can no longer play on your account."
            else:
                device = actions.approve_pairing(member, request.POST.get("code", ""))
                note = f"{device.name} is paired: it can play on your account now."
        except (DomainError, ValueError) as exc:
            return render(
                request,
                "streaming/devices.html",
                {"devices": queries.devices_of(member.pk), "error": str(exc)},
                status=getattr(exc, "status_code", 400),
            )
        return render(
            request,
            "streaming/devices.html",
            {"devices": queries.devices_of(member.pk), "note": note},
        )
    return render(request, "streaming/devices.html", {"devices": queries.devices_of(member.pk)})


@role_required(Role.OPERATIONS, Role.SUPPORT_AGENT, Role.SUPPORT_LEAD, Role.ADMIN)
def staff_streaming(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "streaming/staff.html",
        {
            "concurrent": queries.concurrent_by_plan_and_territory(),
            "hours": queries.hours_by_title(days=30),
            "encodes": Encode.objects.select_related("title").order_by("-started_at")[:50],
            "expiring": rights.expiring(90),
        },
    )
