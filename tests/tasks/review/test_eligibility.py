"""Screening a whole campaign on real databases: the Tuyên Quang demo directory and its discipline records."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from tests.factories import TQ_DEFINITION, at, edited_definition, launch_campaign_rows, load_demo_directory
from tests.tasks.builders_nominations import AWARD, CODE, ON_TIME, final_results
from thidua.models.campaign import DomainEvent
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    EligibilityResult,
    FinalResult,
    GrantStatus,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.tasks.review.eligibility import ScreeningSummary, load_screenings, screen_nominations
from thidua.tasks.review.nominations import NominationInput, nominate, refresh_completeness

SECOND_AWARD = """      individual: 0.3

  - key: bang_khen_tinh
    name: Bằng khen của Chủ tịch UBND tỉnh
    form: bang_khen
    authority: Chủ tịch UBND tỉnh Tuyên Quang
    authority_unit_code: TQ
    quota: {collective: 1, individual: 1}

eligibility:"""


@pytest.fixture
def launched(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


def nominate_all(engine: Engine, rows: list[tuple[str, str, str]], award: str = AWARD) -> None:
    nominate(engine, CODE, [NominationInput(award, k, c, by) for k, c, by in rows], now=ON_TIME)


def outcome(summary: ScreeningSummary) -> dict[str, tuple[bool, dict[str, bool]]]:
    return {
        r.subject_code: (r.eligible, {reason.rule: reason.passed for reason in r.reasons})
        for r in summary.results
    }


def texts(summary: ScreeningSummary, code: str) -> dict[str, str]:
    found = next(r for r in summary.results if r.subject_code == code)
    return {reason.rule: reason.text for reason in found.reasons}


def screened_events(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as s:
        rows = s.scalars(
            select(DomainEvent)
            .where(col(DomainEvent.kind) == "nomination.screened")
            .order_by(col(DomainEvent.id))
        )
        return [{"subject": e.subject, **json.loads(e.payload_json)} for e in rows]


FIGURES = [
    ("unit", "TQ-SD", "TQ-SD", 20),
    ("unit", "TQ-YS", "TQ-YS", 20),
    ("unit", "TQ-HY", "TQ-HY", 20),
    ("unit", "TQ-CH", "TQ-CH", 20),
    ("person", "TQ-SD-05", "TQ-SD", 30),
    ("person", "TQ-YS-04", "TQ-YS", 30),
    ("person", "TQ-HY-04", "TQ-HY", 30),
    ("person", "TQ-CH-01", "TQ-CH", 30),
    ("person", "TQ-YS-01", "TQ-YS", 30),
    ("person", "TQ-YS-05", "TQ-YS", 10),
]


def test_the_seed_003_rules_over_the_demo_directory(engine: Engine, launched: int) -> None:
    nominate_all(
        engine,
        [
            ("collective", "TQ-SD", "TQ-SD"),
            ("collective", "TQ-YS", "TQ-YS"),
            ("collective", "TQ-HY", "TQ-HY"),
            ("collective", "TQ-CH", "TQ-CH"),
            ("individual", "TQ-SD-05", "TQ-SD"),
            ("individual", "TQ-YS-04", "TQ-YS"),
            ("individual", "TQ-HY-04", "TQ-HY"),
            ("individual", "TQ-CH-01", "TQ-CH"),
            ("individual", "TQ-YS-01", "TQ-YS"),
            ("individual", "TQ-YS-05", "TQ-YS"),
            ("individual", "TQ-YS-12", "TQ-YS"),  # the Kế toán: no figures of her own
        ],
    )
    final_results(engine, launched, FIGURES)
    summary = screen_nominations(engine, CODE, now=ON_TIME)
    got = outcome(summary)
    eligible = sorted(code for code, (ok, _rules) in got.items() if ok)
    assert eligible == ["TQ-YS", "TQ-YS-01", "TQ-YS-04"]
    assert (summary.eligible, summary.ineligible, summary.changed) == (3, 8, 11)

    # A collective excluded by one member's reprimand on the window's first day.
    assert got["TQ-SD"][1] == {"clean_members": False, "indicator": True, "one_award": True, "dossier": True}
    sd = texts(summary, "TQ-SD")["clean_members"]
    assert "(TQ-SD-05) thuộc đơn vị bị kỷ luật Khiển trách ngày 01/10/2023" in sd
    assert "ngày 30/06/2024" in texts(summary, "TQ-HY")["clean_members"]
    assert (
        "(TQ-CH-07) thuộc đơn vị bị kỷ luật Khiển trách ngày 12/03/2024"
        in texts(summary, "TQ-CH")["clean_members"]
    )
    # The window's edges for people: 30/09/2023 outside, 01/10/2023 and 30/06/2024 inside.
    assert texts(summary, "TQ-YS-04")["discipline_window"].endswith(
        "quyết định kỷ luật Khiển trách ngày 30/09/2023 ngoài thời gian xét, không tính"
    )
    assert texts(summary, "TQ-SD-05")["discipline_window"] == (
        "Bị kỷ luật Khiển trách ngày 01/10/2023, trong thời gian xét (01/10/2023 – 30/06/2024)"
    )
    assert not got["TQ-HY-04"][1]["discipline_window"]
    # The head of Chiêm Hóa is clean himself but his unit is not.
    assert got["TQ-CH-01"][1]["discipline_window"] and not got["TQ-CH-01"][1]["unit_head"]
    assert "Là Thủ trưởng đơn vị nhưng đơn vị" in texts(summary, "TQ-CH-01")["unit_head"]
    assert got["TQ-YS-01"][1]["unit_head"]
    # The indicator per officer: below the target, and no figures at all.
    assert got["TQ-YS-05"][1]["indicator"] is False
    assert "6,67% (chỉ tiêu ≥ 10,00%)" in texts(summary, "TQ-YS-05")["indicator"]
    assert texts(summary, "TQ-YS-12")["indicator"].startswith(
        "Không có số liệu kết quả cuối cùng của cá nhân"
    )

    with Session(engine) as s:
        stored = load_screenings(s, launched)
        ids = {n.subject_code: n.id for n in s.scalars(select(Nomination))}
    assert stored[ids["TQ-SD"]].eligible is False
    assert stored[ids["TQ-SD"]].reasons[0].text == sd
    assert len(screened_events(engine)) == 11


def test_screening_again_changes_nothing_and_an_outcome_change_is_audited(
    engine: Engine, launched: int
) -> None:
    nominate_all(engine, [("individual", "TQ-YS-05", "TQ-YS"), ("individual", "TQ-YS-04", "TQ-YS")])
    final_results(engine, launched, [f for f in FIGURES if f[1] in ("TQ-YS-05", "TQ-YS-04")])
    first = screen_nominations(engine, CODE, now=ON_TIME)
    with Session(engine) as s:
        before = {r.nomination_id: (r.id, r.checked_at) for r in s.scalars(select(EligibilityResult))}

    again = screen_nominations(engine, CODE, now=at("03/07/2024", 9))
    assert again.changed == 0 and outcome(again) == outcome(first)
    with Session(engine) as s:
        assert {r.nomination_id: (r.id, r.checked_at) for r in s.scalars(select(EligibilityResult))} == before
    assert len(screened_events(engine)) == 2

    # Corrected final figures for TQ-YS-05: the outcome flips, once, with an audit event.
    with Session(engine) as s, s.begin():
        s.execute(
            update(FinalResult)
            .where(col(FinalResult.subject_code) == "TQ-YS-05")
            .values(
                indicators_json=json.dumps(
                    {"reduction": {"num": 30, "den": 150, "target": "0.1", "met": True}}
                )
            )
        )
    third = screen_nominations(engine, CODE, now=at("03/07/2024", 10))
    assert third.changed == 1 and outcome(third)["TQ-YS-05"][0] is True
    flipped = screened_events(engine)[-1]
    assert (flipped["before"], flipped["after"], len(screened_events(engine))) == (False, True, 3)


def test_withdrawn_are_skipped_and_incomplete_dossiers_fail_with_their_missing_parts(
    engine: Engine, launched: int
) -> None:
    nominate_all(engine, [("individual", "TQ-YS-04", "TQ-YS"), ("individual", "TQ-YS-06", "TQ-YS")])
    final_results(engine, launched, [f for f in FIGURES if f[1] == "TQ-YS-04"])
    with Session(engine) as s, s.begin():
        s.execute(
            update(Nomination)
            .where(col(Nomination.subject_code) == "TQ-YS-06")
            .values(status=NominationStatus.WITHDRAWN)
        )
    assert refresh_completeness(engine, CODE, now=at("04/07/2024", 9)) == {"incomplete": 1, "withdrawn": 1}
    summary = screen_nominations(engine, CODE, now=at("04/07/2024", 9))
    assert summary.withdrawn == 1 and [r.subject_code for r in summary.results] == ["TQ-YS-04"]
    assert outcome(summary)["TQ-YS-04"] == (
        False,
        {
            "discipline_window": True,
            "law_violation": True,
            "indicator": True,
            "one_award": True,
            "dossier": False,
        },
    )
    assert texts(summary, "TQ-YS-04")["dossier"] == (
        "Hồ sơ thiếu khi hết hạn nộp (03/07/2024): Tờ trình, Danh sách, Biên bản, Báo cáo thành tích, "
        "Tổng hợp kết quả giảm việc có điều kiện trên một năm"
    )
    assert "bỏ qua 1 đề nghị đã rút" in str(summary)


def test_one_achievement_one_award_across_award_types(engine: Engine, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_campaign_rows(
        engine,
        edited_definition(tmp_path, TQ_DEFINITION, "      individual: 0.3\n\neligibility:", SECOND_AWARD),
    )
    final_results(engine, campaign_id, [f for f in FIGURES if f[1] in ("TQ-YS-04", "TQ-YS-01", "TQ-YS")])
    nominate_all(engine, [("individual", "TQ-YS-04", "TQ-YS"), ("individual", "TQ-YS-01", "TQ-YS")])
    nominate_all(engine, [("individual", "TQ-YS-04", "TQ-YS")], award="bang_khen_tinh")
    summary = screen_nominations(engine, CODE, now=ON_TIME)
    flagged = [r for r in summary.results if r.subject_code == "TQ-YS-04"]
    assert [r.eligible for r in flagged] == [False, False]
    assert (
        "đồng thời được đề nghị tặng Bằng khen của Chủ tịch UBND tỉnh"
        in texts(summary, "TQ-YS-04")["one_award"]
    )

    # TQ-YS-01 already holds the Giấy khen under decision 05/QĐ-CTHADS: a Bằng khen for him is refused.
    with Session(engine) as s, s.begin():
        granted = s.scalars(select(Nomination).where(col(Nomination.subject_code) == "TQ-YS-01")).one()
        decision = AwardDecision(
            campaign_id=campaign_id, award_key=AWARD, authority_unit_code="TQ", year=2024, number=5,
            symbol="QĐ-CTHADS", decided_on=date(2024, 7, 15), base_salary=1_800_000,
            issued_at=at("15/07/2024"),
        )  # fmt: skip
        s.add(decision)
        s.flush()
        assert decision.id is not None and granted.id is not None
        s.add(
            AwardGrant(
                decision_id=decision.id, campaign_id=campaign_id, nomination_id=granted.id,
                subject_kind=SubjectKind.INDIVIDUAL, subject_code="TQ-YS-01",
                subject_name=granted.subject_name,
                unit_code="TQ-YS", amount_vnd=540_000,
            )
        )  # fmt: skip
    nominate(
        engine, CODE, [NominationInput("bang_khen_tinh", "individual", "TQ-YS-01", "TQ-YS")], now=ON_TIME
    )
    summary = screen_nominations(engine, CODE, now=ON_TIME)
    by_award = {(r.subject_code, r.award_key): r for r in summary.results}
    second = {reason.rule: reason for reason in by_award[("TQ-YS-01", "bang_khen_tinh")].reasons}
    assert not second["one_award"].passed
    assert "đã được tặng Giấy khen của Cục trưởng Cục THADS (Quyết định số 05/QĐ-CTHADS)" in (
        second["one_award"].text
    )

    # A revoked grant no longer stands in the way of the other award (the nomination for both still does).
    with Session(engine) as s, s.begin():
        s.execute(update(AwardGrant).values(status=GrantStatus.REVOKED))
    summary = screen_nominations(engine, CODE, now=ON_TIME)
    text = {(r.subject_code, r.award_key): r for r in summary.results}[("TQ-YS-01", "bang_khen_tinh")]
    one_award = next(reason for reason in text.reasons if reason.rule == "one_award")
    assert "đã được tặng" not in one_award.text and "đồng thời được đề nghị tặng Giấy khen" in one_award.text
