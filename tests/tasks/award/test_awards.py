"""Award issuance on SQLite and PostgreSQL: decision numbers, decision and certificates, money, emails (real
SMTP), proposals to a higher authority, revocation, idempotency, and the `award` commands."""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import SmtpRecorder
from docx import Document
from pypdf import PdfReader
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.factories import TQ_DEFINITION, at, edited_definition, launch_campaign_rows
from tests.tasks.builders_awards import (
    BANG_KHEN,
    GIAY_KHEN_CQL,
    NATIONAL_CODE,
    TQ_AWARD,
    TQ_CODE,
    add_minutes,
    collective,
    in_review,
    individual,
    launch_national,
    launch_tq,
    national_in_review,
    tq_picks,
)
from thidua.deploy.cli import app as thidua_app
from thidua.errors import WrongState
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    CampaignDocument,
    DecisionCounter,
    DecisionStatus,
    DocumentKind,
    GrantStatus,
    MeetingStatus,
    ReviewOutcome,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date
from thidua.notifications.outbox import dispatch
from thidua.tasks.award.awards import (
    AlreadyRevoked,
    AwardError,
    DecisionConflict,
    IssueResult,
    NotReady,
    UnknownAward,
    UnknownGrant,
    allocate_decision_number,
    issue_awards,
    list_awards,
    record_external_decision,
    revoke_award,
)

NOW = at("19/07/2024", 10)
DECIDED = date(2024, 7, 19)
TABLES = (
    "award_decision",
    "award_grant",
    "campaign_document",
    "outbox_message",
    "domain_event",
    "decision_counter",
)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def issue(engine: Engine, settings: Settings, **kw: Any) -> Any:
    """issue_awards, by default acting on the decision's day at 10:00."""
    decided_on: date = kw.get("decided_on", DECIDED)
    args: dict[str, Any] = {
        "decided_on": decided_on,
        "now": at(fmt_date(decided_on), 10),
        "actor": "tccb",
    } | kw
    code, key = args.pop("code", TQ_CODE), args.pop("award_key", TQ_AWARD)
    return issue_awards(engine, settings, code, key, **args)


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(
            s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == kind).order_by(col(DomainEvent.id)))
        )


def campaign_status(engine: Engine, code: str = TQ_CODE) -> CampaignStatus:
    with Session(engine) as s:
        return CampaignStatus(s.scalars(select(Campaign.status).where(col(Campaign.code) == code)).one())


@pytest.fixture
def tq(engine: Engine, tmp_path: Path) -> Engine:
    campaign_id = launch_tq(engine, tmp_path)
    in_review(engine, campaign_id, tq_picks())
    return engine


# ---------------------------------------------------------------- issuing an own decision


def test_issuing_writes_the_numbered_decision_grants_money_certificates_and_one_email_per_awardee(
    tq: Engine, settings: Settings
) -> None:
    result = issue(tq, settings)
    assert result.created and result.status == DecisionStatus.ISSUED
    assert result.reference == "01/QĐ-CTHADS" and (result.number, result.year) == (1, 2024)
    assert (result.collectives, result.individuals) == (2, 3)
    # 0.6 × 2,340,000 = 1,404,000 → 1,410,000; 0.3 × 2,340,000 = 702,000 → 710,000.
    assert result.total_vnd == 2 * 1_410_000 + 3 * 710_000
    with Session(tq) as s:
        grants = list(s.scalars(select(AwardGrant).order_by(col(AwardGrant.id))))
        decision = s.scalars(select(AwardDecision)).one()
        docs = list(s.scalars(select(CampaignDocument).order_by(col(CampaignDocument.id))))
        mails = list(s.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id))))
    assert decision.base_salary == 2_340_000 and decision.authority_unit_code == "TQ"
    amounts = {g.subject_code: g.amount_vnd for g in grants}
    assert amounts == {
        "TQ-TP": 1_410_000,
        "TQ-NH": 1_410_000,
        "TQ-YS-05": 710_000,
        "TQ-HY-05": 710_000,
        "TQ-CH-01": 710_000,
    }
    assert [(d.kind, d.ref) for d in docs] == [(DocumentKind.DECISION, "1/2024")] + [
        (DocumentKind.CERTIFICATE, str(g.id)) for g in grants
    ]
    for doc in docs:
        assert (settings.data_dir / doc.path).is_file()
    for grant in grants:
        assert grant.certificate_path is not None
        pdf = PdfReader(str(settings.data_dir / grant.certificate_path))
        assert len(pdf.pages) == 1 and grant.subject_name in pdf.pages[0].extract_text()
    assert [m.dedupe_key for m in mails] == [f"award:{TQ_CODE}:{g.id}" for g in grants]
    by_key = {m.dedupe_key: m for m in mails}
    ys = by_key[f"award:{TQ_CODE}:{next(g.id for g in grants if g.subject_code == 'TQ-YS-05')}"]
    assert ys.recipient == "yenson@thads-tuyenquang.example.vn"
    assert json.loads(ys.cc_json) == ["viet.nguyen@thads-tuyenquang.example.vn"]
    assert json.loads(ys.attachments_json) == [
        docs[0].path,
        "documents/TQ-2024-GIAM-AN/khen-thuong/giay_khen_cuc_truong/individual-TQ-YS-05.pdf",
    ]
    assert "710.000 đồng (Bảy trăm mười nghìn đồng)" in ys.body_text
    tp = by_key[f"award:{TQ_CODE}:{grants[0].id}"]
    assert tp.recipient == "thanhpho@thads-tuyenquang.example.vn" and json.loads(tp.cc_json) == []
    [issued] = events(tq, "award.issued")
    assert json.loads(issued.payload_json)["decision"] == "01/QĐ-CTHADS" and issued.actor == "tccb"
    [audit] = events(tq, "decision.issued")
    assert json.loads(audit.payload_json)["before"] is None
    assert len(events(tq, "grant.issued")) == 5
    assert campaign_status(tq) == CampaignStatus.AWARDED
    assert len(events(tq, "campaign.awarded")) == 1


def test_the_decision_docx_lists_the_awardees_under_the_issuers_header(
    tq: Engine, settings: Settings
) -> None:
    result = issue(tq, settings)
    doc = Document(str(settings.data_dir / result.documents[0]))
    assert doc.tables[0].cell(1, 0).paragraphs[0].text == "Số: 01/QĐ-CTHADS"
    assert doc.tables[0].cell(1, 1).paragraphs[0].text == "Tuyên Quang, ngày 19 tháng 7 năm 2024"
    texts = [p.text for p in doc.paragraphs]
    assert "CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" in texts
    assert any("Nghị định số 98/2023/NĐ-CP" in t for t in texts)
    assert any(t.startswith("Căn cứ Kế hoạch ngày 05/01/2024 của Cục Thi hành án dân sự tỉnh") for t in texts)
    signer = [p.text for p in doc.tables[1].cell(0, 1).paragraphs if p.text]
    assert signer == ["KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo"]
    names = [row.cells[1].text for row in doc.tables[2].rows]
    assert "Nguyễn Công Việt, Chấp hành viên" in names and "Chi cục Thi hành án dân sự huyện Na Hang" in names


def test_a_second_issue_returns_the_existing_decision_and_changes_and_sends_nothing(
    tq: Engine, settings: Settings
) -> None:
    first = issue(tq, settings)
    before = counts(tq)
    again = issue(tq, settings, now=at("20/07/2024", 9), decided_on=date(2024, 7, 20))
    assert not again.created and again.emails_queued == 0
    assert (again.decision_id, again.reference, again.decided_on) == (
        first.decision_id,
        "01/QĐ-CTHADS",
        DECIDED,
    )
    assert again.total_vnd == first.total_vnd and set(again.documents) == set(first.documents)
    assert counts(tq) == before


def test_the_collective_factor_setting_pays_collectives_a_multiple_of_the_individual_rate(
    tq: Engine, settings: Settings
) -> None:
    factored = settings.model_copy(update={"award_collective_factor": Decimal("2.5")})
    result = issue(tq, factored)
    with Session(tq) as s:
        amounts = {g.subject_kind.value: g.amount_vnd for g in s.scalars(select(AwardGrant))}
    assert amounts == {"collective": 1_760_000, "individual": 710_000}  # 0.75 × 2,340,000 = 1,755,000
    assert result.total_vnd == 2 * 1_760_000 + 3 * 710_000


def test_the_money_follows_the_base_salary_on_the_decision_date(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # A council that met before the base salary rose on 01/07/2024, and decided the same month.
    in_review(engine, launch_tq(engine, tmp_path), tq_picks(), held_at=at("27/06/2024", 14))
    result = issue(engine, settings, decided_on=date(2024, 6, 30))
    with Session(engine) as s:
        decision = s.scalars(select(AwardDecision)).one()
    assert decision.base_salary == 1_800_000
    assert result.total_vnd == 2 * 1_080_000 + 3 * 540_000


# ---------------------------------------------------------------- refusals change nothing


def test_issue_is_refused_while_a_tie_at_the_quota_edge_is_unresolved(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    campaign_id = launch_tq(engine, tmp_path)
    picks = [collective("TQ-TP"), individual("TQ-YS-05"), individual("TQ-HY-05", outcome=ReviewOutcome.TIE)]
    in_review(engine, campaign_id, picks)
    before = counts(engine)
    with pytest.raises(NotReady, match=r"bằng nhau ở giới hạn chỉ tiêu .*Bùi Thị Hồng Dịu"):
        issue(engine, settings)
    assert counts(engine) == before
    assert not (settings.data_dir / "documents").exists()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"meeting_status": MeetingStatus.OPEN}, NotReady, "chưa có phiên họp nào đã kết thúc"),
        ({"quorum_met": False}, NotReady, "không đủ số thành viên"),
        ({"status": CampaignStatus.CLOSED}, WrongState, "đang ở trạng thái Đã kết thúc"),
    ],
)
def test_issue_is_refused_without_a_closed_quorate_meeting_or_outside_review(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    campaign_id = launch_tq(engine, tmp_path)
    in_review(engine, campaign_id, tq_picks(), **options)
    before = counts(engine)
    with pytest.raises(error, match=message):
        issue(engine, settings)
    assert counts(engine) == before


def test_an_unknown_award_key_names_the_known_ones(tq: Engine, settings: Settings) -> None:
    with pytest.raises(UnknownAward, match="giay_khen_cuc_truong"):
        issue(tq, settings, award_key="bang_khen")


def test_nobody_selected_is_refused_clearly(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    campaign_id = launch_tq(engine, tmp_path)
    in_review(engine, campaign_id, [individual("TQ-YS-05", outcome=ReviewOutcome.NOT_APPROVED)])
    with pytest.raises(NotReady, match="không chọn tập thể, cá nhân nào"):
        issue(engine, settings)


# ---------------------------------------------------------------- decision numbers


def test_numbers_run_per_authority_and_restart_each_year(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        taken = [allocate_decision_number(s, "TQ", 2024) for _ in range(3)]
        other = allocate_decision_number(s, "CQL", 2024)
        next_year = allocate_decision_number(s, "TQ", 2025)
    assert (taken, other, next_year) == ([1, 2, 3], 1, 1)
    with Session(engine) as s, s.begin():
        assert allocate_decision_number(s, "TQ", 2024) == 4


def test_a_rolled_back_allocation_gives_its_number_back(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        assert allocate_decision_number(s, "TQ", 2024) == 1
    with pytest.raises(RuntimeError), Session(engine) as s, s.begin():
        assert allocate_decision_number(s, "TQ", 2024) == 2
        raise RuntimeError("issuance failed after taking the number")
    with Session(engine) as s, s.begin():
        assert allocate_decision_number(s, "TQ", 2024) == 2


def test_an_issuance_failing_after_allocation_leaves_no_gap(
    tq: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import thidua.tasks.award.awards.grants

    def disk_full(*_: object, **__: object) -> Path:
        raise OSError("No space left on device")

    monkeypatch.setattr(thidua.tasks.award.awards.grants, "render_certificate", disk_full)
    with pytest.raises(OSError, match="No space"):
        issue(tq, settings)
    assert counts(tq)["award_decision"] == 0 and counts(tq)["outbox_message"] == 0
    with Session(tq) as s:
        assert s.scalars(select(DecisionCounter)).all() == []
    monkeypatch.undo()
    assert issue(tq, settings).reference == "01/QĐ-CTHADS"


@pytest.mark.postgres
def test_eight_concurrent_issuances_on_postgresql_get_one_to_eight_without_gaps(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=10)
    barrier = threading.Barrier(8)
    committed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def issuance(fail: bool) -> None:
        try:
            with Session(engine) as s, s.begin():
                barrier.wait(timeout=60)
                number = allocate_decision_number(s, "TQ", 2024)
                if fail:
                    raise LookupError("rolled back after taking a number")
            with lock:
                committed.append(number)
        except LookupError:
            pass
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def run(fails: list[bool]) -> None:
        threads = [threading.Thread(target=issuance, args=(f,)) for f in fails]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    try:
        run([False] * 8)
        assert errors == [] and sorted(committed) == list(range(1, 9))
        committed.clear()
        run([i % 3 == 0 for i in range(8)])  # three of eight roll back after allocating
        assert errors == [] and sorted(committed) == list(range(9, 14))
        with Session(engine) as s:
            counter = s.get(DecisionCounter, ("TQ", 2024))
            assert counter is not None and counter.last_number == 13
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_campaigns_issuing_at_once_on_postgresql_get_numbers_one_and_two(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, smtp_host="")
    try:
        first = launch_tq(engine, tmp_path)
        second = launch_campaign_rows(
            engine, edited_definition(tmp_path, TQ_DEFINITION, f"code: {TQ_CODE}", f"code: {TQ_CODE}-B")
        )
        in_review(engine, first, tq_picks())
        in_review(engine, second, tq_picks())
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def run(code: str) -> None:
            barrier.wait(timeout=60)
            results.append(issue(engine, settings, code=code))

        threads = [threading.Thread(target=run, args=(c,)) for c in (TQ_CODE, f"{TQ_CODE}-B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(r.reference for r in results) == ["01/QĐ-CTHADS", "02/QĐ-CTHADS"]
        assert {r.campaign_code for r in results} == {TQ_CODE, f"{TQ_CODE}-B"}
    finally:
        engine.dispose()


# ---------------------------------------------------------------- a higher authority's award


@pytest.fixture
def national(engine: Engine, tmp_path: Path, settings: Settings) -> tuple[Engine, str]:
    campaign_id = launch_national(engine, tmp_path)
    ready = national_in_review(
        engine,
        campaign_id,
        [
            collective("AGG", BANG_KHEN, position=1),
            individual("HNI-02", BANG_KHEN),
            individual("CQL-TCCB-06", BANG_KHEN),
            collective("CQL-TCCB", GIAY_KHEN_CQL, position=1),
            individual("TQG-03", GIAY_KHEN_CQL),
        ],
    )
    return engine, add_minutes(engine, settings, ready)


def test_the_ministers_bang_khen_becomes_a_proposal_package_numbered_by_the_cuc(
    national: tuple[Engine, str], settings: Settings
) -> None:
    engine, minutes = national
    result = issue(engine, settings, code=NATIONAL_CODE, award_key=BANG_KHEN, decided_on=date(2026, 6, 25))
    assert result.status == DecisionStatus.PROPOSED and result.reference == "01/TTr-CQL"
    assert (result.collectives, result.individuals, result.total_vnd) == (1, 2, 0)
    assert result.documents[-1] == minutes
    with Session(engine) as s:
        docs = {(d.kind, d.ref) for d in s.scalars(select(CampaignDocument))}
        decision = s.scalars(select(AwardDecision)).one()
    assert {(DocumentKind.PROPOSAL, "1/2026"), (DocumentKind.PROPOSAL_LIST, "1/2026")} <= docs
    assert decision.authority_unit_code == "CQL"
    assert counts(engine)["award_grant"] == 0 and counts(engine)["outbox_message"] == 0
    assert len(events(engine, "decision.proposed")) == 1 and events(engine, "award.issued") == []
    to_trinh = Document(str(settings.data_dir / result.documents[0]))
    assert to_trinh.tables[0].cell(1, 0).paragraphs[0].text == "Số: 01/TTr-CQL"
    texts = [p.text for p in to_trinh.paragraphs]
    assert "TỜ TRÌNH" in texts and "Về việc đề nghị tặng Bằng khen của Bộ trưởng Bộ Tư pháp" in texts
    agency = [p.text for p in to_trinh.tables[0].cell(0, 0).paragraphs if p.text]
    assert agency == ["BỘ TƯ PHÁP", "CỤC QUẢN LÝ THI HÀNH ÁN DÂN SỰ"]
    assert [p.text for p in to_trinh.tables[1].cell(0, 1).paragraphs if p.text] == [
        "CỤC TRƯỞNG",
        "Đào Duy Hậu",
    ]
    danh_sach = Document(str(settings.data_dir / result.documents[1]))
    names = [row.cells[1].text for row in danh_sach.tables[1].rows]
    assert "Thi hành án dân sự tỉnh An Giang" in names
    assert campaign_status(engine, NATIONAL_CODE) == CampaignStatus.IN_REVIEW
    assert not issue(engine, settings, code=NATIONAL_CODE, award_key=BANG_KHEN).created


def test_the_ministers_decision_recorded_later_issues_grants_certificates_and_emails(
    national: tuple[Engine, str], settings: Settings
) -> None:
    engine, _ = national

    def record_ministers_decision() -> IssueResult:
        return record_external_decision(
            engine,
            settings,
            NATIONAL_CODE,
            BANG_KHEN,
            number=1234,
            symbol="QĐ-BTP",
            decided_on=date(2026, 7, 10),
            now=at("11/07/2026", 9),
            actor="vutccb",
        )

    with pytest.raises(NotReady, match="chưa có Tờ trình"):
        record_ministers_decision()
    issue(engine, settings, code=NATIONAL_CODE, award_key=BANG_KHEN, decided_on=date(2026, 6, 25))
    own = issue(engine, settings, code=NATIONAL_CODE, award_key=GIAY_KHEN_CQL, decided_on=date(2026, 6, 26))
    assert own.reference == "02/QĐ-CQL"  # the Cục's one register: the Tờ trình took number 1
    assert campaign_status(engine, NATIONAL_CODE) == CampaignStatus.AWARDED

    recorded = record_ministers_decision()
    assert recorded.created and recorded.status == DecisionStatus.ISSUED
    assert recorded.reference == "1234/QĐ-BTP"
    with Session(engine) as s:
        decision = s.scalars(select(AwardDecision).where(col(AwardDecision.award_key) == BANG_KHEN)).one()
        grants = list(s.scalars(select(AwardGrant).where(col(AwardGrant.decision_id) == decision.id)))
        refs = {
            d.ref for d in s.scalars(select(CampaignDocument).where(col(CampaignDocument.kind) == "decision"))
        }
    assert (decision.authority_unit_code, decision.year, decision.number) == ("BTP", 2026, 1234)
    assert {g.subject_code: g.amount_vnd for g in grants} == {
        "AGG": 7_020_000,  # 3.0 × 2,340,000
        "HNI-02": 3_510_000,  # 1.5 × 2,340,000
        "CQL-TCCB-06": 3_510_000,
    }
    assert refs == {"2/2026", "1234/2026/BTP"}
    assert recorded.emails_queued == 3 and len(events(engine, "award.issued")) == 2
    doc = Document(str(settings.data_dir / recorded.documents[0]))
    assert doc.tables[0].cell(1, 0).paragraphs[0].text == "Số: 1234/QĐ-BTP"
    assert "BỘ TRƯỞNG BỘ TƯ PHÁP" in [p.text for p in doc.paragraphs]
    assert [p.text for p in doc.tables[1].cell(0, 1).paragraphs if p.text][-1] == "Mai Lương Khôi"
    cert = PdfReader(str(settings.data_dir / grants[0].certificate_path))  # type: ignore[operator]
    assert "BẰNG KHEN" in cert.pages[0].extract_text()

    before = counts(engine)
    again = record_external_decision(
        engine,
        settings,
        NATIONAL_CODE,
        BANG_KHEN,
        number=1234,
        symbol="QĐ-BTP",
        decided_on=date(2026, 7, 10),
        now=at("12/07/2026", 9),
        actor="vutccb",
    )
    assert not again.created and counts(engine) == before
    with pytest.raises(DecisionConflict, match="không ghi đè"):
        record_external_decision(
            engine,
            settings,
            NATIONAL_CODE,
            BANG_KHEN,
            number=1300,
            symbol="QĐ-BTP",
            decided_on=date(2026, 7, 10),
            now=at("12/07/2026", 9),
            actor="vutccb",
        )
    with pytest.raises(DecisionConflict, match="ban hành trực tiếp"):
        record_external_decision(
            engine,
            settings,
            NATIONAL_CODE,
            GIAY_KHEN_CQL,
            number=5,
            symbol="QĐ-CQL",
            decided_on=date(2026, 7, 10),
            now=at("12/07/2026", 9),
            actor="vutccb",
        )


# ---------------------------------------------------------------- revocation


def test_revoking_records_reason_and_money_to_recover_emails_the_unit_and_refuses_twice(
    tq: Engine, settings: Settings
) -> None:
    issue(tq, settings)
    with Session(tq) as s:
        grant_id = s.scalars(select(AwardGrant.id).where(col(AwardGrant.subject_code) == "TQ-HY-05")).one()
    revoked = revoke_award(
        tq, settings, grant_id, reason="Hồ sơ khai không trung thực", now=at("01/08/2024", 9), actor="tccb"
    )
    assert revoked.status == GrantStatus.REVOKED and revoked.amount_to_recover == 710_000
    assert revoked.revoke_reason == "Hồ sơ khai không trung thực" and revoked.revoked_by == "tccb"
    with Session(tq) as s:
        stored = s.get(AwardGrant, grant_id)
        mail = s.scalars(
            select(OutboxMessage).where(
                col(OutboxMessage.dedupe_key) == f"award-revoked:{TQ_CODE}:{grant_id}"
            )
        ).one()
    assert stored is not None and stored.status == GrantStatus.REVOKED and stored.amount_to_recover == 710_000
    assert mail.recipient == "hamyen@thads-tuyenquang.example.vn"
    assert "Hồ sơ khai không trung thực" in mail.body_text and "710.000 đồng" in mail.body_text
    [audit] = events(tq, "grant.revoked")
    payload = json.loads(audit.payload_json)
    assert payload["before"]["status"] == "issued" and payload["after"]["status"] == "revoked"
    assert payload["after"]["amount_to_recover"] == 710_000

    before = counts(tq)
    with pytest.raises(AlreadyRevoked, match=r"đã bị thu hồi ngày 01/08/2024 bởi tccb"):
        revoke_award(tq, settings, grant_id, reason="lần nữa", now=at("02/08/2024", 9), actor="tccb")
    with pytest.raises(AwardError, match="lý do"):
        revoke_award(tq, settings, grant_id + 1, reason="  ", now=at("02/08/2024", 9), actor="tccb")
    with pytest.raises(UnknownGrant):
        revoke_award(tq, settings, 999, reason="x", now=at("02/08/2024", 9), actor="tccb")
    assert counts(tq) == before
    [view] = list_awards(tq, TQ_CODE)
    assert [g.status for g in view.grants].count(GrantStatus.REVOKED) == 1


# ---------------------------------------------------------------- delivery


def test_award_emails_reach_the_smtp_server_with_the_decision_and_certificate_attached(
    engine: Engine, db_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        mail_from="thidua@thads-tuyenquang.example.vn",
        smtp_timeout_seconds=5,
        **smtp_server.settings_overrides(),
    )
    campaign_id = launch_tq(engine, tmp_path)
    in_review(engine, campaign_id, [collective("TQ-NH"), individual("TQ-YS-05")])
    result = issue(engine, settings)
    sent = dispatch(engine, settings, worker_id="test")
    assert sent.sent == 2 and sent.failed == 0
    by_rcpt = {tuple(sorted(m.rcpt_tos)): m.message for m in smtp_server.received}
    person = by_rcpt[("viet.nguyen@thads-tuyenquang.example.vn", "yenson@thads-tuyenquang.example.vn")]
    assert person["Subject"] == "[Thi đua] Quyết định số 01/QĐ-CTHADS tặng Giấy khen: Nguyễn Công Việt"
    assert "viet.nguyen@thads-tuyenquang.example.vn" in str(person["Cc"])
    files = {part.get_filename(): part.get_content() for part in person.iter_attachments()}
    certificate = (
        settings.data_dir / "documents" / TQ_CODE / "khen-thuong" / TQ_AWARD / "individual-TQ-YS-05.pdf"
    )
    assert files["individual-TQ-YS-05.pdf"] == certificate.read_bytes()
    assert (
        files["quyet-dinh-giay_khen_cuc_truong.docx"]
        == (settings.data_dir / result.documents[0]).read_bytes()
    )
    assert ("nahang@thads-tuyenquang.example.vn",) in by_rcpt
    assert dispatch(engine, settings, worker_id="test").sent == 0


# ---------------------------------------------------------------- the commands


def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}


def test_the_award_commands_issue_list_revoke_and_explain_refusals(
    tq: Engine, db_url: str, tmp_path: Path
) -> None:
    app = thidua_app
    runner = CliRunner()
    env = cli_env(tmp_path, db_url)
    bad = runner.invoke(app, ["award", "issue", TQ_CODE, TQ_AWARD, "--date", "31/02/2024"], env=env)
    assert bad.exit_code == 2 and "không phải ngày hợp lệ" in bad.output
    issued = runner.invoke(
        app, ["award", "issue", TQ_CODE, TQ_AWARD, "--date", "19/07/2024", "--as-of", "19/07/2024"], env=env
    )
    assert issued.exit_code == 0, issued.output
    assert "Quyết định số 01/QĐ-CTHADS ngày 19/07/2024" in issued.output
    assert "tổng tiền thưởng 4.950.000 đồng" in issued.output and "Thư mới vào hộp thư đi: 5" in issued.output
    listed = runner.invoke(app, ["award", "list", TQ_CODE], env=env)
    assert listed.exit_code == 0, listed.output
    assert (
        "#1 tập thể Chi cục Thi hành án dân sự thành phố Tuyên Quang (TQ-TP): 1.410.000 đồng" in listed.output
    )
    revoked = runner.invoke(app, ["award", "revoke", "1", "--reason", "Hồ sơ không trung thực"], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "số tiền phải nộp lại: 1.410.000 đồng" in revoked.output
    twice = runner.invoke(app, ["award", "revoke", "1", "--reason", "lần nữa"], env=env)
    assert twice.exit_code == 4 and "không thu hồi lần thứ hai" in twice.output
    proposal = runner.invoke(
        app,
        [
            "award",
            "record-decision",
            TQ_CODE,
            TQ_AWARD,
            "--number",
            "7",
            "--symbol",
            "QĐ-X",
            "--date",
            "19/07/2024",
        ],
        env=env,
    )
    assert proposal.exit_code == 4 and "ban hành trực tiếp" in proposal.output
    with Session(tq) as s:
        assert s.scalar(select(func.count()).select_from(AwardGrant)) == 5
