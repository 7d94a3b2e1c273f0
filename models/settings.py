"""Application settings, read once from the environment (prefix THIDUA_) or a `.env` file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from thidua.models.settings_core import (
    DEFAULT_DATA_DIR,
    DEFAULT_TIMEZONE,
    ENV_FILE,
    PREFIX,
    database_url_for,
    resolve_data_dir,
)

SmtpSecurity = Literal["none", "starttls", "ssl"]
_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
ImapSecurity = Literal["none", "starttls", "ssl"]
_IMAP_PORTS: dict[str, int] = {"none": 143, "starttls": 143, "ssl": 993}


class Settings(BaseSettings):
    """Every setting. Read-only commands read the three they need through models.settings_core instead,
    which follows the same sources and rules without loading pydantic-settings."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX.upper(), env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    # Where documents, reports, the inbox and attachments live (models/storage.py): empty = the data dir;
    # s3://bucket/prefix = an S3-compatible bucket, reached at storage_endpoint_url when it is not AWS.
    storage_url: str = ""
    storage_endpoint_url: str = ""
    storage_access_key: str = ""
    storage_secret_key: SecretStr = SecretStr("")
    storage_region: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: SmtpSecurity = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "thidua@localhost"
    mail_from_name: str = "Hệ thống thi đua – khen thưởng THADS"
    # Emails per second for one dispatch batch; 0 means as fast as the server accepts.
    mail_rate_per_second: float = 0.0
    mail_batch_size: int = 200
    mail_max_attempts: int = 8
    # The mailbox the system reads over IMAP (units answer a reminder by replying with the filled template):
    # empty host = off. Handled messages are moved out of imap_folder into the processed or rejected folder.
    imap_host: str = ""
    imap_port: int = Field(default=0, ge=0, le=65535)
    imap_security: ImapSecurity = "none"
    imap_username: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_folder: str = "INBOX"
    imap_processed_folder: str = "Processed"
    imap_rejected_folder: str = "Rejected"
    imap_timeout_seconds: float = Field(default=30.0, gt=0)
    # PEM file of the CA(s) that sign the IMAP server's certificate (a private CA); empty = the system's
    # trusted CAs. The certificate and its host name are always checked: the password never goes elsewhere.
    imap_ca_file: str = ""
    timezone: str = DEFAULT_TIMEZONE
    # Reward money of a collective as a multiple of the individual's multiplier
    # (THIDUA_AWARD_COLLECTIVE_FACTOR, e.g. 2: "collectives are paid twice what a person gets"). Unset: each
    # award's own collective multiplier from the campaign definition applies.
    award_collective_factor: Decimal | None = Field(default=None, ge=0)
    # The web portal: administrators by address (comma-separated, THIDUA_ADMIN_EMAILS), and the address the
    # portal is reached at from outside (THIDUA_PUBLIC_URL, e.g. https://thidua.thads.vn) for links in emails.
    admin_emails: str = ""
    public_url: str = ""
    # The warm local Prefect server (no PREFECT_API_URL): it stops after this many seconds without a `thidua`
    # process using it; 0 = each command starts its own server, which stops with it.
    engine_idle_seconds: float = Field(default=900.0, ge=0)
    # Usage reporting of the libraries we run (Prefect's client and server analytics): off unless set.
    usage_reporting: bool = False
    # `thidua serve`'s HTTP endpoint: /healthz and /metrics (Prometheus). Port 0 = no endpoint.
    serve_http_host: str = "127.0.0.1"
    serve_http_port: int = Field(default=9464, ge=0, le=65535)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"THIDUA_TIMEZONE: múi giờ “{value}” không có (ví dụ Asia/Ho_Chi_Minh)") from exc
        return value

    @field_validator("imap_folder", "imap_processed_folder", "imap_rejected_folder")
    @classmethod
    def _plain_folder(cls, value: str) -> str:
        # IMAP writes other names in its own UTF-7; plain ASCII names are what every server takes as they are.
        if not value or not all(" " <= ch <= "~" and ch not in '"\\' for ch in value):
            raise ValueError(
                f"THIDUA_IMAP_*_FOLDER: tên thư mục “{value}” chỉ dùng chữ không dấu, số và dấu câu "
                "thông thường"
            )
        return value

    @field_validator("smtp_port")
    @classmethod
    def _port_range(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("THIDUA_SMTP_PORT phải từ 1 đến 65535 (0 = cổng mặc định của chế độ bảo mật)")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.data_dir = resolve_data_dir(self.data_dir)
        self.database_url = database_url_for(self.database_url, self.data_dir)
        if not self.smtp_port:
            self.smtp_port = _DEFAULT_PORTS[self.smtp_security]
        if not self.imap_port:
            self.imap_port = _IMAP_PORTS[self.imap_security]
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def uses_smtp(self) -> bool:
        return bool(self.smtp_host)

    @property
    def uses_imap(self) -> bool:
        return bool(self.imap_host)

    @property
    def admins(self) -> frozenset[str]:
        """THIDUA_ADMIN_EMAILS as lower-cased addresses."""
        return frozenset(
            a.strip().lower() for a in self.admin_emails.replace(";", ",").split(",") if a.strip()
        )


__all__ = ["Field", "ImapSecurity", "Settings", "SmtpSecurity"]
