"""A decision's date: never before the council meeting whose result it carries, the campaign's close or the
Tờ trình it answers, never after the moment the command acts at (--as-of). A refused date names the meeting's
date and changes nothing; from the command line it exits with the code of a rule refusal."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session
from typer.testing import CliRunner

from tests.factories import at
from tests.tasks.builders_awards import (
    BANG_KHEN,
    GIAY_KHEN_CQL,
    NATIONAL_CODE,
    TQ_AWARD,
    TQ_CODE,
    collective,
    in_review,
    individual,
    launch_national,
    launch_tq,
    national_in_review,
    tq_picks,
)
from thidua.deploy.cli import app
from thidua.errors import RuleRefused, exit_code
from thidua.models.review import AwardDecision, AwardGrant, DecisionCounter, DecisionStatus
from thidua.models.settings import Settings
from thidua.tasks.award.awards import issue_awards, record_external_decision
from thidua.tasks.award.awards.errors import DecisionDateRefused


def stored(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return (
            s.execute(select(func.count()).select_from(AwardDecision)).scalar_one(),
            s.execute(select(func.count()).select_from(AwardGrant)).scalar_one(),
            s.execute(select(func.count()).select_from(DecisionCounter)).scalar_one(),
        )


def issue(engine: Engine, settings: Settings, decided_on: date, now: datetime, key: str = TQ_AWARD) -> object:
    code = TQ_CODE if key == TQ_AWARD else NATIONAL_CODE
    return issue_awards(engine, settings, code, key, decided_on=decided_on, now=now, actor="tccb")


@pytest.fixture
def tq(engine: Engine, tmp_path: Path) -> Engine:
    """The council met on 10/07/2024; the campaign closed on 04/07/2024."""
    in_review(engine, launch_tq(engine, tmp_path), tq_picks(), closed_at=at("04/07/2024", 7, 30))
    return engine


def test_a_decision_dated_before_the_council_meeting_is_refused_naming_the_meeting(
    tq: Engine, settings: Settings
) -> None:
    with pytest.raises(DecisionDateRefused) as refused:
        issue(tq, settings, date(2024, 6, 28), at("19/07/2024", 10))
    message = str(refused.value)
    assert "ngày quyết định 28/06/2024 trước ngày họp của Hội đồng" in message
    assert "phiên họp ngày 10/07/2024" in message
    assert refused.value.hint == "Chọn ngày quyết định từ 10/07/2024 đến 19/07/2024 (--date)."
    assert isinstance(refused.value, RuleRefused) and exit_code(refused.value) == 5
    assert stored(tq) == (0, 0, 0)  # no number taken either
    assert issue(tq, settings, date(2024, 7, 10), at("19/07/2024", 10)).created  # type: ignore[attr-defined]


def test_a_decision_dated_after_the_as_of_moment_is_refused(tq: Engine, settings: Settings) -> None:
    with pytest.raises(DecisionDateRefused, match=r"20/07/2024 sau ngày hiện tại \(19/07/2024\)") as refused:
        issue(tq, settings, date(2024, 7, 20), at("19/07/2024", 23, 59))
    assert "phiên họp ngày 10/07/2024" in str(refused.value)
    assert stored(tq) == (0, 0, 0)


def test_a_decision_dated_before_the_close_is_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # A council that met on 01/07 for a campaign closed (again, after a reopening) on 04/07.
    picks = tq_picks()
    in_review(
        engine, launch_tq(engine, tmp_path), picks, held_at=at("01/07/2024", 14), closed_at=at("04/07/2024")
    )
    with pytest.raises(
        DecisionDateRefused, match=r"trước ngày phong trào kết thúc \(04/07/2024\)"
    ) as refused:
        issue(engine, settings, date(2024, 7, 2), at("19/07/2024", 10))
    assert "phiên họp ngày 01/07/2024" in str(refused.value)
    assert stored(engine) == (0, 0, 0)


def test_the_higher_authoritys_decision_cannot_predate_the_proposal_it_answers(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    picks = [collective("AGG", BANG_KHEN, position=1), individual("HNI-02", GIAY_KHEN_CQL)]
    national_in_review(engine, launch_national(engine, tmp_path), picks)  # the council met on 22/06/2026
    issue(engine, settings, date(2026, 6, 25), at("25/06/2026", 10), key=BANG_KHEN)  # the Tờ trình 01/TTr-CQL

    def record(decided_on: date, now: datetime) -> object:
        return record_external_decision(
            engine, settings, NATIONAL_CODE, BANG_KHEN, number=1234, symbol="QĐ-BTP",
            decided_on=decided_on, now=now, actor="vutccb",
        )  # fmt: skip

    with pytest.raises(
        DecisionDateRefused, match=r"trước ngày Tờ trình số 01/TTr-CQL \(25/06/2026\)"
    ) as early:
        record(date(2026, 6, 24), at("11/07/2026", 9))
    assert "phiên họp ngày 22/06/2026" in str(early.value)
    with pytest.raises(DecisionDateRefused, match="sau ngày hiện tại"):
        record(date(2026, 7, 10), at("09/07/2026", 9))
    with Session(engine) as s:
        assert s.scalars(select(AwardDecision)).one().status == DecisionStatus.PROPOSED
        assert s.execute(select(func.count()).select_from(AwardGrant)).scalar_one() == 0
    assert record(date(2026, 7, 10), at("11/07/2026", 9)).created  # type: ignore[attr-defined]


def test_the_award_commands_refuse_the_date_with_the_rule_exit_code(
    tq: Engine, db_url: str, tmp_path: Path
) -> None:
    env = {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}
    args = ["award", "issue", TQ_CODE, TQ_AWARD, "--date", "28/06/2024", "--as-of", "19/07/2024"]

    refused = CliRunner().invoke(app, args, env=env)

    assert refused.exit_code == 5, refused.output
    assert "28/06/2024 trước ngày họp" in refused.output and "10/07/2024" in refused.output
    assert "Traceback" not in refused.output
    assert stored(tq) == (0, 0, 0)


@pytest.mark.usefixtures("prefect_harness")
def test_award_run_refuses_a_date_before_the_meeting(tq: Engine, db_url: str, tmp_path: Path) -> None:
    env = {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}
    args = ["award", "run", TQ_CODE, "--date", "28/06/2024", "--as-of", "19/07/2024"]

    refused = CliRunner().invoke(app, args, env=env)

    assert refused.exit_code == 5, refused.output
    assert "phiên họp ngày 10/07/2024" in refused.output
    assert stored(tq) == (0, 0, 0)
