"""The closing stage on real SQLite and PostgreSQL: the freeze and reopening, final results rolled up and
ranked, the closing documents recorded, the closing emails, and a second run that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.collect.test_progress import submit, tq
from tests.tasks.collect.test_reports import filled
from thidua.errors import WrongState
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.reporting import RejectedFile, Submission
from thidua.models.review import CampaignDocument, DocumentKind, FinalResult
from thidua.models.settings import Settings
from thidua.tasks.close.closing import (
    CampaignNotClosed,
    CannotClose,
    closing_content,
    competition_ranks,
    compute_final_results,
    freeze_and_close,
    queue_closing_emails,
    reopen,
    write_closing_documents,
)
from thidua.tasks.collect.reports import ingest_files

CODE = "TQ-2024-GIAM-AN"
REPORTED = at("01/07/2024", 9)
CLOSE_AT = at("04/07/2024", 7, 30)
FROZEN = (
    "Phong trào đã kết thúc ngày 04/07/2024; báo cáo không được nhận. Liên hệ quản trị để mở lại kỳ báo cáo."
)


@pytest.fixture
def tq_campaign(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


def final_reports(engine: Engine) -> None:
    """Yên Sơn 25 %, Sơn Dương and Hàm Yên 10 % each (a tie), Tuyên Quang city 5 %, the department 0/0;
    Chiêm Hóa only reported June; Lâm Bình and Na Hang nothing."""
    submit(engine, "TQ-YS", "final", tq(100, 20, 30), when=REPORTED,
           officers=[("TQ-YS-04", tq(20, 5, 5)), ("TQ-YS-05", tq(10, 0, 2))])  # fmt: skip
    submit(engine, "TQ-SD", "final", tq(100, 20, 12), when=REPORTED, officers=[("TQ-SD-04", tq(30, 0, 3))])
    submit(engine, "TQ-HY", "final", tq(50, 10, 6), when=REPORTED)
    submit(engine, "TQ-TP", "final", tq(200, 0, 10), when=REPORTED)
    submit(engine, "TQ-NV", "final", tq(0, 0, 0), when=REPORTED)
    submit(engine, "TQ-CH", "2024-06", tq(40, 10, 9), when=at("04/07/2024", 9))


def finals(engine: Engine) -> dict[tuple[str, str], FinalResult]:
    with Session(engine) as s:
        rows = s.scalars(select(FinalResult)).all()
        for r in rows:
            s.expunge(r)
        return {(r.subject_kind, r.subject_code): r for r in rows}


def count(engine: Engine, model: Any, *where: Any) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == kind)))


def status(engine: Engine) -> CampaignStatus:
    with Session(engine) as s:
        return CampaignStatus(s.execute(select(Campaign.status)).scalar_one())


# ---------------------------------------------------------------- freeze and reopen


def test_a_closed_campaign_refuses_a_late_final_report_and_reopening_takes_it(
    tq_campaign: Engine, settings: Settings, tmp_path: Path
) -> None:
    engine = tq_campaign
    closed = freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close")
    assert closed.changed and status(engine) == CampaignStatus.CLOSED
    late = filled(engine, tmp_path, "lam-binh.xlsx", tq(30, 5, 4), unit="TQ-LB", period="final")

    [refused] = ingest_files(engine, settings, CODE, [late], now=at("05/07/2024", 9))

    assert refused.status == "rejected"
    assert len(refused.errors) == 1 and refused.errors[0].startswith("lam-binh.xlsx, trang “Báo cáo”, ô ")
    assert refused.errors[0].endswith(FROZEN)
    assert count(engine, Submission) == 0 and count(engine, RejectedFile) == 1
    # Rejected the way every rejected file is: the unit is told why.
    assert count(engine, OutboxMessage, col(OutboxMessage.kind) == "report_rejected") == 1

    with pytest.raises(CannotClose, match="lý do"):
        reopen(engine, CODE, now=at("06/07/2024", 9), actor="admin", reason="  ")
    reason = "Chi cục Lâm Bình mất mạng ngày 03/07/2024"
    reopened = reopen(engine, CODE, now=at("06/07/2024", 9), actor="admin", reason=reason)
    assert reopened.changed and status(engine) == CampaignStatus.COLLECTING
    # One audit row for the move, saying why.
    [audit] = events(engine, "campaign.collecting")
    assert json.loads(audit.payload_json) == {
        "after": "collecting",
        "before": "closed",
        "closed_at": CLOSE_AT.astimezone(UTC).isoformat(),
        "reason": reason,
        "reopened": True,
    }
    assert audit.actor == "admin" and events(engine, "campaign.reopened") == []

    [accepted] = ingest_files(engine, settings, CODE, [late], now=at("06/07/2024", 10))

    assert accepted.status == "accepted" and accepted.on_time is False
    assert freeze_and_close(engine, CODE, now=at("07/07/2024", 7), actor="close").changed
    compute_final_results(engine, CODE, now=at("07/07/2024", 7))
    lam_binh = finals(engine)[("unit", "TQ-LB")]
    assert lam_binh.has_report and json.loads(lam_binh.values_json) == tq(30, 5, 4)


def test_only_an_open_campaign_closes_and_only_a_closed_one_reopens(tq_campaign: Engine) -> None:
    engine = tq_campaign
    again = reopen(engine, CODE, now=CLOSE_AT, actor="admin", reason="thử")
    assert not again.changed and again.status == CampaignStatus.LAUNCHED
    with Session(engine) as s, s.begin():
        s.execute(update(Campaign).values(status=CampaignStatus.IN_REVIEW))
    with pytest.raises(WrongState, match=r"đang ở trạng thái Đang xét khen thưởng; .* Đã kết thúc"):
        reopen(engine, CODE, now=CLOSE_AT, actor="admin", reason="thử")
    assert not freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close").changed
    with Session(engine) as s, s.begin():
        s.execute(update(Campaign).values(status=CampaignStatus.DRAFT))
    with pytest.raises(WrongState, match="đang ở trạng thái Chưa phát động") as refused:
        freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close")
    assert refused.value.hint == "Chạy `thidua campaign launch TỆP_KẾ_HOẠCH` trước."
    assert events(engine, "campaign.closed") == []


# ---------------------------------------------------------------- final results


def test_final_results_roll_up_by_sums_and_rank_ties_together(tq_campaign: Engine) -> None:
    engine = tq_campaign
    final_reports(engine)

    subjects = compute_final_results(engine, CODE, now=CLOSE_AT)

    rows = finals(engine)
    assert subjects == len(rows) == 12 + 120
    root = rows[("unit", "TQ")]
    # The province is the sum of its units' figures (Chiêm Hóa's June report is not a final report).
    assert json.loads(root.values_json) == tq(450, 50, 58)
    indicator = json.loads(root.indicators_json)["reduction"]
    assert (indicator["num"], indicator["den"], indicator["met"]) == (58, 500, True)
    assert indicator["value"] == "29/250"  # exact, as progress snapshots store it
    assert root.has_report and root.main_met is True and root.rank is None  # a total is not a competitor
    ranks = {code: rows[("unit", code)].rank for code in ("TQ-YS", "TQ-SD", "TQ-HY", "TQ-TP", "TQ-NV")}
    assert ranks == {"TQ-YS": 1, "TQ-SD": 2, "TQ-HY": 2, "TQ-TP": 4, "TQ-NV": None}
    assert rows[("unit", "TQ-TP")].main_met is False
    nv = rows[("unit", "TQ-NV")]
    assert nv.has_report and nv.main_met is None  # reported 0/0: nothing to compute
    for missing in ("TQ-CH", "TQ-LB", "TQ-NH"):
        row = rows[("unit", missing)]
        assert (row.has_report, row.rank, row.main_met, row.values_json) == (False, None, None, "{}")
    people = {code: rows[("person", code)].rank for code in ("TQ-YS-04", "TQ-YS-05", "TQ-SD-04")}
    assert people == {"TQ-YS-04": 1, "TQ-YS-05": 1, "TQ-SD-04": 3}
    assert rows[("person", "TQ-YS-04")].unit_code == "TQ-YS"
    nobody = rows[("person", "TQ-YS-01")]
    assert (nobody.has_report, nobody.rank, nobody.values_json) == (False, None, "{}")


def test_ranks_are_shared_by_equal_values_and_follow_the_direction_of_the_target() -> None:
    values = {"a": Fraction(1, 2), "b": Fraction(1, 4), "c": Fraction(2, 8), "d": Fraction(1, 10)}
    assert competition_ranks(values, higher_is_better=True) == {"a": 1, "b": 2, "c": 2, "d": 4}
    assert competition_ranks(values, higher_is_better=False) == {"d": 1, "b": 2, "c": 2, "a": 4}


def test_without_final_reports_the_last_period_with_data_stands_in(tq_campaign: Engine) -> None:
    engine = tq_campaign
    submit(engine, "TQ-YS", "2024-05", tq(100, 10, 9), when=at("07/06/2024", 9))
    submit(engine, "TQ-SD", "2024-06", tq(100, 20, 15), when=at("03/07/2024", 9))
    freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close")

    compute_final_results(engine, CODE, now=CLOSE_AT)

    rows = finals(engine)
    assert rows[("unit", "TQ-SD")].has_report and rows[("unit", "TQ-SD")].rank == 1
    assert not rows[("unit", "TQ-YS")].has_report  # May is not the period the close stands on
    content = closing_content(engine, CODE, now=CLOSE_AT)
    assert content.data_is_final is False and content.data_label == "Báo cáo tháng 06/2024"


# ---------------------------------------------------------------- documents, emails, idempotence


def _state(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        final = select(
            FinalResult.subject_kind, FinalResult.subject_code, FinalResult.values_json,
            FinalResult.indicators_json, FinalResult.rank, FinalResult.has_report, FinalResult.main_met,
            FinalResult.computed_at,
        )  # fmt: skip
        documents = select(
            CampaignDocument.kind, CampaignDocument.path, CampaignDocument.sha256, CampaignDocument.created_at
        )
        return {
            "finals": sorted(tuple(r) for r in s.execute(final)),
            "documents": sorted(tuple(r) for r in s.execute(documents)),
            "outbox": sorted(s.execute(select(OutboxMessage.dedupe_key)).scalars()),
            "closed_events": len(events(engine, "campaign.closed")),
        }


def test_closing_twice_changes_nothing_and_emails_each_address_once(
    tq_campaign: Engine, settings: Settings
) -> None:
    engine = tq_campaign
    final_reports(engine)
    with pytest.raises(CampaignNotClosed):
        write_closing_documents(engine, settings, CODE, now=CLOSE_AT)

    freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close")
    compute_final_results(engine, CODE, now=CLOSE_AT)
    documents = write_closing_documents(engine, settings, CODE, now=CLOSE_AT)
    queued = queue_closing_emails(engine, settings, CODE, now=CLOSE_AT)

    assert documents.met == ["TQ-YS", "TQ-HY", "TQ-SD"] and documents.not_met == ["TQ-TP"]
    assert documents.missing == ["TQ-CH", "TQ-LB", "TQ-NH"] and documents.no_value == ["TQ-NV"]
    assert documents.report.read_bytes()[:2] == b"PK" and documents.chart.read_bytes()[:4] == b"\x89PNG"
    first = _state(engine)
    kinds = {row[0]: row[1] for row in first["documents"]}
    assert kinds == {
        DocumentKind.CLOSING_REPORT: f"documents/{CODE}/bao-cao-tong-ket-tq-2024-giam-an.docx",
        DocumentKind.CLOSING_TABLE: f"documents/{CODE}/tong-ket-tq-2024-giam-an.xlsx",
        DocumentKind.CLOSING_CHART: f"documents/{CODE}/bieu-do-tong-ket-tq-2024-giam-an.png",
    }
    # The 12 enrolled units' addresses; the administrator's is the personnel department's own.
    assert queued == 12 == len(first["outbox"])
    assert f"close:{CODE}:tccb@thads-tuyenquang.example.vn" in first["outbox"]
    with Session(engine) as s:
        mail = s.scalars(
            select(OutboxMessage).where(col(OutboxMessage.recipient) == "yenson@thads-tuyenquang.example.vn")
        ).one()
    assert mail.reply_to == "tccb@thads-tuyenquang.example.vn"
    assert json.loads(mail.attachments_json) == [kinds[DocumentKind.CLOSING_REPORT],
                                                 kinds[DocumentKind.CLOSING_TABLE]]  # fmt: skip
    assert "Chi cục THADS huyện Yên Sơn" in mail.body_text and "Lâm Bình" in mail.body_text

    later = at("10/07/2024", 8)
    assert not freeze_and_close(engine, CODE, now=later, actor="close").changed
    compute_final_results(engine, CODE, now=later)
    write_closing_documents(engine, settings, CODE, now=later)
    assert queue_closing_emails(engine, settings, CODE, now=later) == 0

    assert _state(engine) == first
    assert first["closed_events"] == 1
