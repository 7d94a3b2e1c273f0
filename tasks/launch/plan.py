"""Documents a campaign carries: the plan (Kế hoạch) rendered from its definition."""

from __future__ import annotations

from thidua.models.definition import CampaignDefinition, Indicator
from thidua.models.labels import DISCIPLINE_LABELS
from thidua.models.settings import Settings
from thidua.models.states import DisciplineForm
from thidua.models.storage import storage_for, storage_key
from thidua.models.text import fmt_date
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.documents.plan import PlanContent, PlanParagraph, PlanSection, render_plan

KIND_LABELS = {"thuong_xuyen": "thường xuyên", "chuyen_de": "chuyên đề", "theo_dot": "theo đợt"}
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def _kind(defn: CampaignDefinition) -> str:
    value = getattr(defn.kind, "value", defn.kind)
    return KIND_LABELS.get(str(value), str(value))


def plan_key(defn: CampaignDefinition) -> str:
    """The storage key of the campaign's plan DOCX."""
    return storage_key("documents", defn.code, f"ke-hoach-{defn.code.lower()}.docx")


def _percent(value: object) -> str:
    from decimal import Decimal

    pct = (Decimal(str(value)) * 100).normalize()
    return f"{pct:f}".replace(".", ",") + "%"


def target_phrase(indicator: Indicator) -> str:
    """'từ 10% trở lên' — a target as the plans word it."""
    if str(getattr(indicator.targets, "value", indicator.targets)) == "per_unit":
        return f"theo chỉ tiêu được giao cho từng đơn vị (mặc định {_percent(indicator.target)})"
    comparison = str(indicator.comparison)
    word = {">=": "từ", ">": "trên", "<=": "không quá", "<": "dưới"}[comparison]
    suffix = " trở lên" if comparison == ">=" else ""
    return f"{word} {_percent(indicator.target)}{suffix}"


def plan_content(defn: CampaignDefinition) -> PlanContent:
    """Map a campaign definition to the plan's text, section by section, as the seed plans are written."""
    P = PlanParagraph
    issuer = defn.issuer
    header = DocumentHeader(
        parent_agency=issuer.parent_agency,
        agency=issuer.agency,
        number=defn.plan.number,
        symbol=defn.plan.symbol,
        place=issuer.place,
        date=defn.plan.date,
    )
    subject = defn.plan.subject or (f"Phát động phong trào thi đua {_kind(defn)} “{defn.title}”")

    sections: list[PlanSection] = []
    purpose = [P("1. Mục đích", "subheading"), *(P(t) for t in defn.purpose)]
    requirements = [P("2. Yêu cầu", "subheading"), *(P(t) for t in defn.requirements)]
    sections.append(PlanSection("MỤC ĐÍCH, YÊU CẦU", purpose + requirements))

    scope_text = defn.scope.description or f"Trong các cơ quan, đơn vị thuộc {issuer.agency_short_name}"
    subjects = {"collective": "tập thể", "individual": "cá nhân"}
    who = ", ".join(subjects.get(str(s), str(s)) for s in defn.scope.subjects)
    sections.append(
        PlanSection(
            "ĐỐI TƯỢNG, PHẠM VI",
            [
                P(f"1. **Đối tượng:** Các {who}."),
                P(f"2. **Phạm vi:** {scope_text}."),
            ],
        )
    )

    content: list[PlanParagraph] = []
    n = 1
    if defn.slogan:
        content.append(P(f"{n}. **Khẩu hiệu:** “{defn.slogan}”."))
        n += 1
    content.append(
        P(
            f"{n}. **Thời gian:** Từ ngày {fmt_date(defn.period.start)} "
            f"đến hết ngày {fmt_date(defn.period.end)}."
        )
    )
    n += 1
    content.append(P(f"{n}. Nội dung thi đua", "subheading"))
    content.extend(P(t) for t in defn.content)
    for ind in defn.indicators:
        content.append(
            P(f"{ind.label}: {target_phrase(ind)} (tính đến {fmt_date(defn.period.end)}).", "bullet")
        )
    sections.append(PlanSection("NỘI DUNG", content))

    closing: list[PlanParagraph] = [P("1. Tổng kết", "subheading")]
    closing.append(
        P(
            "Hằng tháng, các đơn vị báo cáo kết quả thực hiện theo mẫu của hệ thống; "
            "kết thúc phong trào, các đơn vị "
            f"xây dựng báo cáo tổng kết gửi {issuer.agency_short_name} "
            f"**chậm nhất trong ngày {fmt_date(defn.reporting.final_report.due)}**.",
            "bullet",
        )
    )
    closing.append(P("2. Khen thưởng", "subheading"))
    closing.append(P("2.1. Hình thức khen thưởng", "minor_heading"))
    closing.extend(P(f"{a.name}.", "bullet") for a in defn.awards)
    closing.append(P("2.2. Tiêu chuẩn, điều kiện và chỉ tiêu khen thưởng", "minor_heading"))
    closing.extend(_eligibility_paragraphs(defn))
    closing.append(P("3. Thủ tục hồ sơ và thời hạn nộp hồ sơ đề nghị khen thưởng", "subheading"))
    parts = "; ".join(p.name for p in defn.dossier.parts)
    closing.append(P(f"Thủ tục hồ sơ gồm có: {parts}.", "bullet"))
    closing.append(
        P(f"Thời hạn nộp hồ sơ: **chậm nhất trong ngày {fmt_date(defn.dossier.deadline)}**.", "bullet")
    )
    sections.append(PlanSection("TỔNG KẾT, KHEN THƯỞNG", closing))

    organisation = list(defn.organisation)
    if organisation:
        sections.append(PlanSection("TỔ CHỨC THỰC HIỆN", [P(t) for t in organisation]))

    contact = issuer.contact
    closing_lines = [
        f"Trong quá trình thực hiện, nếu có vướng mắc đề nghị liên hệ với {contact.department}"
        + (f" (email {contact.email})" if contact.email else "")
        + " để được hướng dẫn, giải đáp./."
    ]
    numbered = [PlanSection(f"{ROMAN[i]}. {s.heading}", s.paragraphs) for i, s in enumerate(sections)]
    signer = issuer.signer
    return PlanContent(
        header=header,
        title_subject=subject,
        preamble=list(defn.preamble),
        sections=numbered,
        signature=SignatureBlock(on_behalf=signer.on_behalf, title=signer.title, name=signer.name),
        recipients=[
            f"{d.name} {d.note}".strip() if getattr(d, "note", None) else d.name for d in defn.distribution
        ],
        closing=closing_lines,
    )


def _eligibility_paragraphs(defn: CampaignDefinition) -> list[PlanParagraph]:
    P = PlanParagraph
    rules = defn.eligibility
    window = f"từ {fmt_date(rules.discipline_window.start)} đến {fmt_date(rules.discipline_window.end)}"
    lowest = DISCIPLINE_LABELS[
        DisciplineForm(getattr(rules.min_discipline_form, "value", rules.min_discipline_form))
    ]
    out = [P("a) Tiêu chuẩn, điều kiện", "minor_heading")]
    if "collective" in [str(s) for s in defn.scope.subjects]:
        out.append(
            P(
                "Đối với tập thể: đạt chỉ tiêu nội dung thi đua; nội bộ đoàn kết; "
                + (
                    "không có cá nhân thuộc đơn vị vi phạm pháp luật hoặc bị kỷ luật "
                    f"từ hình thức “{lowest.lower()}” trở lên "
                    f"(*{window}*)."
                    if rules.collective_requires_clean_members
                    else "."
                ),
                "bullet",
            )
        )
    if "individual" in [str(s) for s in defn.scope.subjects]:
        priority = ", ".join(rules.priority_titles)
        out.append(
            P(
                "Đối với cá nhân"
                + (f" (*ưu tiên khen thưởng đối với {priority}*)" if priority else "")
                + ": có thành tích xuất sắc, đạt chỉ tiêu nội dung thi đua; "
                "không vi phạm pháp luật hoặc bị kỷ luật "
                f"từ hình thức “{lowest.lower()}” trở lên (*{window}*).",
                "bullet",
            )
        )
    if rules.unit_head_must_meet_both:
        out.append(
            P(
                "**Lưu ý: Đối với Thủ trưởng đơn vị phải đạt các tiêu chuẩn, điều kiện "
                "của cá nhân và tập thể nêu trên.**"
            )
        )
    out.append(P("b) Chỉ tiêu", "minor_heading"))
    for award in defn.awards:
        quota = award.quota
        if quota.collective is not None:
            out.append(P(f"{award.name}: không quá **{quota.collective:02d}** tập thể.", "bullet"))
        if quota.individual is not None:
            out.append(P(f"{award.name}: không quá **{quota.individual:02d}** cá nhân.", "bullet"))
    return out


def render_campaign_plan(settings: Settings, defn: CampaignDefinition) -> str:
    """Store the plan DOCX (regenerated identically on a re-run); its storage key."""
    k = plan_key(defn)
    content = plan_content(defn)
    storage_for(settings).put_rendered(k, lambda path: render_plan(content, path))
    return k
