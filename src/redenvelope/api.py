"""The JSON API: /api, OpenAPI at /api/docs. Session (with CSRF) or bearer-token auth."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth

from redenvelope.accounts.models import ApiToken, hash_token
from redenvelope.core.errors import DomainError


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_token(token), revoked_at=None, user__is_active=True)
            .first()
        )
        if row is None:
            return None
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        return row.user


api = NinjaAPI(
    title="Red Envelope API",
    version="1",
    description=(
        "Catalog reads; joining; each member's own account, queue, ratings and billing. "
        "Errors are JSON: {detail, code}."
    ),
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
)


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return api.create_response(
        request, {"detail": exc.message, "code": exc.code}, status=exc.status_code
    )


@api.exception_handler(AuthenticationError)
def auth_error(request, exc):
    return api.create_response(
        request,
        {"detail": "Sign in or send a valid bearer token.", "code": "unauthenticated"},
        status=401,
    )


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return api.create_response(
        request, {"detail": str(exc.message), "code": "error"}, status=exc.status_code
    )


from redenvelope.billing.api import join_router  # noqa: E402
from redenvelope.billing.api import router as billing_router  # noqa: E402
from redenvelope.catalog.api import router as catalog_router  # noqa: E402
from redenvelope.membership.api import router as account_router  # noqa: E402
from redenvelope.queues.api import router as queue_router  # noqa: E402
from redenvelope.queues.api import saved_router  # noqa: E402
from redenvelope.ratings.api import router as ratings_router  # noqa: E402
from redenvelope.recommendations.api import router as recs_router  # noqa: E402
from redenvelope.streaming.api import router as streaming_router  # noqa: E402
from redenvelope.support.api import router as support_router  # noqa: E402

api.add_router("/catalog", catalog_router)
api.add_router("/queue", queue_router)
api.add_router("/saved", saved_router)
api.add_router("/billing", billing_router)
api.add_router("/ratings", ratings_router)
api.add_router("/join", join_router)
api.add_router("/account", account_router)
api.add_router("/support", support_router)
api.add_router("/streaming", streaming_router)
api.add_router("/recommendations", recs_router)
