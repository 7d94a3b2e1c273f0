"""The README's Production section lists every setting the code reads (models/settings.py, scheduler)."""

from __future__ import annotations

from pathlib import Path

from thidua.deploy.scheduler import SchedulerSettings
from thidua.models.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_production_section() -> None:
    text = README.read_text(encoding="utf-8")
    production = text.split("## Production", 1)[1].split("\n## ", 1)[0]
    names = [f"THIDUA_{name.upper()}" for cls in (Settings, SchedulerSettings) for name in cls.model_fields]
    assert [n for n in names if f"`{n}`" not in production] == []
