"""The settings every command needs — data folder, database, time zone — read without pydantic-settings.

A read-only command (`thidua campaign list`, `outbox list`, …) needs only these three values; building the
full `models.settings.Settings` would load pydantic-settings, about as long as the rest of the command. This
module reads the same sources the same way: `THIDUA_*` variables (names in any case) over those of a `.env`
file in the working directory, parsed by python-dotenv as pydantic-settings parses it, and completed by the
same rules (`resolve_data_dir`, `database_url_for`, which `Settings` itself applies).
tests/models/test_settings_core.py proves both readings agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "thidua_"
ENV_FILE = ".env"
DEFAULT_DATA_DIR = Path("./var")
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def resolve_data_dir(value: Path) -> Path:
    """The data folder as an absolute path (`~` expanded)."""
    return value.expanduser().resolve()


def database_url_for(url: str, data_dir: Path) -> str:
    """The database URL: the SQLite file in the data folder when unset; PostgreSQL through psycopg 3."""
    if not url:
        return f"sqlite:///{data_dir / 'thidua.db'}"
    if url.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the only PostgreSQL driver we ship.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def raw_values(environ: Mapping[str, str] | None = None, env_file: str | Path = ENV_FILE) -> dict[str, str]:
    """Every `THIDUA_*` value as pydantic-settings finds it, keyed by field name (`data_dir`, …): the
    environment over the `.env` file; names case-insensitive; a `.env` line without a value is no value."""
    values: dict[str, str] = {}
    path = Path(env_file).expanduser()
    if path.is_file() or path.is_fifo():
        from dotenv import dotenv_values  # only when there is a file to read

        for name, value in dotenv_values(path, encoding="utf-8").items():
            if value is not None and name.lower().startswith(PREFIX):
                values[name.lower()[len(PREFIX) :]] = value
    for name, value in (os.environ if environ is None else environ).items():
        if name.lower().startswith(PREFIX):
            values[name.lower()[len(PREFIX) :]] = value
    return values


@dataclass(frozen=True)
class CoreSettings:
    """Data folder, database URL, time zone and storage URL, with the values `Settings` would have."""

    data_dir: Path
    database_url: str
    timezone: str
    storage_url: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def read_core_settings() -> CoreSettings:
    """The three settings from the environment and `.env`, as `Settings()` reads them.

    A value these rules do not accept (an unknown zone) is left to `Settings()`, which refuses it with its
    own message, so a bad setting reads the same on every command."""
    raw = raw_values()
    timezone = raw.get("timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        from thidua.models.settings import Settings

        Settings()  # raises the validation error every command shows for this setting
        raise  # not reached unless both readings disagree, which the tests rule out
    data_dir = resolve_data_dir(Path(raw.get("data_dir", DEFAULT_DATA_DIR)))
    database_url = database_url_for(raw.get("database_url", ""), data_dir)
    return CoreSettings(data_dir, database_url, timezone, raw.get("storage_url", "").strip())
