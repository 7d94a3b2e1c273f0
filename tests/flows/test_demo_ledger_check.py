"""The Tuyên Quang demo's case ledger against its reports (issue 11 item 3): Chiêm Hóa reports 15 cases
finished where its ledger has 9. The closing report (XLSX and DOCX), the screening, the Tổng hợp kết quả and
the demo's final account say so, with the figures; the ranking stays on the reported figures and no pass or
fail changes.
Built with the demo's own months and review (real Prefect runs for the close, review and award flows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from tests.flows.test_lifecycle import CODE, demo_months, failed_rules, screening
from thidua.deploy.demo.review import print_account, run_review
from thidua.models.campaign import DomainEvent
from thidua.models.settings import Settings

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

FINISHED = "Số việc có điều kiện trên một năm đã thi hành xong"
CHIEM_HOA = "Chi cục THADS huyện Chiêm Hóa"
DIFFERENCE = f"{FINISHED}: báo cáo 15, sổ thụ lý 9 (chênh lệch +6 việc)"


def sheet_rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    rows = list(load_workbook(path)[sheet].iter_rows(values_only=True))
    head = rows[0]
    return [dict(zip(head, row, strict=True)) for row in rows[1:]]


def test_the_demo_marks_chiem_hoa_s_inflated_figures_in_the_closing_report_the_screening_and_the_account(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, smtp_host="")
    engine = demo_months(settings, tmp_path)
    lines: list[str] = []

    log = run_review(settings, engine, CODE, lines.append)
    print_account(settings, engine, CODE, lines.append)

    # The closing table: the reported figure, the ledger's and the difference; ranked on the reported one.
    table = settings.data_dir / log.close["documents"]["table"]
    units = {row["Mã đơn vị"]: row for row in sheet_rows(table, "Đơn vị")}
    chiem_hoa = units["TQ-CH"]
    assert chiem_hoa[FINISHED] == 15
    assert chiem_hoa[f"{FINISHED} – theo sổ thụ lý"] == 9 and chiem_hoa[f"{FINISHED} – chênh lệch"] == 6
    assert chiem_hoa["Đối chiếu sổ thụ lý"] == "Cần xác minh" and chiem_hoa["Xếp hạng"] == 1
    others = {code: row["Đối chiếu sổ thụ lý"] for code, row in units.items() if row["Tự báo cáo"] == "Có"}
    assert others == {code: "Khớp" for code in others} | {"TQ-CH": "Cần xác minh"}
    info = dict(load_workbook(table)["Thông tin"].iter_rows(values_only=True))
    assert info["Xếp hạng theo"] == "Số liệu đơn vị báo cáo" and info["Số đơn vị cần xác minh"] == 1
    assert log.close["units_to_verify"] == ["TQ-CH"]

    # The closing report: the marked row, the paragraph with the figures, the ranking's basis.
    report = Document(str(settings.data_dir / log.close["documents"]["report"]))
    text = "\n".join(p.text for p in report.paragraphs)
    assert "Xếp hạng theo tỷ lệ tính trên số liệu đơn vị báo cáo" in text
    assert "đơn vị, cá nhân có số liệu chênh lệch được đánh dấu (*)" in text
    assert f"- {CHIEM_HOA}: {DIFFERENCE}; tỷ lệ theo sổ thụ lý" in text
    assert "(*) Cần xác minh: số liệu báo cáo chênh lệch với sổ thụ lý (tính đến hết ngày 30/06/2024)" in text
    ranked = next(t for t in report.tables if t.rows[0].cells[1].text == "Đơn vị")
    marked = [row.cells[1].text for row in ranked.rows if row.cells[1].text.endswith("(*)")]
    assert marked == [f"{CHIEM_HOA} (*)"]
    assert f"{CHIEM_HOA} (*) (38,46%)" in text  # first among the units that met the target, marked
    assert f"Có 1 đơn vị ({CHIEM_HOA}) có số liệu báo cáo chênh lệch với sổ thụ lý, cần xác minh" in text

    # The screening: "cần xác minh" with the figures, and the same pass or fail as without a ledger.
    screened = screening(engine)
    [verify] = [r for r in screened["TQ-CH"][1] if r.get("verify")]
    assert verify["passed"] is True and DIFFERENCE in verify["reason"]
    assert verify["reason"].startswith("Cần xác minh: số liệu báo cáo chênh lệch với sổ thụ lý")
    assert screened["TQ-CH"][0] is False and failed_rules(screened["TQ-CH"][1]) == {"clean_members"}
    # The head of Chiêm Hóa stands on his unit's figures under the unit-head rule: his unit's are flagged too.
    assert any(r.get("verify") for r in screened["TQ-CH-01"][1])
    assert failed_rules(screened["TQ-CH-01"][1]) == {"unit_head", "indicator"}
    flagged = {code for code, (_ok, reasons) in screened.items() if any(r.get("verify") for r in reasons)}
    assert flagged == {"TQ-CH", "TQ-CH-01"}
    assert screened["TQ-TP"][0] is True and not any(r.get("verify") for r in screened["TQ-TP"][1])

    # The Tổng hợp kết quả drafted for Chiêm Hóa's dossier shows the same figures.
    [summary] = (settings.data_dir / "dossiers" / CODE / "TQ-CH").glob("tong_hop_ket_qua-*.xlsx")
    rows = list(load_workbook(summary).worksheets[0].iter_rows(values_only=True))
    head = next(r for r in rows if r[0] == "STT")
    [line] = [dict(zip(head, r, strict=True)) for r in rows if r[1] == "TQ-CH"]
    assert line[FINISHED] == 15 and line[f"{FINISHED} – theo sổ thụ lý"] == 9
    assert line[f"{FINISHED} – chênh lệch"] == 6
    assert str(line["Đối chiếu sổ thụ lý"]).startswith(f"Cần xác minh: {DIFFERENCE}")

    # What the demo prints: the close, the screening and the final account point to it.
    output = "\n".join(lines)
    assert "cần xác minh (chênh lệch với sổ thụ lý): TQ-CH" in output
    assert f"⚠ Tập thể {chiem_hoa['Tên đơn vị']} (TQ-CH) — Cần xác minh" in output
    assert "Đối chiếu báo cáo với sổ thụ lý (tính đến hết ngày 30/06/2024): 1 cần xác minh" in output
    assert f"Đơn vị TQ-CH: {DIFFERENCE}" in output
    assert "cột “Đối chiếu sổ thụ lý”" in output
    with engine.connect() as conn:
        issued = conn.execute(
            select(col(DomainEvent.payload_json)).where(col(DomainEvent.kind) == "closing.report_issued")
        ).scalars()
        assert [json.loads(p)["version"] for p in issued] == [1]
    engine.dispose()
