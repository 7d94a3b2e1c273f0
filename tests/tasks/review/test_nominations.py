"""Nominations and dossiers on real databases: validation, late marking, files, completeness, drafts."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from tests.factories import TQ_DEFINITION, at, edited_definition, launch_campaign_rows, load_demo_directory
from tests.tasks.builders_nominations import (
    AWARD,
    CODE,
    ON_TIME,
    final_results,
    full_dossier,
    ooxml_bytes,
    pdf_bytes,
    write,
)
from thidua.models.campaign import DomainEvent
from thidua.models.review import CampaignDocument, DocumentKind, DossierFile, Nomination, NominationStatus
from thidua.models.settings import Settings
from thidua.tasks.review.nominations import (
    DossierFileError,
    NominationImportError,
    NominationInput,
    NominationRejected,
    add_dossier_file,
    draft_documents,
    import_nominations,
    list_nominations,
    nominate,
    refresh_completeness,
)


@pytest.fixture
def launched(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


def row(kind: str, code: str, by: str, **extra: str) -> NominationInput:
    return NominationInput(AWARD, kind, code, by, **extra)


def events(engine: Engine, prefix: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(
            s.scalars(
                select(DomainEvent)
                .where(col(DomainEvent.kind).startswith(prefix))
                .order_by(col(DomainEvent.id))
            )
        )


def nominations(engine: Engine) -> dict[str, Nomination]:
    with Session(engine) as s:
        return {n.subject_code: n for n in s.scalars(select(Nomination))}


# ---------------------------------------------------------------- nominate


def test_nominations_take_names_from_the_enrolment_and_a_second_send_changes_nothing(
    engine: Engine, launched: int
) -> None:
    rows = [
        row("Tập thể", "TQ-YS", "TQ-YS"),
        row("individual", "TQ-YS-05", "TQ-YS", achievement="Xong 12 việc"),
    ]
    first = nominate(engine, CODE, rows, now=ON_TIME, actor="tccb@ys.example.vn")
    assert [i.status for i in first.items] == ["created", "created"]
    stored = nominations(engine)
    assert stored["TQ-YS"].subject_name == "Chi cục Thi hành án dân sự huyện Yên Sơn"
    assert stored["TQ-YS-05"].subject_title == "Chấp hành viên" and stored["TQ-YS-05"].unit_code == "TQ-YS"
    assert stored["TQ-YS-05"].status == NominationStatus.SUBMITTED and not stored["TQ-YS-05"].is_late
    assert len(events(engine, "nomination.submitted")) == 2

    again = nominate(engine, CODE, rows, now=at("03/07/2024", 10), actor="tccb@ys.example.vn")
    assert [i.status for i in again.items] == ["unchanged", "unchanged"]
    assert [i.nomination_id for i in again.items] == [i.nomination_id for i in first.items]
    assert len(events(engine, "nomination.")) == 2
    assert nominations(engine)["TQ-YS-05"].submitted_at == stored["TQ-YS-05"].submitted_at


def test_a_bad_list_is_refused_whole_with_every_problem_located(engine: Engine, launched: int) -> None:
    rows = [
        row("collective", "TQ-YS", "TQ-YS"),  # fine, but must not be written
        NominationInput("bang_khen", "individual", "TQ-YS-05", "TQ-YS"),
        row("nhóm", "TQ-YS-06", "TQ-YS"),
        row("individual", "TQ-XX-01", "TQ-YS"),
        row("individual", "TQ-SD-06", "TQ-YS"),
        row("individual", "TQ-YS-07", "TQ-YS", subject_name="Người Khác"),
        row("collective", "TQ-YS", "TQ-YS"),
    ]
    with pytest.raises(NominationRejected) as caught:
        nominate(engine, CODE, rows, now=ON_TIME)
    problems = {(e.row, e.column): e.problem for e in caught.value.errors}
    assert "không có hình thức khen thưởng “bang_khen”" in problems[(2, "Hình thức khen thưởng")]
    assert "không rõ là tập thể hay cá nhân" in problems[(3, "Đối tượng")]
    assert "cán bộ “TQ-XX-01” không có trong danh sách" in problems[(4, "Mã tập thể, cá nhân")]
    assert "thuộc đơn vị TQ-SD, không thuộc đơn vị đề nghị “TQ-YS”" in problems[(5, "Đơn vị đề nghị")]
    assert "không phải “Người Khác”" in problems[(6, "Họ và tên / Tên tập thể")]
    assert "bị trùng: đã có ở dòng 1" in problems[(7, "Mã tập thể, cá nhân")]
    assert "Không tiếp nhận đề nghị khen thưởng: có 6 lỗi" in str(caught.value)
    assert nominations(engine) == {} and events(engine, "nomination.") == []


def test_a_kind_whose_quota_is_zero_cannot_be_nominated(engine: Engine, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    edited = edited_definition(tmp_path, TQ_DEFINITION, "collective: 2\n", "collective: 0\n")
    launch_campaign_rows(engine, edited)
    with pytest.raises(NominationRejected) as caught:
        nominate(engine, CODE, [row("collective", "TQ-YS", "TQ-YS")], now=ON_TIME)
    assert "không xét tập thể" in str(caught.value)


def test_nominations_after_the_dossier_deadline_are_kept_and_marked_late(
    engine: Engine, launched: int
) -> None:
    # The deadline is the whole of 03/07/2024 in Vietnam: 23:59 there is on time, midnight is late.
    nominate(engine, CODE, [row("individual", "TQ-YS-05", "TQ-YS")], now=at("03/07/2024", 23, 59))
    nominate(engine, CODE, [row("individual", "TQ-YS-06", "TQ-YS")], now=at("04/07/2024", 0, 0))
    result = nominate(engine, CODE, [row("individual", "TQ-YS-07", "TQ-YS")], now=at("10/07/2024", 9))
    stored = nominations(engine)
    assert not stored["TQ-YS-05"].is_late
    assert stored["TQ-YS-06"].is_late and stored["TQ-YS-07"].is_late
    assert result.late == 1 and "gửi sau hạn nộp hồ sơ" in str(result)
    assert json.loads(events(engine, "nomination.submitted")[-1].payload_json)["is_late"] is True


def test_import_reads_vietnamese_headers_from_csv_and_xlsx(
    engine: Engine, launched: int, tmp_path: Path
) -> None:
    path = tmp_path / "de-nghi.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["DANH SÁCH ĐỀ NGHỊ KHEN THƯỞNG"])
        # Decomposed (NFD) headers, as some editors save them, and a helper column.
        writer.writerow([unicodedata.normalize("NFD", h) for h in
                         ["STT", "Hình thức khen thưởng", "Đối tượng", "Mã tập thể / cá nhân", "Họ và tên",
                          "Đơn vị đề nghị", "Tóm tắt thành tích"]])  # fmt: skip
        writer.writerow(["1", "Giấy khen của Cục trưởng Cục THADS", "Tập thể", "TQ-YS", "", "TQ-YS", ""])
        writer.writerow(["", "", "", "", "", "", ""])
        writer.writerow(["2", AWARD, "Cá nhân", "TQ-YS-05", "", "TQ-YS", "Thi hành xong 12 việc"])
    result = import_nominations(engine, CODE, path, now=ON_TIME, actor="clerk")
    assert result.created == 2
    assert nominations(engine)["TQ-YS-05"].achievement == "Thi hành xong 12 việc"

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Hình thức khen thưởng", "Đối tượng", "Mã tập thể, cá nhân", "Đơn vị đề nghị"])
    ws.append([AWARD, "Cá nhân", "TQ-YS-06", "TQ-YS"])
    ws.append([AWARD, "Cá nhân", "TQ-YS-99", "TQ-YS"])
    xlsx = tmp_path / "de-nghi.xlsx"
    wb.save(xlsx)
    with pytest.raises(NominationImportError) as caught:
        import_nominations(engine, CODE, xlsx, now=ON_TIME)
    assert [str(e) for e in caught.value.errors] == [
        "de-nghi.xlsx, dòng 3, cột “Mã tập thể, cá nhân”: cán bộ “TQ-YS-99” không có trong danh sách cán bộ "
        f"tham gia phong trào {CODE}"
    ]
    assert "TQ-YS-06" not in nominations(engine)

    bad = tmp_path / "thieu-cot.csv"
    bad.write_text("Hình thức khen thưởng,Mã tập thể, cá nhân\n", encoding="utf-8")
    with pytest.raises(NominationImportError, match="thiếu cột: Đối tượng"):
        import_nominations(engine, CODE, bad, now=ON_TIME)


def test_a_withdrawn_nomination_sent_again_is_submitted_again(engine: Engine, launched: int) -> None:
    first = nominate(engine, CODE, [row("individual", "TQ-YS-05", "TQ-YS")], now=ON_TIME)
    with Session(engine) as s, s.begin():
        n = s.get(Nomination, first.items[0].nomination_id)
        assert n is not None
        n.status = NominationStatus.WITHDRAWN
    again = nominate(engine, CODE, [row("individual", "TQ-YS-05", "TQ-YS")], now=at("03/07/2024", 9))
    assert again.items[0].status == "resubmitted"
    assert again.items[0].nomination_id == first.items[0].nomination_id
    assert nominations(engine)["TQ-YS-05"].status == NominationStatus.SUBMITTED


# ---------------------------------------------------------------- dossier files


def test_the_users_file_name_is_never_a_path(engine: Engine, settings: Settings, launched: int) -> None:
    source = write(settings.data_dir.parent, "x.pdf", pdf_bytes())
    row_ = add_dossier_file(
        engine, settings, CODE, unit_code="TQ-YS", part_key="to_trinh", source=source,
        original_name="../../etc/passwd.pdf", now=ON_TIME, actor="clerk",
    )  # fmt: skip
    assert row_.original_name == "../../etc/passwd.pdf"
    assert row_.stored_path == f"dossiers/{CODE}/TQ-YS/to_trinh-chung-r1-{row_.sha256[:8]}.pdf"
    assert (settings.data_dir / row_.stored_path).read_bytes() == pdf_bytes()
    assert not (settings.data_dir.parent / "etc").exists()

    nfd = unicodedata.normalize("NFD", "Tờ trình đề nghị – Yên Sơn.PDF")
    second = add_dossier_file(
        engine, settings, CODE, unit_code="TQ-YS", part_key="bien_ban", source=source,
        original_name=nfd, now=ON_TIME,
    )  # fmt: skip
    assert second.original_name == "Tờ trình đề nghị – Yên Sơn.PDF"
    assert unicodedata.is_normalized("NFC", second.original_name)
    assert second.stored_path.endswith(".pdf") and "Yên" not in second.stored_path
    assert second.content_type == "application/pdf" and second.size_bytes == len(pdf_bytes())


def test_wrong_types_oversize_and_empty_files_are_refused_clearly(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(
        engine, edited_definition(tmp_path, TQ_DEFINITION, "max_file_mb: 20", "max_file_mb: 1")
    )

    def add(name: str, data: bytes, part: str = "to_trinh") -> DossierFile:
        return add_dossier_file(
            engine, settings, CODE, unit_code="TQ-YS", part_key=part, source=write(tmp_path, name, data),
            original_name=name, now=ON_TIME,
        )  # fmt: skip

    with pytest.raises(DossierFileError, match=r"virus.exe: loại tệp “exe” không được nhận; chỉ nhận: pdf"):
        add("virus.exe", b"MZ\x90\x00")
    with pytest.raises(DossierFileError, match=r"đuôi tệp là .pdf nhưng nội dung là Word \(.docx\)"):
        add("to-trinh.pdf", ooxml_bytes("word"))
    with pytest.raises(DossierFileError, match=r"đuôi tệp là .docx nhưng nội dung là Excel \(.xlsx\)"):
        add("to-trinh.docx", ooxml_bytes("xl"))
    with pytest.raises(DossierFileError, match=r"đuôi tệp là .doc nhưng nội dung là PDF"):
        add("to-trinh.doc", pdf_bytes())
    with pytest.raises(DossierFileError, match=r"quá giới hạn 1 MB"):
        add("lon.pdf", pdf_bytes() + b"0" * (1024 * 1024))
    with pytest.raises(DossierFileError, match=r"tệp rỗng"):
        add("rong.pdf", b"")
    with pytest.raises(DossierFileError, match=r"không có thành phần “ke_hoach”"):
        add("a.pdf", pdf_bytes(), part="ke_hoach")
    with pytest.raises(DossierFileError, match=r"chưa đề nghị khen thưởng “TQ-YS-05”"):
        add_dossier_file(
            engine, settings, CODE, unit_code="TQ-YS", part_key="bao_cao_thanh_tich",
            source=write(tmp_path, "b.pdf", pdf_bytes()), original_name="b.pdf", nominee="TQ-YS-05",
            now=ON_TIME,
        )  # fmt: skip
    assert add("ok.doc", bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 64).content_type == "application/msword"
    assert add("ok.xlsx", ooxml_bytes("xl"), part="tong_hop_ket_qua").revision == 1
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(DossierFile)).scalar_one() == 2
    assert not list((settings.data_dir / "dossiers").rglob("*.exe"))


def test_a_new_file_is_a_new_revision_and_the_same_bytes_change_nothing(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    def add(data: bytes, when: str = "01/07/2024") -> DossierFile:
        return add_dossier_file(
            engine, settings, CODE, unit_code="TQ-YS", part_key="to_trinh",
            source=write(tmp_path, "tt.pdf", data), original_name="tt.pdf", now=at(when, 9),
        )  # fmt: skip

    first = add(pdf_bytes("một"))
    same = add(pdf_bytes("một"), "02/07/2024")
    assert (same.id, same.revision) == (first.id, 1)
    second = add(pdf_bytes("hai"), "05/07/2024")
    assert second.revision == 2 and not second.on_time
    with Session(engine) as s:
        rows = list(s.scalars(select(DossierFile).order_by(col(DossierFile.revision))))
    assert [(r.revision, r.is_current, r.on_time) for r in rows] == [(1, False, True), (2, True, False)]
    assert all((settings.data_dir / r.stored_path).exists() for r in rows)
    added = [json.loads(e.payload_json) for e in events(engine, "dossier.file_added")]
    assert [p["after"]["revision"] for p in added] == [1, 2]
    assert added[1]["before"] == {"revision": 1, "sha256": first.sha256}


# ---------------------------------------------------------------- completeness


def test_completeness_from_files_on_time_marks_late_and_incomplete_nominations_without_losing_them(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    nominate(
        engine, CODE,
        [row("collective", "TQ-YS", "TQ-YS"), row("individual", "TQ-YS-05", "TQ-YS"),
         row("individual", "TQ-TP-05", "TQ-TP")],
        now=ON_TIME,
    )  # fmt: skip
    nominate(engine, CODE, [row("individual", "TQ-YS-06", "TQ-YS")], now=at("04/07/2024", 9))
    full_dossier(engine, settings, tmp_path, "TQ-YS", ["TQ-YS", "TQ-YS-05"])
    full_dossier(engine, settings, tmp_path, "TQ-TP", ["TQ-TP-05"], skip={"bien_ban"})

    before = refresh_completeness(engine, CODE, now=at("03/07/2024", 17))
    assert before == {"complete": 2, "submitted": 2}
    stored = nominations(engine)
    assert json.loads(stored["TQ-TP-05"].missing_parts_json) == ["Biên bản"]
    assert stored["TQ-TP-05"].status == NominationStatus.SUBMITTED

    # TQ-TP's minutes arrive a day late: they do not count.
    add_dossier_file(
        engine, settings, CODE, unit_code="TQ-TP", part_key="bien_ban",
        source=write(tmp_path, "bb.pdf", pdf_bytes("bb")), original_name="bb.pdf", now=at("04/07/2024", 8),
    )  # fmt: skip
    after = refresh_completeness(engine, CODE, now=at("04/07/2024", 9))
    assert after == {"complete": 2, "incomplete": 2}
    stored = nominations(engine)
    assert stored["TQ-TP-05"].status == NominationStatus.INCOMPLETE
    assert json.loads(stored["TQ-TP-05"].missing_parts_json) == ["Biên bản"]
    # Sent after the deadline: kept and marked, its report of achievements missing as well.
    assert stored["TQ-YS-06"].status == NominationStatus.INCOMPLETE and stored["TQ-YS-06"].is_late
    assert json.loads(stored["TQ-YS-06"].missing_parts_json) == ["Báo cáo thành tích"]
    kinds = [e.kind for e in events(engine, "nomination.") if e.kind != "nomination.submitted"]
    assert sorted(kinds) == ["nomination.complete", "nomination.complete", "nomination.incomplete",
                             "nomination.incomplete"]  # fmt: skip

    count = len(events(engine, ""))
    assert refresh_completeness(engine, CODE, now=at("05/07/2024", 9)) == after
    assert len(events(engine, "")) == count
    views = {v.subject_code: v for v in list_nominations(engine, CODE)}
    assert views["TQ-TP-05"].missing_parts == ["Biên bản"] and views["TQ-TP-05"].eligible is None


# ---------------------------------------------------------------- drafts


def test_the_system_drafts_the_list_and_the_results_summary(
    engine: Engine, settings: Settings, launched: int, tmp_path: Path
) -> None:
    nominate(
        engine, CODE,
        [row("individual", "TQ-YS-05", "TQ-YS"), row("collective", "TQ-YS", "TQ-YS"),
         row("individual", "TQ-YS-04", "TQ-YS")],
        now=ON_TIME,
    )  # fmt: skip
    final_results(engine, launched, [("unit", "TQ-YS", "TQ-YS", 20), ("person", "TQ-YS-05", "TQ-YS", 3)])
    result = draft_documents(engine, settings, CODE, "TQ-YS", now=ON_TIME)
    assert result.skipped == []
    by_part = {f.part_key: f for f in result.files}
    assert set(by_part) == {"danh_sach", "tong_hop_ket_qua"}
    assert all(f.generated and f.on_time and f.nomination_id is None for f in result.files)

    doc = Document(str(settings.data_dir / by_part["danh_sach"].stored_path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "DANH SÁCH" in text and "Tổng số: 01 tập thể, 02 cá nhân./." in text
    header = [c.text for c in doc.tables[0].rows[0].cells]
    assert header[0].startswith(
        "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG\nCHI CỤC THI HÀNH ÁN DÂN SỰ HUYỆN YÊN"
    )
    assert [c.text for c in doc.tables[0].rows[1].cells][1] == "Yên Sơn, ngày 02 tháng 7 năm 2024"
    table = [[c.text for c in r.cells] for r in doc.tables[1].rows]
    assert table[0] == ["STT", "Họ và tên / Tên tập thể", "Chức vụ", "Đơn vị", "Hình thức khen thưởng"]
    assert table[1][:2] == ["I", "TẬP THỂ"] and table[3][:2] == ["II", "CÁ NHÂN"]
    assert table[2][1] == "Chi cục Thi hành án dân sự huyện Yên Sơn"
    assert [r[2] for r in table[4:]] == ["Chấp hành viên", "Chấp hành viên"]
    assert all(r[4] == "Giấy khen của Cục trưởng Cục THADS" for r in table[4:])

    sheet = load_workbook(settings.data_dir / by_part["tong_hop_ket_qua"].stored_path).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(min_row=7, values_only=True)]
    assert values[0][1:3] == ["TQ-YS", "Chi cục Thi hành án dân sự huyện Yên Sơn"]
    assert values[0][6:] == [120, 30, 20, pytest.approx(0.133333), pytest.approx(0.1), "Đạt"]
    people = {r[1]: r for r in values[1:]}
    assert people["TQ-YS-05"][9:] == [pytest.approx(0.02), pytest.approx(0.1), "Chưa đạt"]
    assert people["TQ-YS-04"][6:] == [None, None, None, None, None, "Không có số liệu"]

    again = draft_documents(engine, settings, CODE, "TQ-YS", now=ON_TIME)
    assert [(f.id, f.revision) for f in again.files] == [(f.id, 1) for f in result.files]
    with Session(engine) as s:
        docs = {d.kind: d for d in s.scalars(select(CampaignDocument))}
        assert docs[DocumentKind.DRAFT_LIST].ref == "TQ-YS"
        assert docs[DocumentKind.DRAFT_SUMMARY].path == by_part["tong_hop_ket_qua"].stored_path
        assert s.execute(select(func.count()).select_from(DossierFile)).scalar_one() == 2

    # The unit's own signed list wins over a later draft.
    add_dossier_file(
        engine, settings, CODE, unit_code="TQ-YS", part_key="danh_sach",
        source=write(tmp_path, "ds.pdf", pdf_bytes("ký")), original_name="ds.pdf", now=ON_TIME,
    )  # fmt: skip
    nominate(engine, CODE, [row("individual", "TQ-YS-06", "TQ-YS")], now=ON_TIME)
    third = draft_documents(engine, settings, CODE, "TQ-YS", now=ON_TIME)
    assert [f.part_key for f in third.files] == ["tong_hop_ket_qua"] and third.files[0].revision == 2
    assert "giữ tệp của đơn vị" in third.skipped[0]


def test_no_draft_for_a_part_the_campaign_does_not_ask_for(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    line = (
        "    - {key: tong_hop_ket_qua, name: Tổng hợp kết quả giảm việc có điều kiện trên một năm, "
        "required: true}\n"
    )
    launch_campaign_rows(engine, edited_definition(tmp_path, TQ_DEFINITION, line, ""))
    nominate(engine, CODE, [row("individual", "TQ-YS-05", "TQ-YS")], now=ON_TIME)
    result = draft_documents(engine, settings, CODE, "TQ-YS", now=ON_TIME)
    assert [f.part_key for f in result.files] == ["danh_sach"]
