"""What a license allows where. A Licensor signs Contracts (territories, a term, and what we pay:
a flat fee, a share per rental and per stream, a minimum guarantee recouped from those shares);
each contract covers Titles and grants LicenseWindows per title and territory. A title streams
to a member only inside a subscription window covering the member's territory, and ships on disc
only inside a disc-rental window when it has any (a title with no disc window is one we bought
outright: first sale). Amendments keep each earlier version of a contract's terms."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Title


class WindowKind(models.TextChoices):
    SVOD = "svod", "Subscription (SVOD)"
    AVOD = "avod", "Ad-supported (AVOD)"
    TVOD = "tvod", "Rental or purchase (TVOD)"
    DVD = "dvd", "Disc rental"


class Ceiling(models.TextChoices):
    """The best picture the license allows; each covers those below it."""

    SD = "sd", "SD (up to 480p)"
    HD = "hd", "HD (up to 1080p)"
    UHD = "uhd", "UHD (up to 2160p)"


# The tallest picture each ceiling allows, in lines.
CEILING_HEIGHT = {Ceiling.SD: 480, Ceiling.HD: 1080, Ceiling.UHD: 2160}


class Licensor(models.Model):
    """A studio or distributor that licenses titles to us (paid through a payables vendor)."""

    name = models.CharField(max_length=120, unique=True)
    country = models.CharField(max_length=2, default="US")
    email = models.EmailField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FeeEvery(models.TextChoices):
    ONCE = "once", "Once, at signing"
    MONTH = "month", "Every month of the term"


# The terms an amendment may change (and that each version records).
TERMS = (
    "name",
    "territories",
    "starts_on",
    "ends_on",
    "flat_fee_cents",
    "flat_fee_every",
    "per_rental_cents",
    "per_stream_cents",
    "minimum_guarantee_cents",
)


class Contract(models.Model):
    """A license agreement: which titles, where, for how long, and what it costs. Shares are
    per rental (a disc shipped) and per stream (a playback started) of a covered title in the
    contract's territories and term; the minimum guarantee is an advance recouped from them."""

    licensor = models.ForeignKey(Licensor, on_delete=models.PROTECT, related_name="contracts")
    reference = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    territories = models.CharField(max_length=300)
    starts_on = models.DateField()
    ends_on = models.DateField()
    flat_fee_cents = models.PositiveBigIntegerField(default=0)
    flat_fee_every = models.CharField(max_length=5, choices=FeeEvery.choices, default=FeeEvery.ONCE)
    per_rental_cents = models.PositiveIntegerField(default=0)
    per_stream_cents = models.PositiveIntegerField(default=0)
    minimum_guarantee_cents = models.PositiveBigIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["licensor_id", "starts_on"]
        constraints = [
            models.CheckConstraint(
                name="contract_ends_after_it_starts", condition=Q(ends_on__gt=models.F("starts_on"))
            ),
            models.CheckConstraint(name="contract_has_territories", condition=~Q(territories="")),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.licensor})"

    def terms(self) -> dict:
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k in TERMS
            for v in [getattr(self, k)]
        }


class ContractTitle(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="titles")
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="contracts")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "title"], name="one_row_per_contract_title")
        ]
        indexes = [models.Index(fields=["title"])]

    def __str__(self) -> str:
        return f"{self.contract_id}/{self.title_id}"


class ContractVersion(models.Model):
    """One version of a contract's terms: version 1 at signing, one more per amendment."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    terms = models.JSONField()
    reason = models.CharField(max_length=300, blank=True, default="")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["contract_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} v{self.version}"


class AvailsImport(models.Model):
    """One avails file taken in: what it held, what came of it, and who sent it."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all", "Nothing imports if any row is bad"
        VALID_ROWS = "valid", "Valid rows import; bad rows are reported"

    filename = models.CharField(max_length=200)
    mode = models.CharField(max_length=5, choices=Mode.choices)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first rejected rows: [{"line": n, "reason": "..."}].
    errors = models.JSONField(default=list)
    imported = models.BooleanField(default=False)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.at:%Y-%m-%d})"


class LicenseWindow(models.Model):
    """A span [starts_at, ends_at) in which a title may be offered in some territories. An open
    end (no ends_at) runs until someone ends it."""

    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="license_windows")
    kind = models.CharField(max_length=4, choices=WindowKind.choices, default=WindowKind.SVOD)
    # ISO 3166-1 alpha-2 codes, upper case, comma-separated and sorted ("CA,US").
    territories = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    ceiling = models.CharField(max_length=3, choices=Ceiling.choices, default=Ceiling.HD)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="windows"
    )
    exclusive = models.BooleanField(default=True, db_default=True)
    avails_import = models.ForeignKey(
        AvailsImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="windows"
    )

    class Meta:
        ordering = ["title_id", "starts_at"]
        indexes = [models.Index(fields=["title", "starts_at"]), models.Index(fields=["ends_at"])]
        constraints = [
            models.CheckConstraint(
                name="window_ends_after_it_starts",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
            ),
            models.CheckConstraint(name="window_has_territories", condition=~Q(territories="")),
        ]

    def __str__(self) -> str:
        end = self.ends_at.date() if self.ends_at else "open"
        return f"{self.title_id} {self.kind} {self.territories} {self.starts_at.date()}–{end}"

    @property
    def territory_list(self) -> list[str]:
        return self.territories.split(",")
