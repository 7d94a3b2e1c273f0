"""The council minutes (notifications/documents/minutes.py) as DOCX, read back with python-docx."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Length
from docx.table import Table

from thidua.notifications.documents.decree30 import MOTTO, NATIONAL_TITLE, DocumentHeader
from thidua.notifications.documents.minutes import (
    ATTENDANCE_HEADER,
    VOTE_HEADER,
    MinutesContent,
    MinutesGroup,
    MinutesMember,
    MinutesVote,
    Signer,
    render_minutes,
)

QUORUM = "Số thành viên dự họp 8/9, bảo đảm số lượng theo quy định (ít nhất 6/9 thành viên)."
NO_QUORUM = "Không đủ số lượng thành viên dự họp theo quy định: 5/9, cần ít nhất 6."
MEMBERS = [
    MinutesMember("Bàn Hoàng Minh", "Cục trưởng", "Chủ tịch", True),
    MinutesMember("Phan Thị Mai Thảo", "Phó Cục trưởng", "Phó Chủ tịch", True),
    MinutesMember("Nguyễn Đức Bình", "Trưởng phòng, Phòng Kiểm tra", "Ủy viên", False, written=True),
    MinutesMember("Lê Thế Tùng", "Trưởng phòng, Phòng Tổ chức cán bộ", "Ủy viên", False),
    MinutesMember("Nguyễn Hồng Phương", "Phó Trưởng phòng, Phòng Tổ chức cán bộ", "Thư ký", True),
]


def content(*, quorum: bool = True) -> MinutesContent:
    return MinutesContent(
        header=DocumentHeader(
            parent_agency="Cục Thi hành án dân sự tỉnh Tuyên Quang",
            agency="Hội đồng Thi đua - Khen thưởng",
            number=None,
            symbol="BB-HĐTĐKT",
            place="Tuyên Quang",
            date=date(2024, 7, 10),
        ),
        subject="Họp Hội đồng Thi đua – Khen thưởng xét khen thưởng phong trào thi đua chuyên đề",
        opening="Vào hồi 08 giờ 30 phút, ngày 10 tháng 7 năm 2024, tại Hội trường Cục, Hội đồng họp xét.",
        members=MEMBERS,
        quorum_met=quorum,
        quorum_text=QUORUM if quorum else NO_QUORUM,
        voting_rule="Hình thức biểu quyết: bỏ phiếu kín; thông qua khi trên 1/2 tổng số thành viên đồng ý.",
        chair=Signer("Chủ tịch Hội đồng", "Bàn Hoàng Minh"),
        secretary=Signer("Thư ký Hội đồng", "Nguyễn Hồng Phương"),
        votes=[
            MinutesVote(
                "Chi cục THADS huyện Na Hang",
                "Cục THADS tỉnh Tuyên Quang",
                "Giấy khen – tập thể",
                5,
                3,
                1,
                "Được chọn",
            ),
            MinutesVote(
                "Hoàng Văn Hải",
                "Chi cục THADS huyện Lâm Bình",
                "Giấy khen – cá nhân",
                6,
                3,
                0,
                "Vượt chỉ tiêu",
            ),
        ]
        if quorum
        else [],
        groups=[
            MinutesGroup(
                "Giấy khen – tập thể (chỉ tiêu 02 tập thể)",
                [
                    (
                        "Chi cục THADS huyện Na Hang",
                        "Được chọn: xếp thứ 1 trong chỉ tiêu 02 tập thể; 5/9 phiếu đồng ý",
                    )
                ],
            )
        ]
        if quorum
        else [],
        decisions=["Chủ tịch Hội đồng quyết định chọn Hồ Văn Khánh. Lý do: có sáng kiến được áp dụng"]
        if quorum
        else [],
        closing="Cuộc họp kết thúc vào hồi 11 giờ 00 phút cùng ngày./.",
    )


@pytest.fixture(scope="module")
def minutes(tmp_path_factory: pytest.TempPathFactory) -> DocxDocument:
    path = render_minutes(content(), tmp_path_factory.mktemp("minutes") / "bien-ban.docx")
    return Document(str(path))


def texts(doc: DocxDocument) -> list[str]:
    return [p.text for p in doc.paragraphs]


def rows(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def mm(length: Length | None) -> float:
    assert length is not None
    return length.mm


def test_the_minutes_are_a4_portrait_within_the_decree_margins(minutes: DocxDocument) -> None:
    section = minutes.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert (round(mm(section.page_width)), round(mm(section.page_height))) == (210, 297)
    assert 30 <= round(mm(section.left_margin), 1) <= 35 and 15 <= round(mm(section.right_margin), 1) <= 20


def test_the_header_names_the_agency_over_its_council_and_leaves_the_number_blank(
    minutes: DocxDocument,
) -> None:
    header = minutes.tables[0]
    left = [p for p in header.cell(0, 0).paragraphs if p.text]
    assert [p.text for p in left] == [
        "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG",
        "HỘI ĐỒNG THI ĐUA - KHEN THƯỞNG",
    ]
    assert not any(r.bold for r in left[0].runs) and all(r.bold for r in left[1].runs)
    right = [p.text for p in header.cell(0, 1).paragraphs if p.text]
    assert right == [NATIONAL_TITLE, MOTTO]
    assert header.cell(1, 0).paragraphs[0].text == "Số:      /BB-HĐTĐKT"
    place = header.cell(1, 1).paragraphs[0]
    assert place.text == "Tuyên Quang, ngày 10 tháng 7 năm 2024" and all(r.italic for r in place.runs)


def test_the_title_is_bien_ban_in_bold_capitals_over_the_subject(minutes: DocxDocument) -> None:
    title = next(p for p in minutes.paragraphs if p.text == "BIÊN BẢN")
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER and all(r.bold for r in title.runs)
    body = texts(minutes)
    assert body[body.index("BIÊN BẢN") + 1].startswith("Họp Hội đồng Thi đua – Khen thưởng")


def test_attendance_quorum_and_tallies_are_in_order(minutes: DocxDocument) -> None:
    body = texts(minutes)
    assert "Tổng số thành viên Hội đồng: 5; có mặt: 3; vắng mặt: 2 (gửi phiếu bằng văn bản: 1)." in body
    attendance = rows(minutes.tables[1])
    assert tuple(attendance[0]) == ATTENDANCE_HEADER
    assert attendance[3] == ["3", "Nguyễn Đức Bình", "Trưởng phòng, Phòng Kiểm tra", "Ủy viên",
                             "Vắng (có phiếu bằng văn bản)"]  # fmt: skip
    assert attendance[4][-1] == "Vắng"
    assert body.index(QUORUM) < body.index("II. NỘI DUNG") < body.index("1. Kết quả bỏ phiếu kín")
    votes = rows(minutes.tables[2])
    assert tuple(votes[0]) == VOTE_HEADER
    na_hang = ["1", "Chi cục THADS huyện Na Hang", "Cục THADS tỉnh Tuyên Quang", "Giấy khen – tập thể"]
    assert votes[1] == [*na_hang, "5", "3", "1", "Được chọn"]
    assert (
        "- Chi cục THADS huyện Na Hang: Được chọn: xếp thứ 1 trong chỉ tiêu 02 tập thể; 5/9 phiếu đồng ý"
        in body
    )
    assert "- Chủ tịch Hội đồng quyết định chọn Hồ Văn Khánh. Lý do: có sáng kiến được áp dụng" in body


def test_the_secretary_and_the_chair_sign_side_by_side_without_borders(minutes: DocxDocument) -> None:
    last = minutes.tables[-1]
    assert len(last.columns) == 2 and len(last.rows) == 1
    left = [p for p in last.cell(0, 0).paragraphs if p.text]
    right = [p for p in last.cell(0, 1).paragraphs if p.text]
    assert [p.text for p in left] == ["THƯ KÝ HỘI ĐỒNG", "Nguyễn Hồng Phương"]
    assert [p.text for p in right] == ["CHỦ TỊCH HỘI ĐỒNG", "Bàn Hoàng Minh"]
    assert all(r.bold for p in left + right for r in p.runs)
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.CENTER for p in left + right)
    borders = last._tbl.tblPr.find(qn("w:tblBorders"))
    assert borders is not None and {b.get(qn("w:val")) for b in borders} == {"nil"}
    body = texts(minutes)
    assert body.index("Cuộc họp kết thúc vào hồi 11 giờ 00 phút cùng ngày./.") > body.index("II. NỘI DUNG")


def test_without_quorum_the_minutes_say_no_vote_was_taken(tmp_path: Path) -> None:
    doc = Document(str(render_minutes(content(quorum=False), tmp_path / "bien-ban.docx")))
    body = texts(doc)
    assert NO_QUORUM in body
    assert any(p.startswith("Hội đồng không tiến hành bỏ phiếu") for p in body)
    assert "1. Kết quả bỏ phiếu kín" not in body
    assert not any(tuple(rows(t)[0]) == VOTE_HEADER for t in doc.tables)


def test_the_same_minutes_give_the_same_bytes(tmp_path: Path) -> None:
    first = render_minutes(content(), tmp_path / "a.docx").read_bytes()
    assert render_minutes(content(), tmp_path / "b.docx").read_bytes() == first


def test_minutes_without_members_are_refused(tmp_path: Path) -> None:
    empty = MinutesContent(**{**content().__dict__, "members": []})
    with pytest.raises(ValueError, match="thiếu danh sách thành viên"):
        render_minutes(empty, tmp_path / "x.docx")
    assert not (tmp_path / "x.docx").exists()
