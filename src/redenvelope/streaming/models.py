"""Streaming: a title's encodes and their renditions in object storage, members' devices and
pairing codes, playback leases (in the database when Redis is not configured), each playback
session and where a member stopped in each title."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Title
from redenvelope.membership.models import Member


class Encode(models.Model):
    """One run of the encoding ladder over a title's master. A title plays its newest ready
    encode; encoding the same master again finds the ready one (the master's checksum)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Encoding"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="encodes")
    master_sha256 = models.CharField(max_length=64)
    master_name = models.CharField(max_length=300)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    prefix = models.CharField(max_length=200, help_text="Where its files are, in media storage.")
    duration_s = models.FloatField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0, help_text="Wall time of the encode.")
    error = models.TextField(blank=True, default="")
    has_captions = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["title", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["title", "master_sha256"],
                condition=Q(status="ready"),
                name="one_ready_encode_per_master",
            )
        ]

    def __str__(self) -> str:
        return f"encode {self.pk} of {self.title_id} ({self.status})"


class Rendition(models.Model):
    """One version of the picture or the sound: its playlist and segments under the encode's
    prefix."""

    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"

    encode = models.ForeignKey(Encode, on_delete=models.CASCADE, related_name="renditions")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    name = models.CharField(max_length=40)  # 1080p, 720p, ..., audio_128k
    codec = models.CharField(max_length=40)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    bitrate = models.PositiveIntegerField(help_text="Target bits a second.")
    size_bytes = models.BigIntegerField(default=0)
    duration_s = models.FloatField(default=0)
    sha256 = models.CharField(max_length=64, help_text="Over its playlist and segments, in order.")
    playlist = models.CharField(max_length=200, help_text="Its playlist, under the prefix.")
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["encode_id", "kind", "-height", "-bitrate"]
        constraints = [
            models.UniqueConstraint(fields=["encode", "name"], name="one_rendition_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.codec} {self.bitrate // 1000} kb/s"


class Device(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", "Web browser"
        PHONE = "phone", "Phone"
        CONSOLE = "console", "Game console"
        TV = "tv", "TV box"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=80)
    registered_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=150, blank=True, default="")
    # A paired TV or console calls the API with this token (kept as its SHA-256).
    token_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["member_id", "-registered_at"]
        indexes = [models.Index(fields=["token_sha256"], name="device_by_token")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class PairingCode(models.Model):
    """The OAuth device flow (RFC 8628) in small: a TV asks for a code, shows the short user
    code, the member types it on the site, the TV polls with its device code and gets a token."""

    device_code_sha256 = models.CharField(max_length=64, unique=True)
    user_code = models.CharField(max_length=9)  # XXXX-XXXX, unambiguous letters
    kind = models.CharField(max_length=8, choices=Device.Kind.choices)
    name = models.CharField(max_length=80)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.CASCADE)
    device = models.OneToOneField(Device, null=True, blank=True, on_delete=models.CASCADE)
    approved_at = models.DateTimeField(null=True, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_code"], condition=Q(approved_at__isnull=True), name="open_user_code"
            )
        ]

    def __str__(self) -> str:
        return f"pairing {self.user_code} ({self.name})"


class PairingMiss(models.Model):
    """A wrong pairing code a member typed: too many in an hour and typing is refused."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()
    code = models.CharField(max_length=20)

    class Meta:
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        return f"{self.member_id} typed {self.code} at {self.at:%H:%M}"


class Lease(models.Model):
    """One screen playing now, when leases are kept in the database (no Redis configured)."""

    lease_id = models.CharField(max_length=40, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    expires_at = models.DateTimeField()
    position_s = models.FloatField(default=0)

    class Meta:
        indexes = [models.Index(fields=["member", "expires_at"])]

    def __str__(self) -> str:
        return f"lease {self.lease_id} of {self.member_id}"


class Session(models.Model):
    """One playback, from start to stop (or to its lease running out): watch history."""

    lease_id = models.CharField(max_length=40, unique=True)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="stream_sessions")
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    device_name = models.CharField(max_length=80, blank=True, default="")
    encode = models.ForeignKey(Encode, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, blank=True, default="")  # stopped | expired
    start_position_s = models.FloatField(default=0)
    position_s = models.FloatField(default=0)
    # The tallest picture the licence window allowed at start (its format ceiling): renditions
    # above it are left out of the master playlist and refused.
    max_height = models.PositiveSmallIntegerField(default=1080)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["member", "-started_at"]),
            models.Index(fields=["started_at"]),
            models.Index(fields=["ended_at"], condition=Q(ended_at__isnull=True), name="live"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} watched {self.title_id} from {self.started_at:%Y-%m-%d %H:%M}"


class WatchPosition(models.Model):
    """Where a member stopped in a title: resume, and 'continue watching'."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="+")
    position_s = models.FloatField(default=0)
    duration_s = models.FloatField(default=0)
    updated_at = models.DateTimeField()
    finished = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "title"], name="one_position_per_title")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} at {self.position_s:.0f} s of {self.title_id}"
