"""Decree 30 documents: the plan (Kế hoạch) of seed 003 rendered to DOCX and read back with python-docx."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Length, Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

from thidua.notifications.documents.decree30 import (
    MOTTO,
    NATIONAL_TITLE,
    Decree30Document,
    DocumentHeader,
    Layout,
    Run,
    SignatureBlock,
    parse_inline,
)
from thidua.notifications.documents.plan import PlanContent, PlanParagraph, PlanSection, render_plan

TNR = "Times New Roman"
SUBJECT = (
    "Phát động phong trào thi đua chuyên đề “Giảm án có điều kiện trên một năm chưa thi hành xong” "
    "trong các cơ quan Thi hành án dân sự tỉnh Tuyên Quang"
)
ON_TIME = "chậm nhất trong ngày 03/7/2024"


def seed_003_header(number: str | int | None = "5") -> DocumentHeader:
    return DocumentHeader(
        parent_agency="Tổng cục Thi hành án dân sự",
        agency="Cục Thi hành án dân sự\ntỉnh Tuyên Quang",
        number=number,
        symbol="KH-CTHADS",
        place="Tuyên Quang",
        date=date(2024, 1, 5),
    )


def seed_003_plan(header: DocumentHeader | None = None) -> PlanContent:
    """The Tuyên Quang 2024 plan (seed 003), sections I to V, as the lead's mapping would produce it."""
    body, bullet, plus = "body", "bullet", "plus"
    sub, minor = "subheading", "minor_heading"

    def ps(style: str, text: str) -> PlanParagraph:
        return PlanParagraph(text, style)  # type: ignore[arg-type]

    return PlanContent(
        header=header or seed_003_header(),
        title_subject=SUBJECT,
        preamble=[
            "Thực hiện Công văn số 3032/TCTHADS-TKDLCN ngày 15/9/2021 của Tổng cục Thi hành án dân sự về "
            "việc tăng cường các biện pháp tổ chức thi hành án; Kế hoạch công tác năm 2024 của Cục Thi hành "
            "án dân sự tỉnh Tuyên Quang, Cục Thi hành án dân sự (THADS) phát động phong trào thi đua chuyên "
            "đề “Giảm án có điều kiện trên một năm chưa thi hành xong” cụ thể như sau:"
        ],
        sections=[
            PlanSection(
                "I. MỤC ĐÍCH, YÊU CẦU",
                [
                    ps(sub, "1. Mục đích"),
                    ps(body, "Tạo động lực động viên, khuyến khích các tập thể, cá nhân trong các cơ quan "
                       "THADS của tỉnh hăng hái thi đua; phát huy tính năng động, sáng tạo, có giải pháp, "
                       "biện pháp cụ thể đẩy nhanh kết quả giải quyết án có điều kiện trên một năm chưa thi "
                       "hành xong, góp phần nâng cao hiệu quả công tác thi hành án dân sự; lập thành tích "
                       "chào mừng kỷ niệm 78 năm Ngày truyền thống THADS (19/7/1946-19/7/2024)."),
                    ps(sub, "2. Yêu cầu"),
                    ps(body, "Các hoạt động trong phong trào thi đua chuyên đề phải bảo đảm thiết thực, hiệu "
                       "quả; huy động được sự tham gia của các tập thể và cá nhân trong các cơ quan THADS "
                       "của tỉnh, với các sáng kiến, giải pháp hữu hiệu để giảm án có điều kiện trên một năm "
                       "chưa thi hành xong, nhằm thực hiện thắng lợi các chỉ tiêu, nhiệm vụ được giao năm "
                       "2024."),
                ],
            ),
            PlanSection(
                "II. ĐỐI TƯỢNG, PHẠM VI",
                [
                    ps(body, "1. **Đối tượng:** Các tập thể, cá nhân."),
                    ps(body, "2. **Phạm vi:** Trong các cơ quan THADS của tỉnh Tuyên Quang."),
                ],
            ),
            PlanSection(
                "III. NỘI DUNG",
                [
                    ps(body, "1. **Khẩu hiệu:** “Các cơ quan THADS tỉnh Tuyên Quang thi đua giảm án có điều "
                       "kiện trên một năm chưa thi hành xong, lập thành tích chào mừng Kỷ niệm 78 năm Ngày "
                       "truyền thống THADS (19/7/1946-19/7/2024)”."),
                    ps(body, "2. **Thời gian:** Từ ngày 02/01/2024 đến hết ngày 30/6/2024."),
                    ps(sub, "3. Nội dung thi đua"),
                    ps(body, "Các tập thể, cá nhân trong các cơ quan THADS của tỉnh tập trung thực hiện các "
                       "chỉ tiêu, nhiệm vụ năm 2024 theo chức năng, nhiệm vụ được giao, trong đó tập trung "
                       "cao độ cho việc rà soát, đôn đốc, xác minh, phân loại việc thi hành án, việc tổ chức "
                       "thi hành án đối với các việc có điều kiện trên một năm chưa thi hành xong."),
                    ps(body, "Các đơn vị phấn đấu giảm từ 10% trở lên trong tổng số việc có điều kiện trên "
                       "một năm chưa thi hành xong của năm 2023 chuyển sang và số việc có điều kiện trên một "
                       "năm phát sinh trong năm 2024 (*tính đến 30/6/2024*)."),
                ],
            ),
            PlanSection(
                "IV. TỔNG KẾT, KHEN THƯỞNG PHONG TRÀO THI ĐUA CHUYÊN ĐỀ",
                [
                    ps(sub, "1. Tổng kết"),
                    ps(bullet, "Kết thúc phong trào thi đua chuyên đề, các đơn vị xây dựng báo cáo tổng kết "
                       f"gửi Cục THADS **{ON_TIME}**."),
                    ps(bullet, "Cục tổng hợp, xây dựng báo cáo; tổ chức tổng kết phong trào thi đua vào dịp "
                       "kỷ niệm 78 năm ngày Truyền thống THADS (*19/7/1946-19/7/2024*)."),
                    ps(sub, "2. Khen thưởng"),
                    ps(minor, "2.1. Hình thức khen thưởng"),
                    ps(body, "Giấy khen của Cục trưởng Cục THADS."),
                    ps(minor, "2.2. Tiêu chuẩn, điều kiện và chỉ tiêu khen thưởng"),
                    ps(minor, "a) Tiêu chuẩn, điều kiện"),
                    ps(bullet, "Đối với tập thể: Xét, tặng cho tập thể đạt các tiêu chuẩn, điều kiện sau:"),
                    ps(plus, "Lập thành tích xuất sắc trong phong trào thi đua chuyên đề; giảm được số việc "
                       "có điều kiện trên một năm chưa thi hành xong theo chỉ tiêu nội dung thi đua."),
                    ps(plus, "Không có cá nhân thuộc đơn vị vi phạm pháp luật hoặc bị kỷ luật từ hình thức "
                       "“khiển trách” trở lên tính đến thời điểm đề nghị khen thưởng (*từ 01/10/2023 đến "
                       "30/6/2024*)."),
                    ps(bullet, "Đối với cá nhân (*ưu tiên khen thưởng đối với Chấp hành viên*): Xét tặng cho "
                       "cá nhân đạt các tiêu chuẩn, điều kiện sau:"),
                    ps(plus, "Không vi phạm pháp luật hoặc bị kỷ luật từ hình thức “khiển trách” trở lên "
                       "tính đến thời điểm đề nghị khen thưởng (*Từ 01/10/2023 đến 30/6/2024*)."),
                    ps("bold", "Lưu ý: Đối với Thủ trưởng đơn vị phải đạt các tiêu chuẩn, điều kiện của cá "
                       "nhân và tập thể nêu trên."),
                    ps(minor, "b) Chỉ tiêu"),
                    ps(bullet, "Đối với tập thể: Hội đồng thi đua, khen thưởng Cục THADS xét, đề nghị Cục "
                       "trưởng tặng Giấy khen không quá **02** tập thể."),
                    ps(bullet, "Đối với cá nhân: Hội đồng thi đua, khen thưởng Cục THADS xét, đề nghị Cục "
                       "trưởng tặng Giấy khen không quá **03** cá nhân."),
                    ps(sub, "3. Thủ tục hồ sơ và thời hạn nộp hồ sơ đề nghị khen thưởng"),
                    ps(bullet, "Thủ tục hồ sơ gồm có: Tờ trình, danh sách; biên bản; báo cáo thành tích, "
                       "tổng hợp kết quả giảm việc có điều kiện trên một năm của tập thể, cá nhân đề nghị "
                       "khen thưởng."),
                    ps(bullet, f"Thời hạn nộp hồ sơ: Các đơn vị gửi hồ sơ về Cục THADS **{ON_TIME}.**"),
                ],
            ),
            PlanSection(
                "V. TỔ CHỨC THỰC HIỆN",
                [
                    ps(body, "**1.** Giao Phòng Tổ chức cán bộ tham mưu giúp Lãnh đạo Cục và Hội đồng Thi "
                       "đua - Khen thưởng các cơ quan Thi hành án dân sự chỉ đạo, hướng dẫn, kiểm tra, đôn "
                       "đốc việc thực hiện phong trào thi đua chuyên đề."),
                    ps(body, "**2.** Hội đồng thi đua, khen thưởng các cơ quan Thi hành án dân sự bình xét, "
                       "lựa chọn những tập thể, cá nhân có thành tích xuất sắc tiêu biểu trong phong trào "
                       "thi đua chuyên đề trình Cục trưởng quyết định tặng Giấy khen."),
                    ps(body, "**3.** Chánh Văn phòng, Trưởng các phòng chuyên môn thuộc Cục, Chi cục trưởng "
                       "Chi cục THADS các huyện, thành phố tổ chức quán triệt, triển khai thực hiện Kế hoạch "
                       "này đến toàn thể công chức, người lao động của đơn vị."),
                ],
            ),
        ],
        closing=[
            "Trong quá trình thực hiện, nếu có vướng mắc đề nghị liên hệ với Phòng Tổ chức cán bộ để được "
            "hướng dẫn, giải đáp./."
        ],
        signature=SignatureBlock("KT. Cục trưởng", "Phó Cục trưởng", "Phan Thị Mai Thảo"),
        recipients=[
            "Vụ Tổ chức cán bộ - BTP (để b/cáo)",
            "Tổng cục THADS - BTP (để b/cáo)",
            "Ban Thi đua, Khen thưởng tỉnh (để b/cáo)",
            "Cục trưởng;",
            "Các Phó Cục trưởng;",
            "- Hội đồng TĐKT các cơ quan THADS (để thực hiện)",
            "Chi cục THADS các huyện, thành phố (để thực hiện)",
            "Trang thông tin điện tử Cục (đăng tải);",
            "Lưu: VT, TCCB (Nam)",
        ],
    )


# ---------------------------------------------------------------- reading helpers


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_plan(seed_003_plan(), tmp_path_factory.mktemp("plan") / "ke-hoach-05.docx")


@pytest.fixture(scope="module")
def plan(plan_path: Path) -> DocxDocument:
    return Document(str(plan_path))


def cell_paragraphs(table: Table) -> list[Paragraph]:
    return [p for row in table.rows for cell in row.cells for p in cell.paragraphs]


def all_paragraphs(doc: DocxDocument) -> list[Paragraph]:
    out = list(doc.paragraphs)
    for table in doc.tables:
        out += cell_paragraphs(table)
    for section in doc.sections:
        out += section.header.paragraphs + section.first_page_header.paragraphs
    return out


def runs_with(paragraphs: list[Paragraph], text: str) -> list:
    return [r for p in paragraphs for r in p.runs if text in r.text]


def effective_alignment(p: Paragraph) -> object:
    if p.paragraph_format.alignment is not None:
        return p.paragraph_format.alignment
    assert p.style is not None
    return p.style.paragraph_format.alignment


def effective_first_line(p: Paragraph) -> Length | None:
    own = p.paragraph_format.first_line_indent
    if own is not None:
        return own
    assert p.style is not None
    return p.style.paragraph_format.first_line_indent


def mm(length: Length | None) -> float:
    assert length is not None
    return length.mm


def size_pt(run) -> float:  # type: ignore[no-untyped-def]
    return run.font.size.pt


def has_top_border(p: Paragraph) -> bool:
    return p._p.find(f"{qn('w:pPr')}/{qn('w:pBdr')}/{qn('w:top')}") is not None


def rule_length_mm(p: Paragraph, available_mm: float) -> float:
    fmt = p.paragraph_format
    return available_mm - mm(fmt.left_indent) - mm(fmt.right_indent)


# ---------------------------------------------------------------- page and fonts


def test_it_renders_the_plan_on_a4_portrait_within_the_decree_margins(plan: DocxDocument) -> None:
    section = plan.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert abs(mm(section.page_width) - 210) <= 0.5
    assert abs(mm(section.page_height) - 297) <= 0.5
    assert 20 <= round(mm(section.top_margin), 1) <= 25
    assert 20 <= round(mm(section.bottom_margin), 1) <= 25
    assert 30 <= round(mm(section.left_margin), 1) <= 35
    assert 15 <= round(mm(section.right_margin), 1) <= 20


def test_it_sets_times_new_roman_for_every_script_and_no_run_overrides_it(plan: DocxDocument) -> None:
    normal = plan.styles["Normal"]
    assert normal.font.name == TNR
    rfonts = normal.element.rPr.find(qn("w:rFonts"))
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        assert rfonts.get(qn(slot)) == TNR, slot
    path = "/".join(qn(tag) for tag in ("w:docDefaults", "w:rPrDefault", "w:rPr", "w:rFonts"))
    defaults = plan.styles.element.find(path)
    assert defaults.get(qn("w:eastAsia")) == TNR
    assert not [key for key in defaults.attrib if key.endswith("Theme") or key.endswith("theme")]
    assert normal.font.color.rgb is not None and str(normal.font.color.rgb) == "000000"
    assert normal.font.size == Pt(14)
    runs = [r for p in all_paragraphs(plan) for r in p.runs]
    assert len(runs) > 60
    assert all(r.font.name in (None, TNR) for r in runs)
    # Also the raw XML: an rFonts anywhere in the body must name Times New Roman only.
    for element in plan.element.body.iter(qn("w:rFonts")):
        assert set(element.attrib.values()) <= {TNR}


# ---------------------------------------------------------------- header block


def test_the_header_table_carries_the_national_title_and_motto_in_bold(plan: DocxDocument) -> None:
    header = cell_paragraphs(plan.tables[0])
    [title] = runs_with(header, NATIONAL_TITLE)
    assert title.text == NATIONAL_TITLE == NATIONAL_TITLE.upper()
    assert title.bold is True and 12 <= size_pt(title) <= 13
    [motto] = runs_with(header, MOTTO)
    assert motto.text == "Độc lập - Tự do - Hạnh phúc"
    assert motto.bold is True and 13 <= size_pt(motto) <= 14
    right = plan.tables[0].cell(0, 1)
    texts = [p.text for p in right.paragraphs]
    motto_at = texts.index(MOTTO)
    rule = right.paragraphs[motto_at + 1]
    assert rule.text == "" and has_top_border(rule)
    # "as long as the motto": about 60 mm at 14 pt bold.
    assert 50 <= rule_length_mm(rule, mm(right.width) - 2) <= 70


def test_the_agency_is_bold_capitals_under_a_plain_parent_with_a_short_rule(plan: DocxDocument) -> None:
    left = plan.tables[0].cell(0, 0)
    [parent] = runs_with(left.paragraphs, "TỔNG CỤC THI HÀNH ÁN DÂN SỰ")
    assert not parent.bold and 12 <= size_pt(parent) <= 13
    # The forced break of "Cục ...\ntỉnh ..." is a <w:br/>, which python-docx reads back as "\n".
    [agency_p] = [p for p in left.paragraphs if "TỈNH TUYÊN QUANG" in p.text]
    assert agency_p.text == "CỤC THI HÀNH ÁN DÂN SỰ\nTỈNH TUYÊN QUANG"
    agency = agency_p.runs
    assert all(r.bold and r.text == r.text.upper() for r in agency)
    rule = left.paragraphs[-1]
    assert rule.text == "" and has_top_border(rule)
    # A third to a half of the agency's longest line (about 60 mm at 13 pt bold).
    assert 18 <= rule_length_mm(rule, mm(left.width) - 2) <= 32


def test_it_pads_a_number_below_ten_with_a_zero(plan: DocxDocument) -> None:
    number = plan.tables[0].cell(1, 0).paragraphs[0]
    assert number.text == "Số: 05/KH-CTHADS"
    assert all(size_pt(r) == 13 for r in number.runs)
    assert seed_003_header(12).number_line() == "Số: 12/KH-CTHADS"
    assert seed_003_header(7).number_line() == "Số: 07/KH-CTHADS"


def test_a_draft_without_a_number_keeps_the_blank_before_the_symbol(tmp_path: Path) -> None:
    path = render_plan(seed_003_plan(seed_003_header(number=None)), tmp_path / "draft.docx")
    text = Document(str(path)).tables[0].cell(1, 0).paragraphs[0].text
    assert text.startswith("Số:") and text.endswith("/KH-CTHADS")
    assert text == "Số:      /KH-CTHADS"
    assert not any(ch.isdigit() for ch in text)


def test_the_place_and_date_line_is_italic_with_leading_zeros(plan: DocxDocument) -> None:
    p = plan.tables[0].cell(1, 1).paragraphs[0]
    assert p.text == "Tuyên Quang, ngày 05 tháng 01 năm 2024"
    assert p.runs and all(r.italic for r in p.runs)
    assert effective_alignment(p) == WD_ALIGN_PARAGRAPH.CENTER


# ---------------------------------------------------------------- body


def test_the_title_is_bold_centred_capitals_with_the_subject_under_it(plan: DocxDocument) -> None:
    texts = [p.text for p in plan.paragraphs]
    title = plan.paragraphs[texts.index("KẾ HOẠCH")]
    assert effective_alignment(title) == WD_ALIGN_PARAGRAPH.CENTER
    assert all(r.bold for r in title.runs)
    subject = plan.paragraphs[texts.index("KẾ HOẠCH") + 1]
    assert subject.text == SUBJECT
    assert effective_alignment(subject) == WD_ALIGN_PARAGRAPH.CENTER
    assert all(r.bold for r in subject.runs)
    assert has_top_border(plan.paragraphs[texts.index("KẾ HOẠCH") + 2])


def test_body_paragraphs_are_justified_with_a_first_line_indent(plan: DocxDocument) -> None:
    body = [p for p in plan.paragraphs if p.text.strip() and p.text not in ("KẾ HOẠCH", SUBJECT)]
    assert len(body) >= 35
    for p in body:
        assert effective_alignment(p) == WD_ALIGN_PARAGRAPH.JUSTIFY, p.text
        indent = effective_first_line(p)
        assert indent is not None and abs(indent - Cm(1.27)) < Mm(0.1), p.text
    assert plan.styles["Normal"].paragraph_format.space_after == Pt(6)


def test_sections_appear_in_order_with_bold_headings_and_dash_items(plan: DocxDocument) -> None:
    texts = [p.text for p in plan.paragraphs]
    headings = [
        "I. MỤC ĐÍCH, YÊU CẦU",
        "II. ĐỐI TƯỢNG, PHẠM VI",
        "III. NỘI DUNG",
        "IV. TỔNG KẾT, KHEN THƯỞNG PHONG TRÀO THI ĐUA CHUYÊN ĐỀ",
        "V. TỔ CHỨC THỰC HIỆN",
    ]
    positions = [texts.index(h) for h in headings]
    assert positions == sorted(positions)
    for index in positions:
        assert all(r.bold for r in plan.paragraphs[index].runs)
    minor = plan.paragraphs[texts.index("2.1. Hình thức khen thưởng")]
    assert all(r.bold and r.italic for r in minor.runs)
    assert sum(t.startswith("- ") for t in texts) == 8
    assert sum(t.startswith("+ ") for t in texts) == 3
    assert not any(t.startswith("- - ") for t in texts)


def test_inline_markup_becomes_bold_and_italic_runs(plan: DocxDocument) -> None:
    deadline = runs_with(plan.paragraphs, ON_TIME)
    assert len(deadline) == 2 and all(r.bold for r in deadline)
    [label] = runs_with(plan.paragraphs, "Đối tượng:")
    assert label.bold and label.text == "Đối tượng:"
    [until] = runs_with(plan.paragraphs, "tính đến 30/6/2024")
    assert until.italic and not until.bold
    assert "**" not in "".join(p.text for p in plan.paragraphs)
    assert parse_inline(r"a **b** *c* ***d*** 5 \* 3") == [
        Run("a "), Run("b", bold=True), Run(" "), Run("c", italic=True), Run(" "),
        Run("d", bold=True, italic=True), Run(" 5 * 3"),
    ]


# ---------------------------------------------------------------- signature and recipients


def test_the_signature_block_sits_bottom_right_with_bold_capitals_and_name(plan: DocxDocument) -> None:
    last = plan.tables[-1]
    assert last is not plan.tables[0]
    right = last.cell(0, 1).paragraphs
    assert [p.text for p in right] == ["KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo"]
    for p in right:
        assert effective_alignment(p) == WD_ALIGN_PARAGRAPH.CENTER
        assert p.runs and all(r.bold for r in p.runs)
    # Room for the signature and seal above the name.
    assert right[-1].paragraph_format.space_before >= Pt(48)
    borders = last._tbl.tblPr.find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"nil"}


def test_the_recipients_list_is_bottom_left_with_decree_punctuation(plan: DocxDocument) -> None:
    left = plan.tables[-1].cell(0, 0).paragraphs
    heading, *items = left
    assert heading.text == "Nơi nhận:"
    assert all(r.bold and r.italic and size_pt(r) == 12 for r in heading.runs)
    assert len(items) == 9
    assert all(r.font.size == Pt(11) for p in items for r in p.runs)
    assert items[0].text == "- Vụ Tổ chức cán bộ - BTP (để b/cáo);"
    assert items[5].text == "- Hội đồng TĐKT các cơ quan THADS (để thực hiện);"
    assert items[-1].text == "- Lưu: VT, TCCB (Nam)."
    assert all(p.text.startswith("- ") and p.text.endswith(";") for p in items[:-1])
    assert all(effective_alignment(p) == WD_ALIGN_PARAGRAPH.LEFT for p in left)


# ---------------------------------------------------------------- page numbers, text, file


def test_page_numbers_are_a_page_field_in_the_header_hidden_on_the_first_page(plan: DocxDocument) -> None:
    section = plan.sections[0]
    assert section.different_first_page_header_footer is True
    assert section._sectPr.find(qn("w:titlePg")) is not None
    assert not section.header.is_linked_to_previous
    instr = [i.text for i in section.header._element.iter(qn("w:instrText"))]
    assert [t.strip() for t in instr] == ["PAGE"]
    kinds = [c.get(qn("w:fldCharType")) for c in section.header._element.iter(qn("w:fldChar"))]
    assert kinds == ["begin", "separate", "end"]
    [p] = [p for p in section.header.paragraphs if p.runs]
    assert effective_alignment(p) == WD_ALIGN_PARAGRAPH.CENTER
    assert not section.first_page_header.is_linked_to_previous
    assert not list(section.first_page_header._element.iter(qn("w:instrText")))
    assert not "".join(p.text for p in section.first_page_header.paragraphs).strip()


def test_decomposed_vietnamese_input_comes_back_composed(tmp_path: Path) -> None:
    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    header = DocumentHeader(
        nfd("Tổng cục Thi hành án dân sự"), nfd("Cục Thi hành án dân sự tỉnh Tuyên Quang"),
        "1", "KH-CTHADS", nfd("Tuyên Quang"), date(2024, 2, 9),
    )
    words = "Hội đồng thi đua, khen thưởng xét tặng Giấy khen cho Chấp hành viên Nguyễn Thị Hường."
    assert nfd(words) != words
    path = (
        Decree30Document(header).title(nfd("kế hoạch")).subject(nfd("Thi đua chuyên đề"))
        .paragraph(nfd(words))
        .signature(SignatureBlock(None, nfd("Cục trưởng"), nfd("Đặng Văn Lưu")), [nfd("Lưu: VT")])
        .save(tmp_path / "nfd.docx")
    )
    doc = Document(str(path))
    texts = [p.text for p in all_paragraphs(doc)]
    assert all(t == unicodedata.normalize("NFC", t) for t in texts)
    assert words in texts and "KẾ HOẠCH" in texts and "Đặng Văn Lưu" in texts
    assert "Tuyên Quang, ngày 09 tháng 02 năm 2024" in texts
    assert "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" in texts
    assert doc.core_properties.author == "Cục Thi hành án dân sự tỉnh Tuyên Quang"


def test_regenerating_the_same_plan_gives_the_same_bytes_and_dated_properties(
    tmp_path: Path, plan_path: Path
) -> None:
    again = render_plan(seed_003_plan(), tmp_path / "again.docx")
    assert again.read_bytes() == plan_path.read_bytes()
    props = Document(str(again)).core_properties
    assert props.created is not None and props.created.date() == date(2024, 1, 5)
    assert props.modified is not None and props.modified.date() == date(2024, 1, 5)
    assert props.author == "Cục Thi hành án dân sự tỉnh Tuyên Quang"
    assert props.title == f"KẾ HOẠCH {SUBJECT}"
    changed = render_plan(seed_003_plan(seed_003_header(number=6)), tmp_path / "changed.docx")
    assert changed.read_bytes() != plan_path.read_bytes()


def test_it_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "ke-hoach.docx"
    target.write_bytes(b"old draft")
    assert render_plan(seed_003_plan(), target) == target
    assert Document(str(target)).tables
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ke-hoach.docx"]


def test_it_rejects_a_plan_without_sections_and_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "ke-hoach.docx"
    target.write_bytes(b"old draft")
    content = seed_003_plan()
    empty = PlanContent(content.header, content.title_subject, content.preamble, [], content.signature,
                        content.recipients)
    with pytest.raises(ValueError, match="ít nhất một mục"):
        render_plan(empty, target)
    assert target.read_bytes() == b"old draft"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ke-hoach.docx"]


# ---------------------------------------------------------------- reuse: decisions and report tables


def test_decision_parts_render_legal_basis_in_italics_and_articles_in_bold(tmp_path: Path) -> None:
    header = DocumentHeader("Tổng cục Thi hành án dân sự", "Cục Thi hành án dân sự tỉnh Tuyên Quang", 3,
                            "QĐ-CTHADS", "Tuyên Quang", date(2024, 7, 19))
    path = (
        Decree30Document(header).title("Quyết định").subject("Về việc tặng Giấy khen")
        .centered("CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG")
        .legal_basis([
            "Căn cứ Luật Thi đua, khen thưởng ngày 15 tháng 6 năm 2022;",
            "Căn cứ Nghị định số 98/2023/NĐ-CP ngày 31 tháng 12 năm 2023 của Chính phủ",
            "Theo đề nghị của Trưởng phòng Tổ chức cán bộ.",
        ])
        .centered("QUYẾT ĐỊNH:")
        .article(1, "Tặng Giấy khen cho 02 tập thể và 03 cá nhân.")
        .save(tmp_path / "qd.docx")
    )
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert doc.tables[0].cell(1, 0).paragraphs[0].text == "Số: 03/QĐ-CTHADS"
    assert "Tuyên Quang, ngày 19 tháng 7 năm 2024" in [p.text for p in cell_paragraphs(doc.tables[0])]
    basis = [p for p in doc.paragraphs if p.text.startswith(("Căn cứ", "Theo đề nghị"))]
    assert [p.text[-1] for p in basis] == [";", ";", "."]
    assert all(r.italic for p in basis for r in p.runs)
    decide = doc.paragraphs[texts.index("QUYẾT ĐỊNH:")]
    assert effective_alignment(decide) == WD_ALIGN_PARAGRAPH.CENTER and all(r.bold for r in decide.runs)
    article = doc.paragraphs[texts.index("Điều 1. Tặng Giấy khen cho 02 tập thể và 03 cá nhân.")]
    assert article.runs[0].text == "Điều 1. " and article.runs[0].bold
    assert not article.runs[1].bold


def test_the_report_table_has_a_bold_repeating_header_and_borders(tmp_path: Path) -> None:
    header = seed_003_header()
    rows: list[list[object]] = [
        [1, "Chi cục THADS huyện Yên Sơn", "12,50%"],
        [2, "Chi cục THADS huyện Sơn Dương", "9,80%"],
        ["", "Tổng", "11,02%"],
    ]
    path = (
        Decree30Document(header).title("Báo cáo").subject("Kết quả giảm án có điều kiện trên một năm")
        .table(["TT", "Đơn vị", "Tỷ lệ giảm"], rows, widths_mm=[15, 110, 40],
               align=["center", "left", "right"], bold_rows={2})
        .save(tmp_path / "bc.docx")
    )
    table = Document(str(path)).tables[1]
    assert [c.text for c in table.rows[0].cells] == ["TT", "Đơn vị", "Tỷ lệ giảm"]
    assert all(r.bold for c in table.rows[0].cells for p in c.paragraphs for r in p.runs)
    tr_pr = table.rows[0]._tr.trPr
    assert tr_pr is not None and tr_pr.find(qn("w:tblHeader")) is not None
    assert [c.text for c in table.rows[3].cells] == ["", "Tổng", "11,02%"]
    assert all(r.bold for c in table.rows[3].cells for p in c.paragraphs for r in p.runs)
    assert not any(r.bold for c in table.rows[1].cells for p in c.paragraphs for r in p.runs)
    assert table.rows[1].cells[2].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    assert {b.get(qn("w:val")) for b in borders} == {"single"}
    assert round(mm(table.columns[1].width)) == 110
    with pytest.raises(ValueError, match="số cột"):
        Decree30Document(header).table(["TT", "Đơn vị"], [[1]])


def test_it_refuses_a_layout_outside_the_decree_ranges() -> None:
    with pytest.raises(ValueError, match="lề trái"):
        Layout(margin_left_mm=25)
    with pytest.raises(ValueError, match="cỡ chữ nội dung"):
        Layout(body_pt=12)
    assert Layout(margin_top_mm=25, margin_right_mm=20).body_width_mm == 210 - 30 - 20
