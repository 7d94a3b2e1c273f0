"""The award decision (Quyết định khen thưởng) laid out per Decree 30/2020/NĐ-CP, with its attached list.

The caller maps a decision and its grants to `DecisionContent` (plain data); `render_decision` writes the
DOCX: number line, place and date, "QUYẾT ĐỊNH", the subject, the authority's title line, the italic
"Căn cứ ...;" clauses and "Theo đề nghị của ...", "QUYẾT ĐỊNH:", Điều 1 (who is awarded), Điều 2 (the money),
Điều 3 (effect and execution), the signature with "Nơi nhận", then on a new page the list of awardees with
the amounts.
Same content, same bytes (the builder fixes the package's dates and zip times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from thidua.models.money import amount_in_words, fmt_vnd, vn_money
from thidua.models.text import fmt_date, nfc
from thidua.notifications.documents.decree30 import Decree30Document, DocumentHeader, Layout, SignatureBlock

DECISION_TITLE = "QUYẾT ĐỊNH"
LAW_2022 = "Căn cứ Luật Thi đua, khen thưởng ngày 15 tháng 6 năm 2022"
# The decree detailing the Law on the decision date: 98/2023 from 01/01/2024, replaced by 152/2025 on
# 01/07/2025.
DECREE_152_FROM = date(2025, 7, 1)
DECREE_152 = "Nghị định số 152/2025/NĐ-CP"
DECREE_98 = "Nghị định số 98/2023/NĐ-CP"
_DECREE_CLAUSES = {
    DECREE_152: (
        "Căn cứ Nghị định số 152/2025/NĐ-CP của Chính phủ quy định chi tiết một số điều của Luật Thi đua, "
        "khen thưởng"
    ),
    DECREE_98: (
        "Căn cứ Nghị định số 98/2023/NĐ-CP ngày 31 tháng 12 năm 2023 của Chính phủ quy định chi tiết thi "
        "hành một số điều của Luật Thi đua, khen thưởng"
    ),
}

SubjectKind = Literal["collective", "individual"]


def reward_decree(decided_on: date) -> str:
    """'Nghị định số 152/2025/NĐ-CP' from 01/07/2025, 'Nghị định số 98/2023/NĐ-CP' before."""
    return DECREE_152 if decided_on >= DECREE_152_FROM else DECREE_98


def plan_clause(plan_number_ref: str | None, plan_date: date, issuer_name: str, plan_subject: str) -> str:
    """'Căn cứ Kế hoạch số 1058/KH-BTP ngày 25/02/2026 của Bộ Tư pháp về việc phát động phong trào ...'.

    `plan_number_ref` None: the plan was issued without a number (seed 003), so none is quoted.
    """
    subject = nfc(plan_subject)
    subject = subject[:1].lower() + subject[1:]
    number = f" số {nfc(plan_number_ref)}" if plan_number_ref else ""
    return f"Căn cứ Kế hoạch{number} ngày {fmt_date(plan_date)} của {nfc(issuer_name)} về việc {subject}"


def decision_legal_basis(decided_on: date, plan: str) -> list[str]:
    """The 'Căn cứ' clauses of a decision: the Law, the decree in force that day, the campaign's plan."""
    return [LAW_2022, _DECREE_CLAUSES[reward_decree(decided_on)], plan]


def two_digits(n: int) -> str:
    """Counts in decisions are written '02 tập thể', '12 cá nhân'."""
    return f"{n:02d}"


def counts_phrase(collectives: int, individuals: int) -> str:
    """'02 tập thể và 03 cá nhân' (a zero side left out)."""
    parts = []
    if collectives:
        parts.append(f"{two_digits(collectives)} tập thể")
    if individuals:
        parts.append(f"{two_digits(individuals)} cá nhân")
    return " và ".join(parts)


def fmt_multiplier(value: Decimal) -> str:
    """0.3 → '0,3' (Vietnamese decimal comma)."""
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


@dataclass(frozen=True)
class Awardee:
    kind: SubjectKind
    name: str  # the unit's name (collective) or the person's full name
    unit_name: str  # the person's unit; for a collective, the unit it belongs to ("" when none)
    amount_vnd: int
    title: str | None = None  # a person's title ("Chấp hành viên")

    @property
    def display_name(self) -> str:
        name = nfc(self.name)
        return f"{name}, {nfc(self.title)}" if self.title else name


@dataclass(frozen=True)
class DecisionContent:
    header: DocumentHeader  # number, symbol ("QĐ-CTHADS"), place, decision date
    form_name: str  # "Giấy khen" / "Bằng khen": what is given
    authority_title: str  # "CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG" (line under the subject)
    authority_name: str  # "Cục trưởng Cục THADS tỉnh Tuyên Quang" (in the list's caption)
    achievement: str  # "phong trào thi đua chuyên đề “Giảm án ...”"
    legal_basis: Sequence[str]  # "Căn cứ ..." clauses (see decision_legal_basis)
    proposal: str  # "Theo đề nghị của Hội đồng Thi đua - Khen thưởng ..."
    awardees: Sequence[Awardee]
    collective_multiplier: Decimal
    individual_multiplier: Decimal
    base_salary: int
    base_salary_source: str  # "Nghị định số 73/2024/NĐ-CP ngày 30/6/2024 của Chính phủ"
    fund_owner: str  # whose Quỹ thi đua, khen thưởng pays: "Cục Thi hành án dân sự tỉnh Tuyên Quang"
    signature: SignatureBlock
    recipients: Sequence[str]
    executors: str = "Thủ trưởng các đơn vị có liên quan"
    layout: Layout = field(default_factory=Layout)

    @property
    def reference(self) -> str:
        """'05/QĐ-CTHADS', as the number line prints it."""
        return self.header.number_line().removeprefix("Số:").strip()

    @property
    def subject(self) -> str:
        return (
            f"Về việc tặng {self.form_name} cho các tập thể, cá nhân có thành tích xuất sắc trong "
            f"{self.achievement}"
        )

    def of_kind(self, kind: SubjectKind) -> list[Awardee]:
        return [a for a in self.awardees if a.kind == kind]

    @property
    def total_vnd(self) -> int:
        return sum(a.amount_vnd for a in self.awardees)


def _money_sentence(who: str, form: str, amount: int, multiplier: Decimal) -> str:
    return (
        f"mỗi {who} được tặng {form} kèm theo tiền thưởng {vn_money(amount)} ({amount_in_words(amount)}), "
        f"bằng {fmt_multiplier(multiplier)} lần mức lương cơ sở"
    )


def _article_2(content: DecisionContent) -> str:
    pieces = []
    collectives, individuals = content.of_kind("collective"), content.of_kind("individual")
    if collectives:
        amount = collectives[0].amount_vnd
        pieces.append(_money_sentence("tập thể", content.form_name, amount, content.collective_multiplier))
    if individuals:
        amount = individuals[0].amount_vnd
        pieces.append(_money_sentence("cá nhân", content.form_name, amount, content.individual_multiplier))
    decree = reward_decree(content.header.date)
    total = content.total_vnd
    first = "; ".join(pieces)
    return (
        f"{first[:1].upper()}{first[1:]} theo quy định tại {decree} (mức lương cơ sở "
        f"{vn_money(content.base_salary)} theo {content.base_salary_source}). Tổng số tiền thưởng: "
        f"{vn_money(total)} ({amount_in_words(total)}), chi từ Quỹ thi đua, khen thưởng của "
        f"{content.fund_owner}."
    )


LIST_WIDTHS_MM = (12.0, 68.0, 55.0, 30.0)


def _list_rows(content: DecisionContent) -> tuple[list[list[object]], list[int]]:
    rows: list[list[object]] = []
    bold: list[int] = []
    sections = [
        ("I", "Tập thể", content.of_kind("collective")),
        ("II", "Cá nhân", content.of_kind("individual")),
    ]
    shown = [s for s in sections if s[2]]
    for roman, label, people in shown:
        if len(shown) > 1:  # section rows only when the list mixes collectives and individuals
            bold.append(len(rows))
            rows.append([roman, label, "", ""])
        for number, awardee in enumerate(people, start=1):
            rows.append([number, awardee.display_name, nfc(awardee.unit_name), fmt_vnd(awardee.amount_vnd)])
    bold.append(len(rows))
    rows.append(["", "Tổng cộng", "", fmt_vnd(content.total_vnd)])
    return rows, bold


def build_decision(content: DecisionContent) -> Decree30Document:
    """The decision as a builder (a caller may append more before saving)."""
    if not content.awardees:
        raise ValueError("quyết định khen thưởng phải có ít nhất một tập thể hoặc cá nhân")
    collectives, individuals = content.of_kind("collective"), content.of_kind("individual")
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(DECISION_TITLE).subject(content.subject)
    doc.centered(nfc(content.authority_title).upper())
    doc.legal_basis([*content.legal_basis, content.proposal])
    doc.centered("QUYẾT ĐỊNH:")
    doc.article(
        1,
        f"Tặng {content.form_name} cho {counts_phrase(len(collectives), len(individuals))} có tên trong danh "
        f"sách kèm theo Quyết định này, đã có thành tích xuất sắc trong {content.achievement}.",
    )
    doc.article(2, _article_2(content))
    doc.article(
        3,
        f"Quyết định này có hiệu lực kể từ ngày ký. {content.executors} và các tập thể, cá nhân có tên tại "
        "Điều 1 chịu trách nhiệm thi hành Quyết định này./.",
    )
    doc.signature(content.signature, content.recipients)

    doc.page_break()
    doc.centered("DANH SÁCH")
    doc.centered(f"Tập thể, cá nhân được tặng {content.form_name}")
    doc.paragraph(
        f"(Kèm theo Quyết định số {content.reference} ngày {fmt_date(content.header.date)} "
        f"của {content.authority_name})",
        italic=True,
        align="center",
        indent=False,
    )
    rows, bold = _list_rows(content)
    doc.table(
        ["STT", "Tên tập thể, cá nhân", "Đơn vị", "Số tiền (đồng)"],
        rows,
        widths_mm=LIST_WIDTHS_MM,
        align=["center", "left", "left", "right"],
        bold_rows=bold,
    )
    return doc


def render_decision(content: DecisionContent, path: Path) -> Path:
    """Write the decision DOCX to `path` (atomically, creating its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_decision(content).save(path)


__all__ = [
    "DECISION_TITLE",
    "DECREE_152_FROM",
    "LAW_2022",
    "Awardee",
    "DecisionContent",
    "build_decision",
    "counts_phrase",
    "decision_legal_basis",
    "fmt_multiplier",
    "plan_clause",
    "render_decision",
    "reward_decree",
    "two_digits",
]
