"""The light settings reader (models/settings_core.py) finds what `Settings()` finds, for every field.

Each case sets up the process environment and a `.env` file in the working directory, then compares the two
readings: the raw values the light reader collects, validated by the Settings model without its own sources,
equal `Settings()` field for field; and the three settings a read-only command uses are the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from thidua.models.settings import Settings
from thidua.models.settings_core import raw_values, read_core_settings

CASES: dict[str, tuple[dict[str, str], str | None]] = {
    "nothing set": ({}, None),
    "environment only": (
        {
            "THIDUA_DATA_DIR": "~/thidua-data",
            "THIDUA_DATABASE_URL": "postgres://u:p@db.example:5432/thidua",
            "THIDUA_TIMEZONE": "Asia/Bangkok",
            "THIDUA_SMTP_HOST": "mail.example",
            "THIDUA_SMTP_SECURITY": "ssl",
            "THIDUA_SMTP_PASSWORD": "bí mật",
            "THIDUA_MAIL_RATE_PER_SECOND": "2.5",
            "THIDUA_AWARD_COLLECTIVE_FACTOR": "2",
            "THIDUA_STORAGE_URL": " s3://kho-thidua/tuyen-quang ",
        },
        None,
    ),
    "names in any case": ({"thidua_data_dir": "lower", "Thidua_Timezone": "UTC"}, None),
    ".env only, with quotes, comments, export and interpolation": (
        {"HOME_BASE": "/srv"},
        "# settings of this host\n"
        "export THIDUA_DATA_DIR=${HOME_BASE}/thidua\n"
        "THIDUA_DATABASE_URL='postgresql://u@h/db'  # the shared server\n"
        'THIDUA_MAIL_FROM_NAME="Phòng Thi đua – Khen thưởng"\n'
        "THIDUA_SMTP_PORT=2525\n"
        "THIDUA_TIMEZONE\n"
        "OTHER_APP_SETTING=1\n",
    ),
    "environment over .env": (
        {"THIDUA_DATA_DIR": "from-env", "THIDUA_SMTP_PORT": "587"},
        "THIDUA_DATA_DIR=from-file\nTHIDUA_TIMEZONE=Europe/Paris\nTHIDUA_SMTP_PORT=25\n",
    ),
    "empty values": ({"THIDUA_DATABASE_URL": "", "THIDUA_SMTP_HOST": ""}, "THIDUA_MAIL_FROM=\n"),
    "sqlite url kept as written": ({"THIDUA_DATABASE_URL": "sqlite:////tmp/other.db"}, None),
}


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.lower().startswith("thidua_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", list(CASES))
def test_the_light_reader_agrees_with_settings_on_every_field(
    case: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ, dotenv = CASES[case]
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (clean_env / ".env").write_text(dotenv, encoding="utf-8")

    full = Settings()
    # model_validate skips the settings sources: only what the light reader found goes in.
    assert Settings.model_validate(raw_values()).model_dump() == full.model_dump()
    core = read_core_settings()
    assert (core.data_dir, core.database_url, core.timezone, core.storage_url) == (
        full.data_dir,
        full.database_url,
        full.timezone,
        full.storage_url.strip(),
    )
    assert core.tz == full.tz


def test_a_bad_zone_is_refused_by_the_same_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THIDUA_TIMEZONE", "Asia/Khong_Co")
    with pytest.raises(ValidationError) as full:
        Settings()
    with pytest.raises(ValidationError) as light:
        read_core_settings()
    assert str(light.value) == str(full.value)
    assert "múi giờ “Asia/Khong_Co” không có" in str(light.value)
