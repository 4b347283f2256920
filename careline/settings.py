"""Runtime configuration, read once from ``CARELINE_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 16


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "careline"


class Settings(BaseSettings):
    """Everything an operator can set. See docs/configuration.md for each variable."""

    model_config = SettingsConfigDict(env_prefix="CARELINE_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    secret_key: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH)
    redis_url: str | None = None

    idle_timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=7 * 24)
    login_lockout_threshold: int = Field(default=5, ge=1, le=100)
    login_lockout_max_minutes: int = Field(default=60, ge=1)
    default_region: str = Field(default="US", min_length=2, max_length=2, description="For numbers typed without +")
    verification_identifiers: str = Field(default="name,birth_date", pattern=r"^[a-z_]+(,[a-z_]+)+$")
    verification_window_minutes: int = Field(default=30, ge=1, le=24 * 60)
    break_glass_minutes: int = Field(default=60, ge=1, le=24 * 60)
    center_time_zone: str = Field(default="America/New_York", description="Where the wallboard's day begins")
    forwarded_allow_ips: str = "127.0.0.1,::1"
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+$",
                                   description="Where providers reach us, e.g. https://cc.example.org")

    telephony_provider: str = Field(default="simulated", pattern="^(simulated|twilio)$")
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: str | None = None
    twilio_api_key_sid: str | None = Field(default=None, pattern=r"^SK[0-9a-fA-F]{32}$")
    twilio_api_key_secret: str | None = None
    twilio_twiml_app_sid: str | None = Field(default=None, pattern=r"^AP[0-9a-fA-F]{32}$")
    twilio_api_url: str = Field(default="https://api.twilio.com", description="Only tests point it elsewhere")
    caller_id: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="Outbound calls show it")
    record_calls: bool = False
    hold_music_url: str | None = None
    cti_secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH)
    cti_default_queue: str = Field(default="general", min_length=1, max_length=60)

    sms_provider: str = Field(default="sink", pattern="^(sink|twilio)$")
    sms_sender: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$",
                                   description="The number texts come from when the patient did not write first")
    twilio_messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    sms_rate_per_sender: int = Field(default=10, ge=0, description="Texts per second from one number; 0 = off")
    sms_rate_global: int = Field(default=100, ge=0, description="Texts per second in all; 0 = off")
    email_provider: str = Field(default="sink", pattern="^(sink|smtp)$")
    email_from: str = Field(default="Careline <care@careline.localhost>", min_length=3)
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    smtpd_host: str = "127.0.0.1"
    smtpd_port: int = Field(default=8025, ge=1, le=65535)
    email_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, description="A larger inbound e-mail bounces")
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Per inbound attachment")
    email_webhook_secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH)
    chat_origins: str = Field(default="", description="Websites allowed to embed the chat widget, comma-separated")
    chat_starts_per_minute: int = Field(default=20, ge=0, le=10_000,
                                        description="New chats one client address may start a minute (0: no limit)")
    messaging_queue: str = Field(default="scheduling", min_length=1, max_length=60)
    messaging_queue_es: str | None = Field(default="scheduling-es", max_length=60)
    center_name: str = Field(default="Careline Health", min_length=1, max_length=100)
    center_phone: str | None = Field(default=None, description="Said in the HELP reply")
    sink_file: Path | None = Field(default=None, description="Defaults to sent-messages.jsonl in the data dir")

    outbox_max_age_minutes: int = Field(default=24 * 60, ge=1, description="Then a message is given up")
    outbox_batch: int = Field(default=50, ge=1, le=5000, description="Outbox rows a worker takes at once")
    outbox_lease_seconds: int = Field(default=60, ge=5, le=3600,
                                      description="A taken row not settled by then is due again (its worker died)")
    log_level: str = Field(default="INFO", pattern="^(?i:debug|info|warning|error|critical)$")
    log_format: str = Field(default="json", pattern="^(json|console)$")

    @field_validator("database_url")
    @classmethod
    def _normalise_driver(cls, url: str | None) -> str | None:
        """A plain ``postgresql://`` URL works as written: we pick the psycopg 3 driver for it."""
        if url and url.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @field_validator("center_time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone!r}: use a tz database name such as America/Chicago") from error
        return zone

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'careline.db'}"

    @property
    def effective_sink_file(self) -> Path:
        return self.sink_file or self.data_dir / "sent-messages.jsonl"

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated on first run and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        return _read_or_create_secret(self.data_dir / "secret_key")


def _read_or_create_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        # link() fails if another process got there first, so every process ends up reading one key.
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ValueError(f"{path} holds no usable key: delete it to have a new one made")
    return key
