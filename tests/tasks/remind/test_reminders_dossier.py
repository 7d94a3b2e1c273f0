"""The dossier deadline reminds units that have sent nothing, up to the deadline, and nobody after it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.factories import VN, at, launch_campaign_rows, load_demo_directory
from tests.tasks.builders_nominations import pdf_bytes
from thidua.models.settings import Settings
from thidua.tasks.remind.reminders import plan_reminders
from thidua.tasks.review.nominations import add_dossier_file

CODE = "TQ-2024-GIAM-AN"


def dossier_reminders(engine: Engine, day: str) -> dict[str, str]:
    plan = plan_reminders(engine, CODE, at(day, 8), tz=VN)
    return {e.unit_code or "": e.step_id for e in plan.emails if e.deadline_key == "dossier"}


def test_a_unit_that_sent_its_dossier_is_not_reminded_and_nobody_is_told_the_dossier_is_overdue(
    engine: Engine, tmp_path: Path
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = Settings(data_dir=tmp_path / "data", database_url=str(engine.url))
    before = dossier_reminders(engine, "01/07/2024")  # two working days before 03/07
    assert len(before) == 8 and set(before.values()) == {"before-2"}

    paper = tmp_path / "to-trinh.pdf"
    paper.write_bytes(pdf_bytes("tờ trình"))
    add_dossier_file(
        engine, settings, CODE, unit_code="TQ-TP", part_key="to_trinh", source=paper,
        original_name="to-trinh.pdf", now=at("01/07/2024", 10),
    )  # fmt: skip

    on_day = dossier_reminders(engine, "03/07/2024")
    assert "TQ-TP" not in on_day and len(on_day) == 7 and set(on_day.values()) == {"on-day"}
    assert dossier_reminders(engine, "05/07/2024") == {}  # overdue: nobody is nagged about a dossier
    assert dossier_reminders(engine, "12/07/2024") == {}  # nor escalated
