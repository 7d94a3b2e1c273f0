"""Every command that needs a campaign state refuses another one: exit code 4 and a Vietnamese message that
names the state the campaign is in (never its stored key) and, where one exists, the command that reaches the
state needed. Each campaign is put in its state by the real builders, then the command runs as a user types
it (the review and award flows as real Prefect runs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import col
from typer.testing import CliRunner

from tests.factories import at
from tests.tasks.builders_awards import (
    BANG_KHEN,
    NATIONAL_CODE,
    TQ_AWARD,
    TQ_CODE,
    Ready,
    in_review,
    individual,
    launch_national,
    launch_tq,
    national_in_review,
    tq_picks,
)
from thidua.deploy.cli import app
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import make_engine, transaction
from thidua.models.review import CouncilMember, CouncilRole, MeetingStatus, ReviewOutcome
from thidua.models.settings import Settings
from thidua.tasks.award.awards import issue_awards

S = CampaignStatus
STORED_KEYS = re.compile(r"\b(draft|launched|collecting|closed|in_review|awarded|archived)\b")


def set_status(engine: Engine, code: str, status: CampaignStatus) -> None:
    with transaction(engine) as s:
        s.execute(update(Campaign).where(col(Campaign.code) == code).values(status=status))


def first_member(engine: Engine, ready: Ready) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(col(CouncilMember.person_code))
                .where(col(CouncilMember.council_id) == ready.council_id)
                .order_by(col(CouncilMember.id))
            ).scalar()
        )


# Each builder puts the campaign in a state and returns the values the command line names.
Builder = Callable[[Engine, Path, Settings], dict[str, str]]


def launched(status: CampaignStatus) -> Builder:
    def build(engine: Engine, tmp_path: Path, _settings: Settings) -> dict[str, str]:
        launch_tq(engine, tmp_path)
        set_status(engine, TQ_CODE, status)
        return {}

    return build


def council(status: CampaignStatus, meeting: MeetingStatus, *, tie: bool = False) -> Builder:
    def build(engine: Engine, tmp_path: Path, _settings: Settings) -> dict[str, str]:
        picks = tq_picks()
        if tie:
            picks.append(individual("TQ-HY-03", outcome=ReviewOutcome.TIE))
        ready = in_review(engine, launch_tq(engine, tmp_path), picks, meeting_status=meeting, status=status)
        member = first_member(engine, ready)
        with transaction(engine) as s:
            s.execute(
                update(CouncilMember)
                .where(col(CouncilMember.person_code) == member)
                .values(role=CouncilRole.CHAIR)
            )
        nominee = ready.nominations["TQ-HY-03" if tie else "TQ-TP"]
        return {"meeting": str(ready.meeting_id), "member": member, "nomination": str(nominee)}

    return build


def revoked_after_archive(engine: Engine, tmp_path: Path, settings: Settings) -> dict[str, str]:
    in_review(engine, launch_tq(engine, tmp_path), tq_picks())
    result = issue_awards(
        engine, settings, TQ_CODE, TQ_AWARD, decided_on=date(2024, 7, 19), now=at("19/07/2024", 10), actor="t"
    )
    set_status(engine, TQ_CODE, S.ARCHIVED)
    assert result.created
    return {}


def national_closed(engine: Engine, tmp_path: Path, _settings: Settings) -> dict[str, str]:
    national_in_review(engine, launch_national(engine, tmp_path), [individual("HNI-02", BANG_KHEN)])
    set_status(engine, NATIONAL_CODE, S.CLOSED)
    return {}


@dataclass(frozen=True)
class Case:
    args: list[str]
    build: Builder
    state: str  # the label the message names
    hint: str | None  # the command it says to run, if any
    prefect: bool = False


TQ = TQ_CODE
CASES: dict[str, Case] = {
    "close": Case(
        ["close", TQ], launched(S.DRAFT), "Chưa phát động", "thidua campaign launch TỆP_KẾ_HOẠCH", True
    ),
    "reopen": Case(
        ["reopen", TQ, "--reason", "Sửa số liệu"], launched(S.IN_REVIEW), "Đang xét khen thưởng", None
    ),
    "review": Case(["review", TQ], launched(S.COLLECTING), "Đang nhận báo cáo", f"thidua close {TQ}", True),
    "council setup": Case(
        ["council", "setup", TQ, "{file}", "--unit", "TQ"], launched(S.AWARDED), "Đã khen thưởng", None
    ),
    "council open": Case(
        ["council", "open", TQ, "--unit", "TQ", "--present", "{member}", "--as-of", "10/07/2024 08:30"],
        council(S.CLOSED, MeetingStatus.CLOSED),
        "Đã kết thúc",
        f"thidua review {TQ}",
    ),
    "council vote": Case(
        [
            "council",
            "vote",
            "{meeting}",
            "--member",
            "{member}",
            "--nominee",
            "{nomination}",
            "--choice",
            "đồng ý",
        ],
        council(S.CLOSED, MeetingStatus.OPEN),
        "Đã kết thúc",
        f"thidua review {TQ}",
    ),
    "council close": Case(
        ["council", "close", TQ, "{meeting}"],
        council(S.CLOSED, MeetingStatus.OPEN),
        "Đã kết thúc",
        f"thidua review {TQ}",
    ),
    "council tie": Case(
        [
            "council",
            "tie",
            TQ,
            "{meeting}",
            "--order",
            "{nomination}",
            "--reason",
            "Lý do",
            "--chair",
            "{member}",
        ],
        council(S.AWARDED, MeetingStatus.CLOSED, tie=True),
        "Đã khen thưởng",
        None,
    ),
    "award run": Case(
        ["award", "run", TQ, "--date", "19/07/2024", "--as-of", "19/07/2024"],
        council(S.CLOSED, MeetingStatus.CLOSED),
        "Đã kết thúc",
        f"thidua review {TQ}",
        True,
    ),
    "award issue": Case(
        ["award", "issue", TQ, TQ_AWARD, "--date", "19/07/2024", "--as-of", "19/07/2024"],
        council(S.CLOSED, MeetingStatus.CLOSED),
        "Đã kết thúc",
        f"thidua review {TQ}",
    ),
    "award record-decision": Case(
        [
            "award",
            "record-decision",
            NATIONAL_CODE,
            BANG_KHEN,
            "--number",
            "5",
            "--symbol",
            "QĐ-BTP",
            "--date",
            "10/07/2026",
            "--as-of",
            "11/07/2026",
        ],
        national_closed,
        "Đã kết thúc",
        f"thidua review {NATIONAL_CODE}",
    ),
    "award revoke": Case(
        ["award", "revoke", "1", "--reason", "Sai sót"], revoked_after_archive, "Đã lưu trữ", None
    ),
    "nomination import": Case(
        ["nomination", "import", TQ, "{nominations}"], launched(S.AWARDED), "Đã khen thưởng", None
    ),
    "nomination decline": Case(
        ["nomination", "decline", TQ, "--unit", "TQ-LB"], launched(S.AWARDED), "Đã khen thưởng", None
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_command_on_a_campaign_in_the_wrong_state_exits_4_naming_the_state_in_vietnamese(
    name: str, request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path
) -> None:
    case = CASES[name]
    if case.prefect:
        request.getfixturevalue("prefect_harness")
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, smtp_host="")
    engine = make_engine(sqlite_url)
    values = case.build(engine, tmp_path, settings)
    members = tmp_path / "hoi-dong.csv"
    members.write_text("Mã cán bộ,Vai trò\nTQ-01,Chủ tịch\nTQ-02,Ủy viên\n", encoding="utf-8")
    nominations = tmp_path / "de-nghi.csv"
    nominations.write_text(
        'Hình thức khen thưởng,Đối tượng,"Mã tập thể, cá nhân",Đơn vị đề nghị\n'
        f"{TQ_AWARD},Tập thể,TQ-LB,TQ-LB\n",
        encoding="utf-8",
    )
    values |= {"file": str(members), "nominations": str(nominations)}
    with engine.connect() as conn:
        before = conn.execute(select(col(Campaign.status))).scalars().all()
    env = {
        "THIDUA_DATA_DIR": str(settings.data_dir),
        "THIDUA_DATABASE_URL": sqlite_url,
        "THIDUA_SMTP_HOST": "",
    }

    result = CliRunner().invoke(app, [arg.format(**values) for arg in case.args], env=env)

    assert result.exit_code == 4, result.output
    # The refusal is the last thing printed (Prefect's own log lines, if any, come before it).
    message = result.output[result.output.rfind("Phong trào “") :]
    assert f"đang ở trạng thái {case.state}" in message and "việc này cần trạng thái" in message
    assert STORED_KEYS.search(message) is None, message
    if case.hint is not None:
        assert f"Chạy `{case.hint}` trước." in message
    with engine.connect() as conn:
        assert conn.execute(select(col(Campaign.status))).scalars().all() == before
    engine.dispose()
