"""The proposal package a lower council sends to the authority that grants the award (seed 000: the Cục's
council proposes the Minister's Bằng khen): the Tờ trình and the Danh sách, laid out per Decree 30/2020/NĐ-CP.

The council's minutes (Biên bản) travel with them; the review stage writes them, this only refers to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from docx.oxml.ns import qn

from thidua.models.text import fmt_date, nfc
from thidua.notifications.documents.decision import counts_phrase
from thidua.notifications.documents.decree30 import Decree30Document, DocumentHeader, Layout, SignatureBlock

PROPOSAL_TITLE = "TỜ TRÌNH"
LIST_TITLE = "DANH SÁCH"


@dataclass(frozen=True)
class Nominee:
    kind: Literal["collective", "individual"]
    name: str
    unit_name: str  # the person's unit; for a collective, the unit it belongs to
    title: str | None = None
    achievement: str | None = None
    approve: int | None = None  # approving votes at the council
    members: int | None = None  # council members (for "9/11")


@dataclass(frozen=True)
class ProposalContent:
    header: DocumentHeader  # the proposing unit, the Tờ trình's number and symbol ("TTr-CQL")
    form_name: str  # "Bằng khen"
    award_name: str  # "Bằng khen của Bộ trưởng Bộ Tư pháp"
    addressee: str  # "Bộ trưởng Bộ Tư pháp"
    proposer: str  # "Cục Quản lý thi hành án dân sự" (as written in a sentence)
    council: str  # "Hội đồng Thi đua - Khen thưởng Cục Quản lý THADS"
    meeting_date: date | None
    achievement: str  # "phong trào thi đua theo đợt “...”"
    legal_basis: Sequence[str]
    nominees: Sequence[Nominee]
    attachments: Sequence[str]  # "Danh sách ...", "Biên bản họp ...", "Báo cáo thành tích ..."
    signature: SignatureBlock
    recipients: Sequence[str]
    layout: Layout = field(default_factory=Layout)

    @property
    def reference(self) -> str:
        """'01/TTr-CQL' (a leading zero below 10; the symbol as written, "TTr" keeps its small r)."""
        raw = str(self.header.number).strip()
        shown = f"{int(raw):02d}" if raw.isdigit() else raw
        return f"{shown}/{nfc(self.header.symbol)}"

    @property
    def subject(self) -> str:
        return f"Về việc đề nghị tặng {self.award_name}"

    def counts(self) -> str:
        collectives = sum(1 for n in self.nominees if n.kind == "collective")
        return counts_phrase(collectives, len(self.nominees) - collectives)


def build_proposal(content: ProposalContent) -> Decree30Document:
    """The Tờ trình: to the authority, what the council decided and what is asked, with the package listed."""
    if not content.nominees:
        raise ValueError("tờ trình đề nghị khen thưởng phải có ít nhất một tập thể hoặc cá nhân")
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(PROPOSAL_TITLE).subject(content.subject)
    doc.paragraph(f"Kính gửi: {nfc(content.addressee)}.", align="center", indent=False)
    for clause in content.legal_basis:
        doc.paragraph(nfc(clause).rstrip(";.") + ";")
    when = f"Ngày {fmt_date(content.meeting_date)}, " if content.meeting_date else ""
    held = f"{when}{content.council} đã họp" if when else f"{content.council} đã họp"
    doc.paragraph(
        f"{held[:1].upper()}{held[1:]}, xét và bỏ phiếu kín đề nghị khen thưởng các tập thể, cá nhân có "
        f"thành tích xuất sắc trong {content.achievement}. Kết quả: {content.counts()} đạt số phiếu đồng ý "
        "theo quy định (có Biên bản họp Hội đồng kèm theo)."
    )
    doc.paragraph(
        f"{content.proposer} kính trình {content.addressee} xem xét, tặng {content.award_name} cho "
        f"{content.counts()} có thành tích xuất sắc trong {content.achievement} (có danh sách kèm theo)."
    )
    if content.attachments:
        doc.paragraph("Hồ sơ kèm theo gồm:")
        for item in content.attachments:
            doc.bullet(nfc(item).rstrip(";.") + ";")
    doc.paragraph(f"{content.proposer} kính trình {content.addressee} xem xét, quyết định./.")
    return doc.signature(content.signature, content.recipients)


LIST_WIDTHS_MM = (10.0, 45.0, 45.0, 45.0, 20.0)


def _drop_number_line(doc: Decree30Document) -> None:
    # A list attached to a Tờ trình carries the Tờ trình's reference in its caption, not a number of its own:
    # empty the header table's "Số:" cell (the builder always writes one).
    header = doc.document.tables[0]
    cell = header.cell(1, 0)
    for paragraph in cell.paragraphs:
        for run in list(paragraph._p.iter(qn("w:r"))):
            run.getparent().remove(run)


def build_proposal_list(content: ProposalContent) -> Decree30Document:
    """The Danh sách: every nominee with unit, achievement and the council's approving votes."""
    if not content.nominees:
        raise ValueError("danh sách đề nghị khen thưởng phải có ít nhất một tập thể hoặc cá nhân")
    doc = Decree30Document(content.header, layout=content.layout)
    _drop_number_line(doc)
    doc.title(LIST_TITLE).subject(f"Tập thể, cá nhân đề nghị tặng {content.award_name}")
    doc.paragraph(
        f"(Kèm theo Tờ trình số {content.reference} ngày {fmt_date(content.header.date)} "
        f"của {content.proposer})",
        italic=True,
        align="center",
        indent=False,
    )
    rows: list[list[object]] = []
    bold: list[int] = []
    groups = [
        ("I", "Tập thể", [n for n in content.nominees if n.kind == "collective"]),
        ("II", "Cá nhân", [n for n in content.nominees if n.kind == "individual"]),
    ]
    shown = [g for g in groups if g[2]]
    for roman, label, nominees in shown:
        if len(shown) > 1:
            bold.append(len(rows))
            rows.append([roman, label, "", "", ""])
        for number, n in enumerate(nominees, start=1):
            name = f"{nfc(n.name)}, {nfc(n.title)}" if n.title else nfc(n.name)
            votes = "" if n.approve is None else (f"{n.approve}/{n.members}" if n.members else str(n.approve))
            achievement = (
                nfc(n.achievement) if n.achievement else "Thành tích xuất sắc trong phong trào thi đua"
            )
            rows.append([number, name, nfc(n.unit_name), achievement, votes])
    doc.table(
        ["STT", "Tên tập thể, cá nhân", "Đơn vị", "Thành tích", "Số phiếu đồng ý"],
        rows,
        widths_mm=LIST_WIDTHS_MM,
        align=["center", "left", "left", "left", "center"],
        bold_rows=bold,
    )
    return doc.signature(content.signature, ())


def render_proposal(content: ProposalContent, path: Path) -> Path:
    """Write the Tờ trình DOCX (atomically, creating its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_proposal(content).save(path)


def render_proposal_list(content: ProposalContent, path: Path) -> Path:
    """Write the Danh sách DOCX (atomically, creating its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_proposal_list(content).save(path)


__all__ = [
    "LIST_TITLE",
    "PROPOSAL_TITLE",
    "Nominee",
    "ProposalContent",
    "build_proposal",
    "build_proposal_list",
    "render_proposal",
    "render_proposal_list",
]
