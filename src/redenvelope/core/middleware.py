"""A request the business refuses answers 4xx with its message, never a traceback."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .errors import DomainError


class DomainErrorMiddleware:
    """The safety net behind every page: an action or a validator that refuses (`DomainError`)
    and is not handled by its view answers with the error's status and message. Nothing was
    changed: the action's transaction rolled back before the error reached here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        status = getattr(exception, "status_code", 400)
        if request.path.startswith("/api/") or "application/json" in request.headers.get(
            "Accept", ""
        ):
            return JsonResponse(
                {"detail": exception.message, "code": exception.code}, status=status
            )
        body = render_to_string(
            "web/refused.html", {"message": exception.message, "status": status}, request
        )
        return HttpResponse(body, status=status)


class SecurityHeadersMiddleware:
    """A Content-Security-Policy for every page: scripts, styles, images and connections from
    this site only (htmx and the vendored scripts are served from here)."""

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'; "
        "object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        return response
