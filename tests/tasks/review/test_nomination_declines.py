"""A unit that proposes nobody says so (`thidua nomination decline`): recorded once with who and why, no
nomination or dossier reminder from then on, “không đề nghị” on the closing report, the council's minutes,
the nomination list and the review; a later nomination of its own takes it back. Dossier reminders go only to
units whose nominations lack parts, and say which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine, select, update
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.factories import VN, at, launch_campaign_rows, load_demo_directory
from tests.tasks.builders_awards import in_review, tq_picks
from tests.tasks.builders_nominations import AWARD, CODE, full_dossier, pdf_bytes, write
from tests.tasks.close.test_closing import CLOSE_AT, final_reports
from thidua.deploy.cli import app
from thidua.errors import WrongState, exit_code
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.review import NominationDecline
from thidua.models.settings import Settings
from thidua.notifications.templating import render_email
from thidua.tasks.close.closing import compute_final_results, freeze_and_close, write_closing_documents
from thidua.tasks.remind.reminders import plan_reminders, queue_reminders
from thidua.tasks.review.council import write_minutes
from thidua.tasks.review.nominations import (
    DeclineRefused,
    NominationError,
    NominationInput,
    UnknownUnit,
    add_dossier_file,
    decline_nominations,
    declined_units,
    nominate,
)

REASON = "Đơn vị không có tập thể, cá nhân đủ tiêu chuẩn"
LAM_BINH = "Chi cục Thi hành án dân sự huyện Lâm Bình (TQ-LB): không đề nghị"


@pytest.fixture
def tq(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


def campaign_id(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalars(select(col(Campaign.id))).one())


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == kind)))


def decline(engine: Engine, unit: str = "TQ-LB", day: str = "20/06/2024") -> object:
    return decline_nominations(engine, CODE, unit, reason=REASON, now=at(day, 9), actor="lambinh@thads")


def dossier_reminders(engine: Engine, day: str = "01/07/2024") -> dict[str, dict[str, object]]:
    plan = plan_reminders(engine, CODE, at(day, 8), tz=VN)
    return {e.unit_code or "": e.context for e in plan.emails if e.deadline_key == "dossier"}


def test_a_unit_declares_once_with_who_and_why_and_a_repeat_changes_nothing(tq: Engine) -> None:
    first = decline(tq)
    again = decline(tq, day="25/06/2024")

    assert first.created and not again.created  # type: ignore[attr-defined]
    assert "đã báo không đề nghị từ ngày 20/06/2024; không thay đổi gì" in again.lines()[0]  # type: ignore[attr-defined]
    [stored] = declined_units(tq.connect(), campaign_id(tq))
    assert stored.text() == f"{LAM_BINH} – {REASON}"
    assert (stored.declined_by, stored.declined_at) == ("lambinh@thads", at("20/06/2024", 9))
    [event] = events(tq, "nomination.declined")
    assert event.actor == "lambinh@thads" and event.subject == "unit:TQ-LB"
    assert json.loads(event.payload_json) == {"before": None, "after": {"unit": "TQ-LB", "reason": REASON}}


def test_a_unit_with_nominations_cannot_decline_and_its_later_nomination_takes_a_decline_back(
    tq: Engine,
) -> None:
    nominate(tq, CODE, [NominationInput(AWARD, "collective", "TQ-TP", "TQ-TP")], now=at("20/06/2024", 9))
    with pytest.raises(DeclineRefused, match="đã đề nghị khen thưởng 1 tập thể, cá nhân") as refused:
        decline(tq, "TQ-TP")
    assert exit_code(refused.value) == 4
    with pytest.raises(UnknownUnit, match="không tham gia phong trào") as unknown:
        decline(tq, "TQ-XX")
    assert exit_code(unknown.value) == 3

    decline(tq)
    nominate(tq, CODE, [NominationInput(AWARD, "individual", "TQ-LB-04", "TQ-LB")], now=at("01/07/2024", 9))

    assert declined_units(tq.connect(), campaign_id(tq)) == []
    [taken_back] = events(tq, "nomination.decline_withdrawn")
    assert json.loads(taken_back.payload_json)["before"] == {"unit": "TQ-LB", "reason": REASON}


def test_a_declined_unit_gets_no_dossier_reminder_and_its_waiting_one_is_cancelled(
    tq: Engine, settings: Settings
) -> None:
    invited = dossier_reminders(tq)
    assert len(invited) == 8 and all(c["invitation"] for c in invited.values())
    queue_reminders(
        tq, settings, plan_reminders(tq, CODE, at("01/07/2024", 8), tz=VN), now=at("01/07/2024", 8)
    )

    assert decline(tq).cancelled == 1  # type: ignore[attr-defined]

    with Session(tq) as s:
        waiting = s.scalars(
            select(OutboxMessage).where(
                col(OutboxMessage.dedupe_key).startswith(f"remind:{CODE}:dossier:TQ-LB:")
            )
        ).one()
    assert waiting.status == OutboxStatus.CANCELLED
    assert "TQ-LB" not in dossier_reminders(tq) and len(dossier_reminders(tq)) == 7
    assert "TQ-LB" not in dossier_reminders(tq, "03/07/2024")


def test_dossier_reminders_go_to_units_whose_nominations_lack_parts_and_say_which(
    tq: Engine, settings: Settings, tmp_path: Path
) -> None:
    nominate(
        tq,
        CODE,
        [
            NominationInput(AWARD, "collective", "TQ-TP", "TQ-TP"),
            NominationInput(AWARD, "individual", "TQ-YS-05", "TQ-YS"),
        ],
        now=at("20/06/2024", 9),
    )
    full_dossier(tq, settings, tmp_path, "TQ-YS", ["TQ-YS-05"])  # complete: nothing to remind
    add_dossier_file(
        tq, settings, CODE, unit_code="TQ-TP", part_key="to_trinh", original_name="to-trinh.pdf",
        source=write(tmp_path, "to-trinh.pdf", pdf_bytes()), now=at("25/06/2024", 9),
    )  # fmt: skip

    reminders = dossier_reminders(tq)

    assert "TQ-YS" not in reminders
    [missing] = reminders["TQ-TP"]["dossier_missing"]  # type: ignore[misc]
    assert missing.startswith("Chi cục Thi hành án dân sự thành phố Tuyên Quang: Danh sách")
    assert "Biên bản" in missing and "Tờ trình" not in missing
    assert "invitation" not in reminders["TQ-TP"] and reminders["TQ-LB"]["invitation"] is True
    _, text, html = render_email("reminder", reminders["TQ-TP"])
    assert "hồ sơ đề nghị khen thưởng của đơn vị còn thiếu:" in text and f"  - {missing}" in text
    assert html is not None and f"<li>{missing}</li>" in html
    _, invitation, _ = render_email("reminder", reminders["TQ-LB"])
    assert "Nếu đơn vị không đề nghị khen thưởng tập thể, cá nhân nào" in invitation


def test_the_closing_report_and_the_council_minutes_list_a_declined_unit(
    tq: Engine, settings: Settings
) -> None:
    final_reports(tq)
    decline(tq)
    freeze_and_close(tq, CODE, now=CLOSE_AT, actor="close")
    compute_final_results(tq, CODE, now=CLOSE_AT)

    report = write_closing_documents(tq, settings, CODE, now=CLOSE_AT).report

    paragraphs = [p.text for p in Document(str(report)).paragraphs]
    assert "Có 1 đơn vị báo không đề nghị khen thưởng:" in paragraphs
    assert f"- {LAM_BINH} – {REASON}." in paragraphs
    ready = in_review(tq, campaign_id(tq), tq_picks())
    minutes = write_minutes(tq, settings, CODE, ready.meeting_id, now=at("10/07/2024", 17))
    assert f"- {LAM_BINH} – {REASON}." in [p.text for p in Document(str(minutes)).paragraphs]


@pytest.mark.usefixtures("prefect_harness")
def test_the_decline_command_the_nomination_list_and_the_review_show_it(
    tq: Engine, db_url: str, tmp_path: Path
) -> None:
    env = {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}
    runner = CliRunner()
    args = ["nomination", "decline", CODE, "--unit", "TQ-LB", "--reason", REASON, "--by", "lambinh@thads"]

    declined = runner.invoke(app, [*args, "--as-of", "20/06/2024 09:00"], env=env)
    again = runner.invoke(app, args, env=env)
    listed = runner.invoke(app, ["nomination", "list", CODE], env=env)

    assert declined.exit_code == 0, declined.output
    assert f"Đã ghi: {LAM_BINH} – {REASON} (ngày 20/06/2024, người ghi: lambinh@thads)." in declined.output
    assert again.exit_code == 0 and "không thay đổi gì" in again.output
    assert listed.exit_code == 0 and f"{LAM_BINH} – {REASON}" in listed.output
    with Session(tq) as s, s.begin():
        assert len(s.scalars(select(NominationDecline)).all()) == 1
        s.execute(update(Campaign).values(status=CampaignStatus.CLOSED))
    reviewed = runner.invoke(app, ["review", CODE, "--as-of", "05/07/2024 08:00"], env=env)
    assert reviewed.exit_code == 0, reviewed.output
    assert f"  {LAM_BINH} – {REASON}" in reviewed.output


def test_a_campaign_past_its_nominations_refuses_them_as_a_nomination_error_naming_its_state(
    tq: Engine,
) -> None:
    """The demos rely on it: their second run meets an awarded campaign and reports the refusal."""
    with Session(tq) as s, s.begin():
        s.execute(update(Campaign).values(status=CampaignStatus.AWARDED))
    for attempt in (
        lambda: nominate(
            tq, CODE, [NominationInput(AWARD, "collective", "TQ-TP", "TQ-TP")], now=at("20/07/2024")
        ),
        lambda: decline(tq),
    ):
        with pytest.raises(NominationError, match="đang ở trạng thái Đã khen thưởng") as refused:
            attempt()
        assert isinstance(refused.value, WrongState) and exit_code(refused.value) == 4
