"""The minutes of a council meeting, "Biên bản họp Hội đồng Thi đua – Khen thưởng", in the Decree 30 layout.

The council task maps a closed meeting to `MinutesContent` (plain data: attendance, the quorum,
the tallies per nominee, the selections with their reasons, the chair's decisions on ties); `render_minutes`
writes the DOCX. Nothing here ever receives a member's choice: the ballot is secret by schema, and the
minutes carry the tallies only.

Minutes are signed by two people, the secretary (left) and the chair (right). Decree30Document's signature
block has one signer beside the "Nơi nhận" list, so the two-column signature row is built here, with the same
type sizes and a borderless table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import _Cell

from thidua.models.text import nfc
from thidua.notifications.documents.decree30 import Decree30Document, DocumentHeader, Layout, Run

MINUTES_TITLE = "BIÊN BẢN"
VOTE_HEADER = ("STT", "Tên", "Đơn vị", "Hình thức", "Đồng ý", "Không đồng ý", "Không ý kiến", "Kết quả")
ATTENDANCE_HEADER = ("STT", "Họ và tên", "Chức vụ", "Nhiệm vụ trong Hội đồng", "Tham dự")


@dataclass(frozen=True)
class MinutesMember:
    name: str
    title: str  # "Phó Cục trưởng"
    role: str  # "Chủ tịch", "Phó Chủ tịch", "Thư ký", "Ủy viên"
    present: bool
    written: bool = False  # absent, sent written ballots


@dataclass(frozen=True)
class MinutesVote:
    name: str
    unit: str
    award: str  # "Giấy khen – cá nhân"
    approve: int
    reject: int
    abstain: int
    result: str  # "Được chọn", "Vượt chỉ tiêu", ...


@dataclass(frozen=True)
class MinutesGroup:
    """The selection of one award type and subject kind: a heading and (nominee, explanation) items."""

    heading: str
    items: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Signer:
    role: str  # "THƯ KÝ HỘI ĐỒNG", "CHỦ TỊCH HỘI ĐỒNG"
    name: str


@dataclass(frozen=True)
class MinutesContent:
    header: DocumentHeader
    subject: str
    opening: str  # "Vào hồi 08 giờ 30 phút, ngày 10 tháng 7 năm 2024, tại ..."
    members: Sequence[MinutesMember]
    quorum_met: bool
    quorum_text: str
    voting_rule: str
    chair: Signer
    secretary: Signer
    votes: Sequence[MinutesVote] = ()
    groups: Sequence[MinutesGroup] = ()
    decisions: Sequence[str] = ()  # the chair's decisions on ties, each with its reason
    pending: Sequence[str] = ()  # ties still waiting for the chair
    closing: str = ""
    layout: Layout = field(default_factory=Layout)
    declined: Sequence[str] = ()  # units that declared they propose nobody ("<name> (<code>): không đề nghị")


def attendance_line(members: Sequence[MinutesMember]) -> str:
    present = sum(1 for m in members if m.present)
    absent = len(members) - present
    written = sum(1 for m in members if not m.present and m.written)
    return (
        f"Tổng số thành viên Hội đồng: {len(members)}; có mặt: {present}; vắng mặt: {absent}"
        f" (gửi phiếu bằng văn bản: {written})."
    )


def build_minutes(content: MinutesContent) -> Decree30Document:
    if not content.members:
        raise ValueError("biên bản thiếu danh sách thành viên Hội đồng")
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(MINUTES_TITLE).subject(content.subject)
    doc.paragraph(content.opening)

    doc.heading("I. THÀNH PHẦN THAM DỰ")
    doc.paragraph(attendance_line(content.members))
    rows = [
        [
            i,
            m.name,
            m.title,
            m.role,
            "Có mặt" if m.present else ("Vắng (có phiếu bằng văn bản)" if m.written else "Vắng"),
        ]
        for i, m in enumerate(content.members, start=1)
    ]
    doc.table(
        ATTENDANCE_HEADER,
        rows,
        widths_mm=[11, 48, 40, 34, 32],
        align=["center", "left", "left", "left", "center"],
    )
    doc.paragraph(content.quorum_text)

    doc.heading("II. NỘI DUNG")
    doc.paragraph(content.voting_rule)
    if content.declined:
        doc.paragraph(f"Có {len(content.declined)} đơn vị báo không đề nghị khen thưởng:")
        for line in content.declined:
            doc.bullet(f"{line}.")
    if not content.quorum_met:
        doc.paragraph(
            "Hội đồng không tiến hành bỏ phiếu; việc xét khen thưởng được chuyển sang cuộc họp khác."
        )
    else:
        doc.subheading("1. Kết quả bỏ phiếu kín")
        if content.votes:
            vote_rows = [
                [i, v.name, v.unit, v.award, v.approve, v.reject, v.abstain, v.result]
                for i, v in enumerate(content.votes, start=1)
            ]
            doc.table(
                VOTE_HEADER,
                vote_rows,
                widths_mm=[10, 34, 30, 25, 15, 17, 16, 18],
                align=["center", "left", "left", "left", "center", "center", "center", "left"],
                font_pt=11,
            )
        else:
            doc.paragraph("Không có đề nghị nào đủ điều kiện đưa ra Hội đồng xét.")
        doc.subheading("2. Kết quả xét chọn trong chỉ tiêu")
        for group in content.groups:
            doc.subheading(group.heading, italic=True)
            for name, explanation in group.items:
                doc.bullet([Run(f"{name}: ", bold=True), Run(explanation)])
        if content.decisions:
            doc.subheading("3. Quyết định của Chủ tịch Hội đồng đối với trường hợp bằng nhau")
            for text in content.decisions:
                doc.bullet(text)
        if content.pending:
            doc.paragraph(
                "Các trường hợp bằng nhau tại giới hạn chỉ tiêu sau đây chờ Chủ tịch Hội đồng quyết định:",
                italic=True,
            )
            for text in content.pending:
                doc.bullet(text)
    if content.closing:
        doc.paragraph(content.closing)
    _two_signatures(doc, content.secretary, content.chair)
    return doc


def render_minutes(content: MinutesContent, path: Path) -> Path:
    """Write the minutes DOCX to `path` (atomically, same bytes for the same content)."""
    return build_minutes(content).save(path)


# ---------------------------------------------------------------- the two-column signature row


def _no_borders(table_element: object) -> None:
    tbl_pr = table_element.tblPr  # type: ignore[attr-defined]
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "nil")
        borders.append(edge)
    for old in tbl_pr.findall(qn("w:tblBorders")):
        tbl_pr.remove(old)
    # tblBorders comes after tblW/jc/tblInd and before tblLayout/tblCellMar/tblLook in the schema.
    later = {qn(t) for t in ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook")}
    for index, child in enumerate(tbl_pr):
        if child.tag in later:
            tbl_pr.insert(index, borders)
            return
    tbl_pr.append(borders)


def _cell_line(
    cell: _Cell, text: str, *, size: float, bold: bool, first: bool, space_before: float = 0
) -> None:
    p = cell.paragraphs[0] if first else cell.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
    fmt.first_line_indent = Cm(0)
    fmt.space_after = Pt(0)
    fmt.space_before = Pt(space_before)
    fmt.keep_with_next = True
    run = p.add_run(nfc(text))
    run.bold = bold
    run.font.size = Pt(size)


def _two_signatures(doc: Decree30Document, left: Signer, right: Signer) -> None:
    lay = doc.layout
    half = lay.body_width_mm / 2
    table = doc.document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _no_borders(table._tbl)
    row_pr = table.rows[0]._tr.get_or_add_trPr()
    row_pr.append(OxmlElement("w:cantSplit"))
    for index, signer in enumerate((left, right)):
        table.columns[index].width = Mm(half)
        cell = table.cell(0, index)
        cell.width = Mm(half)
        _cell_line(cell, signer.role.upper(), size=lay.signature_pt, bold=True, first=True, space_before=12)
        _cell_line(cell, signer.name, size=lay.signature_pt, bold=True, first=False,
                   space_before=lay.signature_space_pt)  # fmt: skip


__all__ = [
    "ATTENDANCE_HEADER",
    "MINUTES_TITLE",
    "VOTE_HEADER",
    "MinutesContent",
    "MinutesGroup",
    "MinutesMember",
    "MinutesVote",
    "Signer",
    "attendance_line",
    "build_minutes",
    "render_minutes",
]
