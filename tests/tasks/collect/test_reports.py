"""Unit reports on real files and real databases: templates, ingestion, revisions, rejections, the inbox."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from tests.conftest import SmtpRecorder
from tests.factories import TQ_DEFINITION, at, edited_definition, launch_campaign_rows, load_demo_directory
from thidua.errors import CampaignNotFound
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.report_rows import META_SHEET, REPORT_SHEET
from thidua.models.reporting import RejectedFile, Submission
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.collect.reports import (
    TemplateError,
    ingest_files,
    process_inbox,
    report_history,
    write_template,
)

CODE = "TQ-2024-GIAM-AN"
GOOD = {"carried_over": 120, "arising": 30, "finished": 20}
LABELS = {
    "carried_over": "Số việc có điều kiện trên một năm chưa thi hành xong năm 2023 chuyển sang",
    "arising": "Số việc có điều kiện trên một năm phát sinh trong năm 2024",
    "finished": "Số việc có điều kiện trên một năm đã thi hành xong",
}
IN_APRIL = at("02/04/2024", 9)
SUBJECT = (
    "[Thi đua] Báo cáo chưa được tiếp nhận: Báo cáo tháng 03/2024 – Chi cục Thi hành án dân sự huyện Yên Sơn"
)


@pytest.fixture
def launched(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


# ---------------------------------------------------------------- helpers


def meta_of(path: Path | Workbook) -> dict[str, Any]:
    """The hidden sheet read the way a test needs it: input cells by field, officer cells by person."""
    wb = load_workbook(path) if isinstance(path, Path) else path
    meta = wb[META_SHEET]
    inputs: dict[str, str] = {}
    scalars: dict[str, str] = {}
    columns: dict[str, str] = {}
    officers: dict[str, int] = {}
    for key, b, c in meta.iter_rows(min_col=1, max_col=3, values_only=True):
        if key == "input":
            inputs[str(c)] = str(b)
        elif key == "officer_column":
            columns[str(c)] = str(b)
        elif key == "officer":
            officers[str(c)] = int(str(b))
        elif key:
            scalars[str(key)] = str(b)
    return {"inputs": inputs, "columns": columns, "officers": officers, **scalars}


def template(engine: Engine, tmp_path: Path, unit: str = "TQ-YS", period: str = "2024-03") -> Path:
    return write_template(engine, CODE, unit, period, tmp_path / f"mau-{unit}-{period}.xlsx")


def fill(
    source: Path,
    out: Path,
    values: dict[str, Any],
    *,
    correction: str | None = None,
    officers: dict[str, dict[str, Any]] | None = None,
    edits: dict[str, Any] | None = None,
    meta_edits: dict[str, str] | None = None,
) -> Path:
    """Fill a template as a clerk would in Excel (openpyxl), optionally breaking it on purpose."""
    wb = load_workbook(source)
    info = meta_of(wb)
    ws = wb[REPORT_SHEET]
    for key, value in values.items():
        ws[info["inputs"][key]] = value
    if correction is not None:
        ws[info["correction_cell"]] = correction
    for person, figures in (officers or {}).items():
        for key, value in figures.items():
            ws[f"{info['columns'][key]}{info['officers'][person]}"] = value
    for ref, value in (edits or {}).items():
        ws[ref] = value
    if meta_edits:
        meta = wb[META_SHEET]
        for row in meta.iter_rows(min_col=1, max_col=2):
            if row[0].value in meta_edits:
                row[1].value = meta_edits[str(row[0].value)]
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def filled(
    engine: Engine,
    tmp_path: Path,
    name: str,
    values: dict[str, Any] = GOOD,
    *,
    unit: str = "TQ-YS",
    period: str = "2024-03",
    **kw: Any,
) -> Path:
    return fill(template(engine, tmp_path, unit, period), tmp_path / "in" / name, values, **kw)


def csv_report(tmp_path: Path, name: str, *rows: list[Any]) -> Path:
    header = ["Mã phong trào", "Mã đơn vị", "Kỳ báo cáo", "Mã cán bộ", *LABELS.values(), "Đính chính"]
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def submissions(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        return [
            (r.id, r.unit_code, r.period_key, r.revision, r.is_current, r.values_json, r.file_sha256)
            for r in s.scalars(select(Submission).order_by(col(Submission.id)))
        ]


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(
            s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == kind).order_by(col(DomainEvent.id)))
        )


# ---------------------------------------------------------------- the template


def test_the_template_locks_everything_but_the_input_cells_and_validates_them(
    engine: Engine, launched: int, tmp_path: Path
) -> None:
    path = template(engine, tmp_path)
    info = meta_of(path)
    wb = load_workbook(path)
    ws = wb[REPORT_SHEET]
    assert ws.protection.sheet and wb[META_SHEET].sheet_state == "veryHidden"
    assert (ws["C4"].value, ws["C5"].value, ws["C10"].value) == (CODE, "TQ-YS", "05/04/2024")
    assert ws["C6"].value == "Chi cục Thi hành án dân sự huyện Yên Sơn" and ws["C6"].protection.locked
    inputs = set(info["inputs"].values())
    assert all(not ws[ref].protection.locked for ref in inputs)
    assert not ws[info["correction_cell"]].protection.locked
    whole = next(dv for dv in ws.data_validations.dataValidation if dv.type == "whole")
    assert (
        whole.operator == "greaterThanOrEqual"
        and whole.formula1 == "0"
        and "số nguyên không âm" in whole.error
    )
    assert inputs <= {str(c) for rng in whole.sqref.ranges for c in [rng.coord]}
    assert info["officers"]["TQ-YS-04"] > max(int(ref[1:]) for ref in inputs)  # the officer table comes after
    assert ws[f"C{info['officers']['TQ-YS-04']}"].value == "Nguyễn Văn Lực"
    assert len(info["definition_hash"]) == 64 and len(info["fingerprint"]) == 64


def test_a_template_is_only_made_for_an_enrolled_reporting_unit_and_a_report_period(
    engine: Engine, launched: int, tmp_path: Path
) -> None:
    with pytest.raises(TemplateError, match="không thuộc diện gửi báo cáo"):
        template(engine, tmp_path, unit="TQ-VP")
    with pytest.raises(TemplateError, match="không tham gia"):
        template(engine, tmp_path, unit="BTP")
    with pytest.raises(TemplateError, match=r"các kỳ: 2024-01, .*2024-06, final"):
        template(engine, tmp_path, period="dossier")
    with pytest.raises(CampaignNotFound):
        write_template(engine, "KHONG-CO", "TQ-YS", "2024-03", tmp_path / "x.xlsx")


# ---------------------------------------------------------------- accepted


def test_a_filled_template_is_accepted_and_stored_under_the_data_dir(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    path = filled(
        engine, tmp_path, "Báo cáo tháng 3 - Yên Sơn.xlsx", officers={"TQ-YS-04": {**GOOD, "finished": 8}}
    )
    [result] = ingest_files(
        engine, settings, CODE, [path], now=IN_APRIL, submitted_by="yenson@thads.example.vn"
    )
    assert result.status == "accepted", result.errors
    assert (result.unit_code, result.period_key, result.revision, result.on_time) == (
        "TQ-YS",
        "2024-03",
        1,
        True,
    )
    assert result.warnings == []

    stored = settings.data_dir / "reports" / CODE / "TQ-YS" / "2024-03" / f"r1-{result.sha256[:8]}.xlsx"
    assert result.stored_path == stored and stored.read_bytes() == path.read_bytes()
    with Session(engine) as s:
        row = s.scalars(select(Submission)).one()
    assert json.loads(row.values_json) == GOOD
    assert json.loads(row.officers_json) == [{"person_code": "TQ-YS-04", "values": {**GOOD, "finished": 8}}]
    assert (
        row.source_name == "Báo cáo tháng 3 - Yên Sơn.xlsx"
        and row.stored_path == stored.relative_to(settings.data_dir).as_posix()
    )
    assert (
        row.is_current
        and row.submitted_by == "yenson@thads.example.vn"
        and row.due_date.isoformat() == "2024-04-05"
    )
    assert row.received_at == IN_APRIL
    [event] = events(engine, "report.accepted")
    assert event.subject == "TQ-YS" and json.loads(event.payload_json)["revision"] == 1


def test_the_csv_form_is_accepted_too(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    blank = write_template(engine, CODE, "TQ-SD", "2024-03", tmp_path / "mau.csv")
    rows = list(csv.reader(blank.read_text(encoding="utf-8-sig").splitlines()))
    rows[1][5:8] = ["80", "10", "9"]
    path = tmp_path / "in" / "son-duong.csv"
    path.parent.mkdir()
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)  # Excel in a Vietnamese locale
    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    assert result.status == "accepted", result.errors
    assert result.stored_path is not None and result.stored_path.name.endswith(".csv")
    assert json.loads(submissions(engine)[0][5]) == {"carried_over": 80, "arising": 10, "finished": 9}


def test_officer_totals_above_the_unit_figure_are_accepted_with_a_warning(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    path = filled(
        engine,
        tmp_path,
        "ys.xlsx",
        officers={"TQ-YS-04": {**GOOD, "finished": 15}, "TQ-YS-05": {**GOOD, "finished": 9}},
    )
    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    assert result.status == "accepted"
    assert any("(24) lớn hơn số liệu của đơn vị (20)" in w for w in result.warnings)
    with Session(engine) as s:
        assert "(24) lớn hơn" in (s.scalars(select(Submission)).one().note or "")


# ---------------------------------------------------------------- rejected, with the database unchanged

Case = Callable[[Engine, Path], tuple[Path, datetime, str]]


def _xlsx(values: dict[str, Any], words: str, **kw: Any) -> Case:
    def build(engine: Engine, tmp_path: Path) -> tuple[Path, datetime, str]:
        options = dict(kw)
        now = options.pop("now", IN_APRIL)
        return filled(engine, tmp_path, "bad.xlsx", values, **options), now, words

    return build


def _csv(unit: str, period: str, words: str, extra: list[list[Any]] | None = None) -> Case:
    def build(engine: Engine, tmp_path: Path) -> tuple[Path, datetime, str]:
        rows = [[CODE, unit, period, "", 120, 30, 20, ""], *(extra or [])]
        return csv_report(tmp_path, "bad.csv", *rows), IN_APRIL, words

    return build


FIN, ARI, CAR = (f"({LABELS[k]})" for k in ("finished", "arising", "carried_over"))
CASES: dict[str, Case] = {
    "not a number": _xlsx({**GOOD, "finished": "hai mươi"}, f"ô D23 {FIN}: cần một số nguyên không âm"),
    "negative": _xlsx({**GOOD, "arising": -3}, f"ô D22 {ARI}: không được là số âm"),
    "decimal": _xlsx({**GOOD, "arising": 2.5}, f"ô D22 {ARI}: cần một số nguyên, không có phần thập phân"),
    "absurdly large": _xlsx(
        {**GOOD, "carried_over": 10**30}, f"ô D21 {CAR}: số quá lớn: 10^30 (tối đa 10.000.000)"
    ),
    "1e300 as a float": _xlsx(
        {**GOOD, "carried_over": 1e300}, f"ô D21 {CAR}: số quá lớn: 10^300 (tối đa 10.000.000)"
    ),
    "empty": _xlsx({"arising": 30, "finished": 20}, f"ô D21 {CAR}: chưa điền số liệu"),
    "finished above the total": _xlsx(
        {"carried_over": 10, "arising": 5, "finished": 16}, f"ô D23 {FIN}: “{LABELS['finished']}” (16) không"
    ),
    "edited outside the inputs": _xlsx(
        GOOD, "trang “Báo cáo”, ô C10: ô bị khóa của mẫu đã bị sửa (hiện ghi “30/04/2024”)",
        edits={"C10": "30/04/2024"},
    ),
    "another definition version": _xlsx(
        GOOD, "mẫu được lập theo một phiên bản khác", meta_edits={"definition_hash": "0" * 64}
    ),
    "period not open yet": _xlsx(
        GOOD, "ô C8: Báo cáo tháng 03/2024 chưa mở: nhận báo cáo từ ngày 01/03/2024", now=at("29/02/2024", 16)
    ),
    "absurd in a CSV": _csv(
        "TQ-YS", "2024-03", f"dòng 3, cột “{LABELS['arising']}”: số quá lớn: 10.000.001",
        [["", "", "", "TQ-YS-01", 1, 10**7 + 1, 1, ""]],
    ),
    "unknown unit": _csv("TQ-ZZ", "2024-03", "bad.csv, dòng 2, cột “Mã đơn vị”: mã đơn vị “TQ-ZZ” không có"),
    "unit not enrolled": _csv("BTP", "2024-03", "đơn vị “BTP” không tham gia phong trào"),
    "not a reporting unit": _csv("TQ-VP", "2024-03", "không thuộc diện gửi báo cáo định kỳ"),
    "unknown period": _csv("TQ-YS", "2024-09", "dòng 2, cột “Kỳ báo cáo”: kỳ báo cáo “2024-09” không có"),
    "officer of another unit": _csv(
        "TQ-YS", "2024-03", "dòng 3: cán bộ “TQ-SD-02” không có trong danh sách cán bộ của đơn vị “TQ-YS”",
        [["", "", "", "TQ-SD-02", 1, 1, 1, ""]],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_each_validation_error_rejects_the_file_names_the_place_and_changes_no_submission(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path, case: str
) -> None:
    kept = csv_report(tmp_path, "kept.csv", [CODE, "TQ-YS", "2024-02", "", 100, 20, 10, ""])
    assert ingest_files(engine, settings, CODE, [kept], now=IN_APRIL)[0].status == "accepted"
    before = submissions(engine)
    path, now, words = CASES[case](engine, tmp_path)

    [result] = ingest_files(engine, settings, CODE, [path], now=now)

    assert result.status == "rejected"
    assert any(words in e for e in result.errors), result.errors
    assert submissions(engine) == before
    with Session(engine) as s:
        rejected = s.scalars(select(RejectedFile)).one()
    assert rejected.file_sha256 == result.sha256 and rejected.source_name == path.name
    assert any(words in e["text"] for e in json.loads(rejected.errors_json))
    assert (settings.data_dir / str(rejected.stored_path)).read_bytes() == path.read_bytes()
    assert [e.kind for e in events(engine, "report.rejected")] == ["report.rejected"]


def test_a_template_of_another_campaign_is_rejected(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    other = edited_definition(tmp_path, TQ_DEFINITION, "code: TQ-2024-GIAM-AN", "code: TQ-2024-KHAC")
    launch_campaign_rows(engine, other)
    blank = write_template(engine, "TQ-2024-KHAC", "TQ-YS", "2024-03", tmp_path / "khac.xlsx")
    path = fill(blank, tmp_path / "in" / "khac.xlsx", GOOD)
    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    assert result.status == "rejected" and submissions(engine) == []
    assert (
        "mẫu báo cáo của phong trào “TQ-2024-KHAC”, không phải phong trào “TQ-2024-GIAM-AN”"
        in result.errors[0]
    )
    [accepted] = ingest_files(engine, settings, "TQ-2024-KHAC", [path], now=IN_APRIL)
    assert accepted.status == "accepted"


def test_a_closed_campaign_takes_no_more_reports(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    with Session(engine) as s, s.begin():
        s.execute(update(Campaign).where(col(Campaign.id) == launched).values(status=CampaignStatus.CLOSED))
    [result] = ingest_files(engine, settings, CODE, [filled(engine, tmp_path, "ys.xlsx")], now=IN_APRIL)
    assert result.status == "rejected" and submissions(engine) == []
    # Only the freeze is reported (the figures no longer matter); closed outside the close stage, the
    # campaign's end date stands for the day it closed.
    assert result.errors == [
        "ys.xlsx, trang “Báo cáo”, ô C8: Phong trào đã kết thúc ngày 30/06/2024; báo cáo không được nhận. "
        "Liên hệ quản trị để mở lại kỳ báo cáo."
    ]


def test_a_falling_cumulative_figure_is_rejected_unless_marked_as_a_correction(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    february = filled(engine, tmp_path, "t2.xlsx", {**GOOD, "finished": 25}, period="2024-02")
    assert ingest_files(engine, settings, CODE, [february], now=at("04/03/2024"))[0].status == "accepted"
    before = submissions(engine)

    [fell] = ingest_files(engine, settings, CODE, [filled(engine, tmp_path, "t3.xlsx")], now=IN_APRIL)
    assert fell.status == "rejected" and submissions(engine) == before
    assert f"ô D23 {FIN}: số liệu lũy kế giảm so với báo cáo tháng 02/2024 đã nộp (25 → 20)" in fell.errors[0]

    [marked] = ingest_files(
        engine, settings, CODE, [filled(engine, tmp_path, "t3x.xlsx", correction="x")], now=IN_APRIL
    )
    assert marked.status == "accepted" and marked.is_correction


def test_the_final_report_follows_june_and_may_not_fall_below_it(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    june = filled(engine, tmp_path, "t6.xlsx", {**GOOD, "finished": 30}, period="2024-06")
    assert ingest_files(engine, settings, CODE, [june], now=at("01/07/2024"))[0].status == "accepted"
    final = filled(engine, tmp_path, "tk.xlsx", {**GOOD, "finished": 29}, period="final")
    [result] = ingest_files(engine, settings, CODE, [final], now=at("02/07/2024"))
    assert (
        result.status == "rejected"
        and "giảm so với báo cáo tháng 06/2024 đã nộp (30 → 29)" in result.errors[0]
    )
    fixed = filled(engine, tmp_path, "tk2.xlsx", {**GOOD, "finished": 31}, period="final")
    [ok] = ingest_files(engine, settings, CODE, [fixed], now=at("03/07/2024", 16))
    assert (ok.status, ok.period_key, ok.on_time) == ("accepted", "final", True)


def test_one_bad_file_does_not_block_the_others(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    bad = filled(engine, tmp_path, "bad.xlsx", {**GOOD, "finished": -1})
    good = filled(engine, tmp_path, "good.xlsx", unit="TQ-SD")
    missing = tmp_path / "in" / "không-có.xlsx"
    broken = tmp_path / "in" / "hong.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    results = ingest_files(engine, settings, CODE, [bad, missing, broken, good], now=IN_APRIL)
    assert [r.status for r in results] == ["rejected", "rejected", "rejected", "accepted"]
    assert "không đọc được tệp" in results[1].errors[0]
    assert results[2].errors[0].startswith("hong.xlsx: không đọc được tệp Excel")
    assert [row[1] for row in submissions(engine)] == ["TQ-SD"]


# ---------------------------------------------------------------- revisions and timeliness


def test_a_resubmission_supersedes_the_earlier_one_and_keeps_it_as_history(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    first = filled(engine, tmp_path, "r1.xlsx", {**GOOD, "finished": 18})
    second = filled(engine, tmp_path, "r2.xlsx", {**GOOD, "finished": 20})
    ingest_files(engine, settings, CODE, [first], now=IN_APRIL, submitted_by="a@ys.example.vn")
    [again] = ingest_files(
        engine, settings, CODE, [second], now=at("08/04/2024", 15), submitted_by="b@ys.example.vn"
    )

    assert (again.revision, again.changes, again.on_time) == (2, {"finished": [18, 20]}, False)
    rows = submissions(engine)
    assert [(r[3], r[4]) for r in rows] == [(1, False), (2, True)]
    history = report_history(engine, CODE, "TQ-YS", "03/2024")
    assert [(h.revision, h.is_current, h.submitted_by, h.on_time) for h in history] == [
        (1, False, "a@ys.example.vn", True),
        (2, True, "b@ys.example.vn", False),
    ]
    assert history[0].values["finished"] == 18 and history[1].changes == {"finished": [18, 20]}
    assert history[1].received_at == at("08/04/2024", 15)
    stored = sorted(p.name for p in (settings.data_dir / "reports" / CODE / "TQ-YS" / "2024-03").iterdir())
    assert [name[:3] for name in stored] == ["r1-", "r2-"]


@pytest.mark.parametrize(
    ("received", "on_time"),
    [(at("05/04/2024", 23, 59), True), (at("06/04/2024", 0, 10), False), (at("15/04/2024", 9), False)],
)
def test_on_time_is_the_local_received_date_against_the_due_date(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path, received: datetime, on_time: bool
) -> None:
    # 06/04 00:10 in Hà Nội is still 05/04 in UTC: the local date decides.
    [result] = ingest_files(engine, settings, CODE, [filled(engine, tmp_path, "ys.xlsx")], now=received)
    assert result.status == "accepted" and result.on_time is on_time
    with Session(engine) as s:
        assert s.scalars(select(Submission)).one().on_time is on_time


def test_an_identical_resubmission_changes_nothing(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    path = filled(engine, tmp_path, "ys.xlsx")
    [first] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    before = submissions(engine)
    [second] = ingest_files(engine, settings, CODE, [path], now=at("03/04/2024"), submitted_by="x@y.vn")
    assert second.status == "unchanged" and second.revision == 1 and second.sha256 == first.sha256
    assert submissions(engine) == before and len(events(engine, "report.accepted")) == 1


# ---------------------------------------------------------------- the rejection email


def test_the_unit_gets_one_email_listing_the_errors_through_a_real_smtp_server(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    path = filled(
        engine, tmp_path, "Báo cáo Yên Sơn.xlsx", {"carried_over": 10, "arising": 5, "finished": "mười sáu"}
    )
    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    assert result.notified
    assert dispatch(engine, settings, worker_id="test").sent == 1

    [mail] = smtp_server.received
    message = mail.message
    assert mail.rcpt_tos == ["yenson@thads-tuyenquang.example.vn"]
    assert message["Subject"] == SUBJECT
    assert message["Reply-To"] == "tccb@thads-tuyenquang.example.vn"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "“Báo cáo Yên Sơn.xlsx”" in text and "1. Báo cáo Yên Sơn.xlsx, trang “Báo cáo”, ô D23" in text
    assert "nhận được “mười sáu”" in text
    attachments = [part.get_filename() for part in message.iter_attachments()]
    assert attachments == [f"{result.sha256[:16]}.xlsx"]

    # The same file again (the clerk pressed send twice): no second record, no second email.
    [again] = ingest_files(engine, settings, CODE, [path], now=at("03/04/2024"))
    assert again.status == "rejected" and not again.notified
    dispatch(engine, settings, worker_id="test")
    assert len(smtp_server.received) == 1 and count(engine, RejectedFile) == 1


def test_the_rejection_subject_keeps_every_space(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    path = filled(engine, tmp_path, "ys.xlsx", {**GOOD, "finished": -1})
    ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    dispatch(engine, settings, worker_id="test")
    assert smtp_server.received[0].message["Subject"] == SUBJECT


def test_a_file_of_an_unknown_unit_is_recorded_but_nobody_is_emailed(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    path = csv_report(tmp_path, "la.csv", [CODE, "XX-1", "2024-03", "", 1, 1, 1, ""])
    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)
    assert result.status == "rejected" and not result.notified
    assert count(engine, RejectedFile) == 1 and count(engine, OutboxMessage) == 0


# ---------------------------------------------------------------- the inbox


def test_the_inbox_moves_accepted_and_rejected_files_and_writes_the_errors_beside(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    inbox = settings.inbox_dir / CODE
    filled(engine, tmp_path, "ys.xlsx")
    fill(template(engine, tmp_path, "TQ-SD"), inbox / "son-duong.xlsx", {**GOOD, "arising": -2})
    (inbox / "ys.xlsx").write_bytes((tmp_path / "in" / "ys.xlsx").read_bytes())
    (inbox / "ghi-chu.txt").write_text("không phải báo cáo", encoding="utf-8")

    result = process_inbox(engine, settings, CODE, now=IN_APRIL)

    assert (result.accepted, result.rejected, result.unchanged) == (1, 1, 0)
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["ghi-chu.txt"]
    assert (inbox / "processed" / "ys.xlsx").exists()
    assert (inbox / "rejected" / "son-duong.xlsx").exists()
    lines = (inbox / "rejected" / "son-duong.xlsx.errors.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("son-duong.xlsx, trang “Báo cáo”, ô D22")
    assert [r[1] for r in submissions(engine)] == ["TQ-YS"]
    summary = json.loads(json.dumps(result.as_dict()))
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert [(f["file"], f["status"]) for f in summary["files"]] == [
        ("son-duong.xlsx", "rejected"),
        ("ys.xlsx", "accepted"),
    ]

    second = process_inbox(engine, settings, CODE, now=at("03/04/2024"))
    assert second.results == [] and len(submissions(engine)) == 1


def test_a_crash_between_commit_and_move_does_not_count_the_file_twice(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    inbox = settings.inbox_dir / CODE
    path = fill(template(engine, tmp_path), inbox / "ys.xlsx", GOOD)
    ingest_files(engine, settings, CODE, [path], now=IN_APRIL)  # committed; then the process died

    result = process_inbox(engine, settings, CODE, now=at("03/04/2024"))
    assert [r.status for r in result.results] == ["unchanged"]
    assert (inbox / "processed" / "ys.xlsx").exists() and not path.exists()
    assert [(r[3], r[4]) for r in submissions(engine)] == [(1, True)]


def test_a_file_name_already_in_processed_does_not_overwrite_it(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    inbox = settings.inbox_dir / CODE
    blank = template(engine, tmp_path)
    fill(blank, inbox / "bao-cao.xlsx", {**GOOD, "finished": 18})
    process_inbox(engine, settings, CODE, now=IN_APRIL)
    fill(blank, inbox / "bao-cao.xlsx", {**GOOD, "finished": 19})
    process_inbox(engine, settings, CODE, now=at("03/04/2024"))
    names = sorted(p.name for p in (inbox / "processed").iterdir())
    assert len(names) == 2 and "bao-cao.xlsx" in names
    assert [(r[3], r[4]) for r in submissions(engine)] == [(1, False), (2, True)]


def test_an_unknown_campaign_is_an_error_not_a_rejection(
    engine: Engine, settings: Settings, launched: int
) -> None:
    with pytest.raises(CampaignNotFound, match="KHONG-CO"):
        process_inbox(engine, settings, "khong-co", now=IN_APRIL)


def test_links_in_the_inbox_are_refused_unread_and_moved_aside_as_links(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    inbox = settings.inbox_dir / CODE
    inbox.mkdir(parents=True, exist_ok=True)
    valid_outside = filled(engine, tmp_path, "ys.xlsx")  # a good report, but outside the inbox
    secret = tmp_path / "secret.csv"
    secret.write_text("mật khẩu,không được đọc\n", encoding="utf-8")
    (inbox / "ys.xlsx").symlink_to(valid_outside)
    (inbox / "passwd.csv").symlink_to(secret)

    result = process_inbox(engine, settings, CODE, now=IN_APRIL)

    assert [r.status for r in result.results] == ["rejected", "rejected"]
    assert all("liên kết (symlink)" in r.errors[0] for r in result.results)
    assert submissions(engine) == []  # a link to a valid report is not a revision
    assert count(engine, RejectedFile) == 0  # nothing read, nothing stored
    rejected = inbox / "rejected"
    assert (rejected / "ys.xlsx").is_symlink() and (rejected / "passwd.csv").is_symlink()
    assert secret.read_text(encoding="utf-8") == "mật khẩu,không được đọc\n"
    stored = [p for p in settings.data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(p.read_bytes() == secret.read_bytes() for p in stored)
    assert not any(inbox.glob("*.xlsx")) and not any(inbox.glob("*.csv"))


def test_a_file_named_to_deceive_is_shown_escaped(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    inbox = settings.inbox_dir / CODE
    name = "bao-cao\u202excod.exe\n.csv"  # a right-to-left override and a newline inside the name
    path = csv_report(tmp_path, "x.csv", [CODE, "TQ-XX", "2024-03", "", 1, 1, 1, ""])
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(path.read_bytes())

    [result] = process_inbox(engine, settings, CODE, now=IN_APRIL).results

    assert result.status == "rejected"
    assert result.source_name == "bao-cao\\u202excod.exe\\u000a.csv"
    assert all("\u202e" not in e and "\n" not in e for e in result.errors)


def test_two_inbox_runs_at_once_both_finish_and_count_each_file_once(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    import threading

    inbox = settings.inbox_dir / CODE
    units = ["TQ-YS", "TQ-SD", "TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH"]
    for unit in units:
        fill(template(engine, tmp_path, unit), inbox / f"{unit}.xlsx", GOOD)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(process_inbox(engine, settings, CODE, now=IN_APRIL))
        except Exception as exc:  # the loser of a race must not fail: recorded to be asserted below
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert [type(o).__name__ for o in outcomes] == ["InboxResult", "InboxResult"], outcomes
    assert sorted(r[1] for r in submissions(engine)) == sorted(units)
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(f"{u}.xlsx" for u in units)


# ---------------------------------------------------------------- files that expand far beyond their size


def _rezip(source: Path, target: Path, edit: Callable[[str, bytes], bytes], extra: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
        for name, data in extra.items():
            dst.writestr(name, data)
    return target


def test_a_zip_bomb_is_refused_before_it_is_expanded(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    good = filled(engine, tmp_path, "ys.xlsx")
    zeros = {"xl/media/zeros.bin": b"\0" * (40 * 1024 * 1024)}
    bomb = _rezip(good, tmp_path / "bom.xlsx", lambda _n, d: d, zeros)
    assert bomb.stat().st_size < 1024 * 1024  # small on disk, 40 MB unzipped

    [result] = ingest_files(engine, settings, CODE, [bomb], now=IN_APRIL)

    assert result.status == "rejected"
    assert result.errors == [
        "bom.xlsx: tệp giải nén ra 40 MB (tối đa 25 MB); mẫu báo cáo chỉ vài chục KB — "
        "hãy gửi lại đúng tệp mẫu"
    ]
    assert submissions(engine) == []


def test_rows_hidden_behind_a_small_declared_size_are_read_and_refused(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    import re as _re

    good = filled(engine, tmp_path, "ys.xlsx")
    wb = load_workbook(good)
    declared = wb[REPORT_SHEET].dimensions
    wb[REPORT_SHEET]["B4000"] = "thêm"
    padded = tmp_path / "padded.xlsx"
    wb.save(padded)

    def shrink(name: str, data: bytes) -> bytes:  # the sheet says it ends where the template ends
        if name.startswith("xl/worksheets/sheet"):
            return _re.sub(rb'<dimension ref="[^"]+"/>', f'<dimension ref="{declared}"/>'.encode(), data)
        return data

    sneaky = _rezip(padded, tmp_path / "sneaky.xlsx", shrink, {})

    [result] = ingest_files(engine, settings, CODE, [sneaky], now=IN_APRIL)

    assert result.status == "rejected" and any("B4000" in e for e in result.errors), result.errors
    assert submissions(engine) == []


def test_a_sheet_of_too_many_cells_is_refused_without_listing_them(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    good = filled(engine, tmp_path, "ys.xlsx")
    wb = load_workbook(good)
    ws = wb[REPORT_SHEET]
    for r in range(100, 100 + 26_000):
        ws.cell(row=r, column=1, value=1)
        ws.cell(row=r, column=2, value=1)
        ws.cell(row=r, column=3, value=1)
        ws.cell(row=r, column=4, value=1)
    big = tmp_path / "big.xlsx"
    wb.save(big)

    [result] = ingest_files(engine, settings, CODE, [big], now=IN_APRIL)

    assert result.status == "rejected"
    assert result.errors == ["big.xlsx: tệp có hơn 100.000 ô; mẫu báo cáo chỉ vài trăm ô"]


def test_a_file_with_thousands_of_errors_lists_the_first_fifty_and_counts_the_rest(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    rows = [[CODE, "TQ-YS", "2024-03", "", 120, 30, 20, ""]]
    rows += [["", "", "", f"TQ-YS-{i:04d}", "x", 1, 1, ""] for i in range(100, 400)]
    path = csv_report(tmp_path, "nhieu-loi.csv", *rows)

    [result] = ingest_files(engine, settings, CODE, [path], now=IN_APRIL)

    assert result.status == "rejected" and len(result.errors) == 51
    assert result.errors[-1].endswith("lỗi khác (chỉ liệt kê 50 lỗi đầu)")
    more = int(result.errors[-1].split("… và ")[1].split(" ")[0].replace(".", ""))
    assert more >= 250
    with Session(engine) as s:
        assert len(json.loads(s.scalars(select(RejectedFile)).one().errors_json)) == 51
