"""One settings module for every environment; everything that differs comes from the environment.

DATABASE_URL   sqlite:///path (default: ./var/redenvelope.sqlite3) or postgres://user:pw@host:port/db
SECRET_KEY     required when DEBUG is off
DEBUG          "1" for development (default on unless REDENVELOPE_ENV=production)
ALLOWED_HOSTS  comma separated
EMAIL_URL      smtp://host:port (default: console backend in DEBUG, localhost:25 otherwise)
REDIS_URL      when set, Huey uses Redis instead of SQLite, and streaming leases live there
MEDIA_STORAGE_URL  where encoded media live: file:///path (default var/media) or
               s3://KEY:SECRET@host:port/bucket (any S3-compatible server; https with ?tls=1)
MAIL_DELIVERY  after_commit (default) | worker: who sends the queued emails (docs/operations.md)
DISPATCH_WORKERS  DC runs due together that run side by side (default 0: one per core)
HUEY_WORKERS, HUEY_WORKER_TYPE  the job worker's processes (default 2, "process")
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("REDENVELOPE_DATA_DIR", Path.cwd() / "var")).resolve()

PRODUCTION = os.environ.get("REDENVELOPE_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when REDENVELOPE_ENV=production")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "huey.contrib.djhuey",
    "redenvelope.core",
    "redenvelope.ledger",
    "redenvelope.accounts",
    "redenvelope.catalog",
    "redenvelope.rights",
    "redenvelope.inventory",
    "redenvelope.membership",
    "redenvelope.queues",
    "redenvelope.ratings",
    "redenvelope.workforce",
    "redenvelope.fulfillment",
    "redenvelope.streaming",
    "redenvelope.billing",
    "redenvelope.support",
    "redenvelope.recommendations",
    "redenvelope.growth",
    "redenvelope.payables",
    "redenvelope.insight",
    "redenvelope.web",
    # After the site, so web/templates/ninja/swagger.html (with lang) wins; in INSTALLED_APPS
    # so /api/docs serves its bundled Swagger UI from here (not from a CDN the CSP refuses).
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "redenvelope.core.middleware.SecurityHeadersMiddleware",
    "redenvelope.core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "redenvelope.urls"
WSGI_APPLICATION = "redenvelope.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "redenvelope.accounts.context_processors.roles",
                "redenvelope.web.context_processors.banners",
                "redenvelope.web.context_processors.row_urls",
            ]
        },
    }
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'redenvelope.sqlite3'}"
    db = dj_database_url.parse(url, conn_max_age=0 if url.startswith("sqlite") else 60)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN,
        # so two writers queue on the busy timeout instead of failing half-way with "locked".
        db["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            # 64 MiB of page cache a connection (2 MiB by default): bulk writes into indexed
            # tables of millions of rows stay in memory instead of re-reading pages
            "PRAGMA cache_size=-65536;"
            " PRAGMA foreign_keys=ON;",
        }
    elif db["ENGINE"] == "django.db.backends.postgresql":
        # No JIT: it compiles each big statement of a bulk run anew (0.3-0.5 s apiece, more
        # than it saves on statements that walk indexes), and it buys nothing for pages.
        opts = db.setdefault("OPTIONS", {})
        if "jit" not in opts.get("options", ""):
            opts["options"] = (opts.get("options", "") + " -c jit=off").strip()
        if db["NAME"] and db["NAME"] != ":memory:":
            Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The queue's (member, position) constraint is deferrable on PostgreSQL; on SQLite, which has no
# deferrable constraints, migration queues 0006 adds a plain unique index (checked at once,
# which the code allows for: docs/decisions/0001-foundation.md).
SILENCED_SYSTEM_CHECKS = ["models.W038"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["redenvelope.accounts.forms.EmailOrUsernameBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "landing"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Los_Angeles")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve app static files straight from the package too, so no collectstatic is needed to run.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

_email_url = os.environ.get("EMAIL_URL", "")
if _email_url.startswith("smtp://"):
    _hostport = _email_url.removeprefix("smtp://")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST, _, _port = _hostport.partition(":")
    EMAIL_PORT = int(_port or 25)
elif DEBUG:
    # Development and the demo: each email is a file under var/.../mail, readable, never sent.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Links in emails (verification, password reset, unsubscribe) start here.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Red Envelope <service@redenvelope.test>")

_redis_url = os.environ.get("REDIS_URL")
if _redis_url:
    HUEY = {"huey_class": "huey.RedisHuey", "name": "redenvelope", "url": _redis_url}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "redenvelope",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("HUEY_IMMEDIATE", False),
    }
# The worker runs each job in a process of its own (two at once): a job alone in its process may
# fork, so the DCs due together dispatch side by side and their labels are drawn by forked
# workers (a thread worker does both in turn, in-process).
HUEY["consumer"] = {
    "workers": int(os.environ.get("HUEY_WORKERS", 2)),
    "worker_type": os.environ.get("HUEY_WORKER_TYPE", "process"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Business settings an operator may change (documented in docs/operations.md).
REDENVELOPE = {
    # Streaming (docs/operations.md, "Streaming"): leases in Redis when REDIS_URL is set, else
    # in the database; a player sends a heartbeat every STREAM_HEARTBEAT_S seconds and a lease
    # without one for STREAM_LEASE_S seconds is gone (its screen free again).
    "REDIS_URL": _redis_url or "",
    "STREAM_HEARTBEAT_S": int(os.environ.get("STREAM_HEARTBEAT_S", 15)),
    "STREAM_LEASE_S": int(os.environ.get("STREAM_LEASE_S", 45)),
    # Signed media URLs live this long (a player renews them with each heartbeat).
    "STREAM_URL_TTL_S": int(os.environ.get("STREAM_URL_TTL_S", 300)),
    "MEDIA_STORAGE_URL": os.environ.get("MEDIA_STORAGE_URL", f"file://{DATA_DIR / 'media'}"),
    # Members' territory (ISO 3166-1) for license windows: every member is in it for now.
    "TERRITORY": os.environ.get("TERRITORY", "US"),
    # Payables (docs/operations.md, "Licenses, avails and payables"): the account payment runs
    # draw on, as named in the bank file (an IBAN and BIC, or a US account and ABA routing).
    "BUSINESS_NAME": os.environ.get("BUSINESS_NAME", "Red Envelope"),
    "CURRENCY": os.environ.get("CURRENCY", "USD"),
    "BANK_IBAN": os.environ.get("BANK_IBAN", ""),
    "BANK_BIC": os.environ.get("BANK_BIC", ""),
    "BANK_ACCOUNT": os.environ.get("BANK_ACCOUNT", "000123456789"),
    "BANK_ROUTING": os.environ.get("BANK_ROUTING", "011000015"),
    # Workforce (docs/operations.md, "Workforce"): the standard discs shipped per labour hour
    # until a DC's busy days measure its own, customer service's minimum agents at any hour,
    # and payroll's rules.
    "WAREHOUSE_SHIPS_PER_HOUR": float(os.environ.get("WAREHOUSE_SHIPS_PER_HOUR", 325)),
    "SUPPORT_MIN_AGENTS": int(os.environ.get("SUPPORT_MIN_AGENTS", 1)),
    "OVERTIME_AFTER_HOURS": float(os.environ.get("OVERTIME_AFTER_HOURS", 40)),
    "OVERTIME_RATE": os.environ.get("OVERTIME_RATE", "1.5"),
    "NIGHT_PREMIUM": os.environ.get("NIGHT_PREMIUM", "0.10"),
    "WEEKEND_PREMIUM": os.environ.get("WEEKEND_PREMIUM", "0.05"),
    "PTO_HOURS_PER_HOUR": os.environ.get("PTO_HOURS_PER_HOUR", "0.0385"),
    # Insight (docs/operations.md, "Insight"): postage a disc's round trip costs, for the cost
    # per disc shipped when postage is not posted to the ledger (first class out, prepaid back).
    "POSTAGE_CENTS_PER_DISC": int(os.environ.get("POSTAGE_CENTS_PER_DISC", 84)),
    # Recommendations (docs/operations.md, "Recommendations"): trained models are kept here,
    # one file per version; the nightly retrain runs at RECS_TRAIN_HOUR (server time).
    "RECS_DIR": os.environ.get("RECS_DIR", str(DATA_DIR / "recs")),
    "RECS_TRAIN_HOUR": int(os.environ.get("RECS_TRAIN_HOUR", 5)),
    "RECS_KEEP_VERSIONS": int(os.environ.get("RECS_KEEP_VERSIONS", 5)),
    # Customer service (docs/operations.md, "Customer service").
    "SUPPORT_EMAIL": os.environ.get("SUPPORT_EMAIL", "support@redenvelope.example"),
    "SUPPORT_ALERTS_EMAIL": os.environ.get("SUPPORT_ALERTS_EMAIL", ""),
    # The telephony webhook's shared secret (POST /api/support/calls); unset: calls refused.
    "SUPPORT_CTI_SECRET": os.environ.get("SUPPORT_CTI_SECRET", ""),
    "SUPPORT_MAIL_MAX_BYTES": int(os.environ.get("SUPPORT_MAIL_MAX_BYTES", 10 * 1024 * 1024)),
    "SUPPORT_MAIL_FLOOD": int(os.environ.get("SUPPORT_MAIL_FLOOD", 30)),
    # Emails: delivered by the process that committed them ("after_commit") or left to the
    # worker's deliver_mail job ("worker": for production, off the runs' path).
    "MAIL_DELIVERY": os.environ.get("MAIL_DELIVERY", "after_commit"),
    "MAIL_BATCH": int(os.environ.get("MAIL_BATCH", 500)),
    # DCs whose dispatch is due together run side by side, this many at once (0: one per core).
    "DISPATCH_WORKERS": int(os.environ.get("DISPATCH_WORKERS", 0)),
    # A cancelled member's queue is kept this long, then purged.
    "QUEUE_RETENTION_DAYS": int(os.environ.get("QUEUE_RETENTION_DAYS", 730)),
    "QUEUE_MAX_LENGTH": int(os.environ.get("QUEUE_MAX_LENGTH", 500)),
    # A disc out longer than this is lost (a later return scan finds it).
    "LOST_AFTER_DAYS": int(os.environ.get("LOST_AFTER_DAYS", 60)),
    # Dispatch: equal | new_members | light_users (see docs/operations.md).
    "DISPATCH_PRIORITY": os.environ.get("DISPATCH_PRIORITY", "equal"),
    # Billing (docs/operations.md, "Billing"). Amounts are strings: money is never a float.
    "TRIAL_DAYS": int(os.environ.get("TRIAL_DAYS", 30)),
    # A failed payment is retried this many days after the first failure; after the last
    # retry fails the membership is cancelled and what is owed written off.
    "DUNNING_RETRY_DAYS": [
        int(d) for d in os.environ.get("DUNNING_RETRY_DAYS", "1,3,7").split(",") if d.strip()
    ],
    # Fee policy: what a disc lost or damaged by the member costs, and which happen by rule
    # (a disc out longer than LOST_AFTER_DAYS) rather than by staff decision.
    "FEES": {"lost_disc": "20.00", "damaged_disc": "10.00"},
    "FEE_ON_OVERDUE_LOST": os.environ.get("FEE_ON_OVERDUE_LOST", "1") == "1",
    # What the processor charges us for a chargeback.
    "CHARGEBACK_FEE": "15.00",
    "PAYMENT_PROVIDER": "redenvelope.billing.gateway.SimulatedGateway",
    # The simulated provider's own books (what it charged, by idempotency key), outside ours.
    "PAYMENT_PROVIDER_STORE": os.environ.get(
        "PAYMENT_PROVIDER_STORE", str(DATA_DIR / "provider.sqlite3")
    ),
    # Fault injection for drills and tests: "timeout=0.05,lost_answer=0.05,latency_ms=1".
    "PAYMENT_PROVIDER_FAULTS": os.environ.get("PAYMENT_PROVIDER_FAULTS", ""),
    # Notices a member turned off are not sent; core.mail asks this at delivery.
    "MAIL_MUTED": "redenvelope.membership.emails.muted_pairs",
    "MAIL_UNSUBSCRIBE_URL": "redenvelope.membership.emails.unsubscribe_url",
    # Growth (docs/operations.md, "Growth"): affiliate attribution and commissions, and the
    # newsletter's sending.
    "AFFILIATE_WINDOW_DAYS": int(os.environ.get("AFFILIATE_WINDOW_DAYS", 30)),
    "AFFILIATE_ATTRIBUTION": os.environ.get("AFFILIATE_ATTRIBUTION", "last"),  # last | first
    "AFFILIATE_HOLD_DAYS": int(os.environ.get("AFFILIATE_HOLD_DAYS", 30)),
    # A refund or chargeback this long after signup still reverses the commission.
    "AFFILIATE_REVERSAL_DAYS": int(os.environ.get("AFFILIATE_REVERSAL_DAYS", 90)),
    # Fraud rules: more clicks than this from one address in a minute are a flood; more
    # members than this on one card; email domains that are throw-away.
    "AFFILIATE_FLOOD_CLICKS": int(os.environ.get("AFFILIATE_FLOOD_CLICKS", 20)),
    "AFFILIATE_SIGNUPS_PER_CARD": int(os.environ.get("AFFILIATE_SIGNUPS_PER_CARD", 1)),
    "DISPOSABLE_EMAIL_DOMAINS": [
        d.strip().lower()
        for d in os.environ.get(
            "DISPOSABLE_EMAIL_DOMAINS",
            "mailinator.com,guerrillamail.com,10minutemail.com,tempmail.com,yopmail.com,"
            "trashmail.com,sharklasers.com,getnada.com,dispostable.com,throwawaymail.com",
        ).split(",")
        if d.strip()
    ],
    # Newsletter: messages a second (0: as fast as the server takes them), SMTP connections,
    # tries before a delivery fails, soft bounces before an address is suppressed, and whether
    # opens (a pixel) and clicks (a redirect) are tracked.
    "NEWSLETTER_RATE": float(os.environ.get("NEWSLETTER_RATE", 100)),
    "NEWSLETTER_CONNECTIONS": int(os.environ.get("NEWSLETTER_CONNECTIONS", 2)),
    "NEWSLETTER_TRIES": int(os.environ.get("NEWSLETTER_TRIES", 3)),
    "NEWSLETTER_RETRY_S": int(os.environ.get("NEWSLETTER_RETRY_S", 60)),
    "NEWSLETTER_SOFT_BOUNCES": int(os.environ.get("NEWSLETTER_SOFT_BOUNCES", 3)),
    "NEWSLETTER_TRACK_OPENS": env_bool("NEWSLETTER_TRACK_OPENS", True),
    "NEWSLETTER_TRACK_CLICKS": env_bool("NEWSLETTER_TRACK_CLICKS", True),
    "NEWSLETTER_FROM": os.environ.get(
        "NEWSLETTER_FROM", "Red Envelope <newsletter@redenvelope.test>"
    ),
    # Bounces reaching the mail intake (support's gateway and pipe) are handed here.
    "MAIL_BOUNCE": "redenvelope.growth.newsletter.receive_bounce",
    # The longest vacation hold a member may place, in days.
    "HOLD_MAX_DAYS": int(os.environ.get("HOLD_MAX_DAYS", 90)),
    # Sign-in throttle: wrong passwords per account, failures per address, over minutes.
    "LOGIN_THROTTLE": {
        "account": int(os.environ.get("LOGIN_THROTTLE_ACCOUNT", 5)),
        "address": int(os.environ.get("LOGIN_THROTTLE_ADDRESS", 20)),
        "minutes": int(os.environ.get("LOGIN_THROTTLE_MINUTES", 15)),
    },
}
