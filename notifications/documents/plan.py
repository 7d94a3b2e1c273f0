"""The Kế hoạch (plan) that launches a campaign, laid out per Decree 30/2020/NĐ-CP.

The caller maps a campaign definition to `PlanContent` (plain data); `render_plan` writes the DOCX. Text may
carry light emphasis markup, as real plans do ("gửi Cục THADS **chậm nhất trong ngày 03/7/2024**"):
**bold**, *italic*, ***both***; write \\* for a literal asterisk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from thidua.notifications.documents.decree30 import (
    Decree30Document,
    DocumentHeader,
    Layout,
    SignatureBlock,
    parse_inline,
)

ParagraphStyle = Literal["body", "bullet", "plus", "subheading", "minor_heading", "italic", "bold"]
"""body: justified text; bullet: '- ...'; plus: '+ ...' (the level under a bullet); subheading: '1. Mục đích'
(bold); minor_heading: '2.1. ...', 'a) ...' (bold italic); italic / bold: a whole paragraph so emphasised."""

PLAN_TITLE = "KẾ HOẠCH"


@dataclass(frozen=True)
class PlanParagraph:
    text: str
    style: ParagraphStyle = "body"


@dataclass(frozen=True)
class PlanSection:
    """A Roman-numbered part: heading 'I. MỤC ĐÍCH, YÊU CẦU' and its paragraphs in order."""

    heading: str
    paragraphs: Sequence[PlanParagraph] = ()


@dataclass(frozen=True)
class PlanContent:
    header: DocumentHeader
    title_subject: str
    preamble: Sequence[str]
    sections: Sequence[PlanSection]
    signature: SignatureBlock
    recipients: Sequence[str]
    closing: Sequence[str] = ()
    """Paragraphs after the last section ('Trong quá trình thực hiện, nếu có vướng mắc ... ./.')."""
    title: str = PLAN_TITLE
    layout: Layout = field(default_factory=Layout)


def build_plan(content: PlanContent) -> Decree30Document:
    """The plan as a builder, for a caller that wants to append an appendix before saving."""
    if not content.title_subject.strip():
        raise ValueError("kế hoạch thiếu trích yếu (tên phong trào thi đua)")
    if not content.sections:
        raise ValueError("kế hoạch phải có ít nhất một mục nội dung")
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(content.title).subject(content.title_subject)
    for text in content.preamble:
        doc.paragraph(parse_inline(text))
    for section in content.sections:
        doc.heading(parse_inline(section.heading))
        for item in section.paragraphs:
            _add(doc, item)
    for text in content.closing:
        doc.paragraph(parse_inline(text))
    return doc.signature(content.signature, content.recipients)


def render_plan(content: PlanContent, path: Path) -> Path:
    """Write the plan DOCX to `path` (atomically) and return the path."""
    return build_plan(content).save(path)


def _add(doc: Decree30Document, item: PlanParagraph) -> None:
    runs = parse_inline(item.text)
    match item.style:
        case "body":
            doc.paragraph(runs)
        case "bullet":
            doc.bullet(runs, marker="-")
        case "plus":
            doc.bullet(runs, marker="+")
        case "subheading":
            doc.subheading(runs)
        case "minor_heading":
            doc.subheading(runs, italic=True)
        case "italic":
            doc.paragraph(runs, italic=True)
        case "bold":
            doc.paragraph(runs, bold=True)
        case _:
            raise ValueError(f"kiểu đoạn văn không hỗ trợ: {item.style!r}")


__all__ = [
    "PLAN_TITLE",
    "ParagraphStyle",
    "PlanContent",
    "PlanParagraph",
    "PlanSection",
    "build_plan",
    "render_plan",
]
