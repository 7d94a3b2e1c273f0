"""Award documents read back: the decision (python-docx, Decree 30 layout), certificate (pypdf), proposal."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.text.paragraph import Paragraph
from pypdf import PdfReader

from thidua.notifications.documents.certificate import CertificateContent, certificate_pdf, render_certificate
from thidua.notifications.documents.decision import (
    Awardee,
    DecisionContent,
    decision_legal_basis,
    plan_clause,
    render_decision,
)
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.documents.proposal import (
    Nominee,
    ProposalContent,
    render_proposal,
    render_proposal_list,
)

PLAN = plan_clause(
    None,
    date(2024, 1, 5),
    "Cục Thi hành án dân sự tỉnh Tuyên Quang",
    "Phát động phong trào thi đua chuyên đề “Giảm án có điều kiện trên một năm chưa thi hành xong”",
)
SIGNER = SignatureBlock("KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo")
DECOMPOSED_NAME = unicodedata.normalize("NFD", "Nguyễn Công Việt")


def decision_content(number: int = 5, decided_on: date = date(2024, 7, 19)) -> DecisionContent:
    awardees = [
        Awardee(
            "collective", "Chi cục Thi hành án dân sự thành phố Tuyên Quang", "Cục THADS tỉnh", 1_410_000
        ),
        Awardee("collective", "Chi cục Thi hành án dân sự huyện Na Hang", "Cục THADS tỉnh", 1_410_000),
        Awardee("individual", "Bùi Thị Hồng Dịu", "Chi cục THADS huyện Hàm Yên", 710_000, "Chấp hành viên"),
        Awardee("individual", "Trần Minh Duy", "Chi cục THADS huyện Chiêm Hóa", 710_000, "Chi cục trưởng"),
        Awardee("individual", DECOMPOSED_NAME, "Chi cục THADS huyện Yên Sơn", 710_000, "Chấp hành viên"),
    ]
    return DecisionContent(
        header=DocumentHeader(
            parent_agency="TỔNG CỤC THI HÀNH ÁN DÂN SỰ",
            agency="CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG",
            number=number,
            symbol="QĐ-CTHADS",
            place="Tuyên Quang",
            date=decided_on,
        ),
        form_name="Giấy khen",
        authority_title="Cục trưởng Cục Thi hành án dân sự tỉnh Tuyên Quang",
        authority_name="Cục trưởng Cục THADS tỉnh Tuyên Quang",
        achievement="phong trào thi đua chuyên đề “Giảm án có điều kiện trên một năm chưa thi hành xong”",
        legal_basis=decision_legal_basis(decided_on, PLAN),
        proposal="Theo đề nghị của Hội đồng Thi đua - Khen thưởng các cơ quan THADS tỉnh Tuyên Quang",
        awardees=awardees,
        collective_multiplier=Decimal("0.6"),
        individual_multiplier=Decimal("0.3"),
        base_salary=2_340_000,
        base_salary_source="Nghị định số 73/2024/NĐ-CP ngày 30/6/2024 của Chính phủ",
        fund_owner="Cục Thi hành án dân sự tỉnh Tuyên Quang",
        signature=SIGNER,
        recipients=["Như Điều 3", "Hội đồng TĐKT các cơ quan THADS", "Lưu: VT, TCCB"],
    )


@pytest.fixture(scope="module")
def decision_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_decision(decision_content(), tmp_path_factory.mktemp("qd") / "quyet-dinh.docx")


@pytest.fixture(scope="module")
def decision(decision_path: Path) -> DocxDocument:
    return Document(str(decision_path))


def body(doc: DocxDocument) -> list[Paragraph]:
    return list(doc.paragraphs)


def find(doc: DocxDocument, start: str) -> Paragraph:
    found = [p for p in doc.paragraphs if p.text.startswith(start)]
    assert found, f"no paragraph starts with {start!r}"
    return found[0]


# ---------------------------------------------------------------- the decision


def test_the_decision_is_a4_portrait_within_the_decree_margins(decision: DocxDocument) -> None:
    section = decision.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert section.page_width is not None and abs(section.page_width.mm - 210) <= 0.5
    assert section.page_height is not None and abs(section.page_height.mm - 297) <= 0.5
    assert section.top_margin is not None and 20 <= round(section.top_margin.mm, 1) <= 25
    assert section.bottom_margin is not None and 20 <= round(section.bottom_margin.mm, 1) <= 25
    assert section.left_margin is not None and 30 <= round(section.left_margin.mm, 1) <= 35
    assert section.right_margin is not None and 15 <= round(section.right_margin.mm, 1) <= 20


def test_the_number_line_has_a_leading_zero_beside_the_italic_place_and_date(decision: DocxDocument) -> None:
    header = decision.tables[0]
    assert header.cell(1, 0).paragraphs[0].text == "Số: 05/QĐ-CTHADS"
    place = header.cell(1, 1).paragraphs[0]
    assert place.text == "Tuyên Quang, ngày 19 tháng 7 năm 2024"
    assert place.runs and all(r.italic for r in place.runs)
    agency = [p.text for p in header.cell(0, 0).paragraphs if p.text]
    assert agency == ["TỔNG CỤC THI HÀNH ÁN DÂN SỰ", "CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG"]


def test_title_subject_and_authority_line_are_bold_and_centred(decision: DocxDocument) -> None:
    texts = [p.text for p in body(decision)]
    title = find(decision, "QUYẾT ĐỊNH")
    assert title.text == "QUYẾT ĐỊNH" and all(r.bold for r in title.runs)
    subject = find(decision, "Về việc tặng Giấy khen")
    assert all(r.bold for r in subject.runs)
    assert "“Giảm án có điều kiện trên một năm chưa thi hành xong”" in subject.text
    authority = find(decision, "CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG")
    assert all(r.bold for r in authority.runs)
    assert texts.index(title.text) < texts.index(subject.text) < texts.index(authority.text)


def test_legal_basis_clauses_are_italic_with_the_decree_of_the_decision_date(decision: DocxDocument) -> None:
    clauses = [p for p in body(decision) if p.text.startswith(("Căn cứ", "Theo đề nghị"))]
    assert [c.text.split(" ")[0:2] for c in clauses][:3] == [["Căn", "cứ"]] * 3
    assert all(r.italic for c in clauses for r in c.runs)
    assert clauses[0].text == "Căn cứ Luật Thi đua, khen thưởng ngày 15 tháng 6 năm 2022;"
    assert "Nghị định số 98/2023/NĐ-CP" in clauses[1].text and clauses[1].text.endswith(";")
    assert clauses[2].text.startswith("Căn cứ Kế hoạch ngày 05/01/2024 của Cục Thi hành án dân sự tỉnh")
    assert "phát động phong trào thi đua chuyên đề" in clauses[2].text
    assert clauses[3].text.startswith("Theo đề nghị của Hội đồng") and clauses[3].text.endswith(".")
    after = decision_legal_basis(date(2025, 7, 1), PLAN)[1]
    before = decision_legal_basis(date(2025, 6, 30), PLAN)[1]
    assert "152/2025/NĐ-CP" in after and "98/2023/NĐ-CP" in before


def test_articles_say_who_is_awarded_the_money_and_the_effect(decision: DocxDocument) -> None:
    texts = [p.text for p in body(decision)]
    assert "QUYẾT ĐỊNH:" in texts
    article_1 = find(decision, "Điều 1.")
    assert article_1.runs[0].text == "Điều 1. " and article_1.runs[0].bold
    assert "Tặng Giấy khen cho 02 tập thể và 03 cá nhân có tên trong danh sách kèm theo" in article_1.text
    article_2 = find(decision, "Điều 2.").text
    assert "1.410.000 đồng (Một triệu bốn trăm mười nghìn đồng)" in article_2
    assert "710.000 đồng (Bảy trăm mười nghìn đồng)" in article_2
    assert "Tổng số tiền thưởng: 4.950.000 đồng (Bốn triệu chín trăm năm mươi nghìn đồng)" in article_2
    assert "0,3 lần mức lương cơ sở" in article_2 and "2.340.000 đồng" in article_2
    assert find(decision, "Điều 3.").text.endswith("chịu trách nhiệm thi hành Quyết định này./.")
    assert texts.index("QUYẾT ĐỊNH:") < texts.index(article_1.text)


def test_the_signer_is_bold_and_the_recipients_are_listed(decision: DocxDocument) -> None:
    signature = decision.tables[1]
    right = [p for p in signature.cell(0, 1).paragraphs if p.text]
    assert [p.text for p in right] == ["KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo"]
    assert all(r.bold for p in right for r in p.runs)
    left = [p.text for p in signature.cell(0, 0).paragraphs]
    assert left == ["Nơi nhận:", "- Như Điều 3;", "- Hội đồng TĐKT các cơ quan THADS;", "- Lưu: VT, TCCB."]


def test_the_attached_list_tables_every_awardee_with_the_amount_and_total(decision: DocxDocument) -> None:
    caption = find(decision, "(Kèm theo Quyết định số 05/QĐ-CTHADS ngày 19/07/2024")
    assert all(r.italic for r in caption.runs)
    table = decision.tables[2]
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert rows[0] == ["STT", "Tên tập thể, cá nhân", "Đơn vị", "Số tiền (đồng)"]
    assert rows[1][:2] == ["I", "Tập thể"] and rows[4][:2] == ["II", "Cá nhân"]
    assert rows[2] == ["1", "Chi cục Thi hành án dân sự thành phố Tuyên Quang", "Cục THADS tỉnh", "1.410.000"]
    # Names arrive NFD from a spreadsheet; the document holds them NFC.
    assert rows[7] == ["3", "Nguyễn Công Việt, Chấp hành viên", "Chi cục THADS huyện Yên Sơn", "710.000"]
    assert rows[-1] == ["", "Tổng cộng", "", "4.950.000"]
    assert all(r.bold for r in table.rows[-1].cells[1].paragraphs[0].runs)


def test_rendering_the_same_decision_twice_gives_the_same_bytes(decision_path: Path, tmp_path: Path) -> None:
    again = render_decision(decision_content(), tmp_path / "again.docx")
    assert again.read_bytes() == decision_path.read_bytes()


def test_a_decision_without_awardees_is_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="ít nhất một"):
        render_decision(replace(decision_content(), awardees=[]), tmp_path / "empty.docx")


# ---------------------------------------------------------------- the certificate


def certificate(name: str = DECOMPOSED_NAME) -> CertificateContent:
    return CertificateContent(
        form_title="GIẤY KHEN",
        authority_title="CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG",
        recipient=name,
        recipient_detail="Chấp hành viên, Chi cục Thi hành án dân sự huyện Yên Sơn",
        achievement="Đã có thành tích xuất sắc trong phong trào thi đua chuyên đề “Giảm án có điều kiện "
        "trên một năm chưa thi hành xong”",
        decision_ref="05/QĐ-CTHADS",
        decided_on=date(2024, 7, 19),
        place="Tuyên Quang",
        signature=SIGNER,
    )


def test_a_certificate_is_one_landscape_a4_page_with_the_awardees_name(tmp_path: Path) -> None:
    path = render_certificate(certificate(), tmp_path / "gk" / "individual-TQ-YS-05.pdf")
    reader = PdfReader(str(path))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert round(float(box.width)) == 842 and round(float(box.height)) == 595
    text = unicodedata.normalize("NFC", reader.pages[0].extract_text())
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "GIẤY KHEN",
        "CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG",
        "Tặng",
        "Nguyễn Công Việt",
        "Chấp hành viên, Chi cục Thi hành án dân sự huyện Yên Sơn",
        "Quyết định số 05/QĐ-CTHADS",
        "Tuyên Quang, ngày 19 tháng 7 năm 2024",
        "Phan Thị Mai Thảo",
    ):
        assert expected in text, expected
    assert str(reader.metadata.get("/CreationDate", "")).startswith("D:20240719")  # type: ignore[union-attr]


def test_the_same_certificate_gives_the_same_bytes_and_another_name_does_not() -> None:
    assert certificate_pdf(certificate()) == certificate_pdf(certificate())
    assert certificate_pdf(certificate()) != certificate_pdf(certificate("Trần Minh Duy"))


# ---------------------------------------------------------------- the proposal package


def proposal() -> ProposalContent:
    return ProposalContent(
        header=DocumentHeader(
            "BỘ TƯ PHÁP", "CỤC QUẢN LÝ THI HÀNH ÁN DÂN SỰ", 1, "TTr-CQL", "Hà Nội", date(2026, 6, 25)
        ),
        form_name="Bằng khen",
        award_name="Bằng khen của Bộ trưởng Bộ Tư pháp",
        addressee="Bộ trưởng Bộ Tư pháp",
        proposer="Cục Quản lý thi hành án dân sự",
        council="Hội đồng Thi đua - Khen thưởng Cục Quản lý THADS",
        meeting_date=date(2026, 6, 22),
        achievement="phong trào thi đua theo đợt “Lập thành tích xuất sắc chào mừng 80 năm”",
        legal_basis=decision_legal_basis(date(2026, 6, 25), "Căn cứ Kế hoạch số 1058/KH-BTP ngày 25/02/2026"),
        nominees=[
            Nominee("collective", "Thi hành án dân sự tỉnh An Giang", "", approve=8, members=9),
            Nominee(
                "individual", "Lê Văn Bình", "Thi hành án dân sự tỉnh An Giang", "Chấp hành viên", None, 9, 9
            ),
        ],
        attachments=["Danh sách", "Biên bản họp Hội đồng ngày 22/06/2026", "Báo cáo thành tích"],
        signature=SignatureBlock(None, "CỤC TRƯỞNG", "Đào Duy Hậu"),
        recipients=["Như trên", "Lưu: VT"],
    )


def test_the_proposal_letter_is_a_to_trinh_to_the_minister(tmp_path: Path) -> None:
    doc = Document(str(render_proposal(proposal(), tmp_path / "to-trinh.docx")))
    assert doc.tables[0].cell(1, 0).paragraphs[0].text == "Số: 01/TTr-CQL"
    texts = [p.text for p in doc.paragraphs]
    assert "TỜ TRÌNH" in texts
    assert "Về việc đề nghị tặng Bằng khen của Bộ trưởng Bộ Tư pháp" in texts
    assert "Kính gửi: Bộ trưởng Bộ Tư pháp." in texts
    ask = next(t for t in texts if t.startswith("Cục Quản lý thi hành án dân sự kính trình"))
    assert "tặng Bằng khen của Bộ trưởng Bộ Tư pháp cho 01 tập thể và 01 cá nhân" in ask
    assert any(t.startswith("Ngày 22/06/2026, Hội đồng Thi đua - Khen thưởng") for t in texts)
    assert "- Biên bản họp Hội đồng ngày 22/06/2026;" in texts
    signer = [p.text for p in doc.tables[1].cell(0, 1).paragraphs if p.text]
    assert signer == ["CỤC TRƯỞNG", "Đào Duy Hậu"]


def test_the_proposal_list_tables_nominees_with_votes_and_quotes_the_to_trinh(tmp_path: Path) -> None:
    doc = Document(str(render_proposal_list(proposal(), tmp_path / "danh-sach.docx")))
    assert doc.tables[0].cell(1, 0).paragraphs[0].text == ""  # the list has no number of its own
    texts = [p.text for p in doc.paragraphs]
    assert "DANH SÁCH" in texts
    assert "(Kèm theo Tờ trình số 01/TTr-CQL ngày 25/06/2026 của Cục Quản lý thi hành án dân sự)" in texts
    rows = [[c.text for c in row.cells] for row in doc.tables[1].rows]
    assert rows[0] == ["STT", "Tên tập thể, cá nhân", "Đơn vị", "Thành tích", "Số phiếu đồng ý"]
    assert rows[2][1] == "Thi hành án dân sự tỉnh An Giang" and rows[2][4] == "8/9"
    assert rows[4][1:3] == ["Lê Văn Bình, Chấp hành viên", "Thi hành án dân sự tỉnh An Giang"]
