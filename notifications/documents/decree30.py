"""Administrative documents per Decree 30/2020/NĐ-CP, appendix I (Kế hoạch, Báo cáo, Quyết định, Biên bản).

Plain dataclasses describe the parts every document shares (the header block, the signature block); a small
fluent builder, `Decree30Document`, appends the body in reading order and saves a DOCX atomically and
deterministically (same input, same bytes), so a regenerated plan can be compared with the one already sent.

Layout facts (appendix I): A4 portrait; margins top/bottom 20–25 mm, left 30–35 mm, right 15–20 mm; Times New
Roman, black; national title 12–13 pt bold capitals over the motto 13–14 pt bold with a rule as long as the
motto; issuing agency bold capitals with a short rule (1/3–1/2 of its line); "Số:" 13 pt with a leading zero
below 10; italic place and date; body 13–14 pt, justified, first-line indent 1–1.27 cm, at least 6 pt between
paragraphs; page numbers top centre, none on page 1; "Nơi nhận:" 12 pt bold italic with 11 pt items.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Literal, Self

from docx import Document as new_document
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from reportlab.pdfbase.pdfmetrics import stringWidth

from thidua.models.files import write_atomic
from thidua.models.text import vn_place_date
from thidua.notifications.documents.zipfix import fixed_zip

FONT_NAME = "Times New Roman"
NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0

Align = Literal["left", "center", "right", "justify"]

_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}
_BLACK = RGBColor(0, 0, 0)


def _vn(text: str) -> str:
    # NFC without trimming: spaces between runs ("1. " + "Đối tượng:") are meaningful here.
    return unicodedata.normalize("NFC", text)


def _caps(text: str) -> str:
    return _vn(text).upper()


# ---------------------------------------------------------------- plain data


@dataclass(frozen=True)
class DocumentHeader:
    """What the top block of every document says.

    `agency` may contain "\\n" to force the usual break ("CỤC THI HÀNH ÁN DÂN SỰ\\nTỈNH TUYÊN QUANG");
    `symbol` is the part after the slash ("KH-CTHADS"); `number` None leaves the blank a draft carries.
    """

    parent_agency: str | None
    agency: str
    number: str | int | None
    symbol: str
    place: str
    date: date

    def number_line(self) -> str:
        """'Số: 05/KH-CTHADS' (leading zero below 10), or 'Số:      /KH-CTHADS' for an unnumbered draft."""
        symbol = _vn(self.symbol).strip()  # "TTr" stays "TTr" (Decree 30 abbreviations keep their case)
        if self.number is None or str(self.number).strip() == "":
            return f"Số:{' ' * 6}/{symbol}"
        raw = _vn(str(self.number)).strip()
        shown = f"{int(raw):02d}" if raw.isdigit() else raw
        return f"Số: {shown}/{symbol}"

    def place_date_line(self) -> str:
        return vn_place_date(_vn(self.place).strip(), self.date)

    def agency_one_line(self) -> str:
        return " ".join(_vn(self.agency).split())


@dataclass(frozen=True)
class SignatureBlock:
    """'KT. CỤC TRƯỞNG' / 'PHÓ CỤC TRƯỞNG' / name. `on_behalf` is None when the head signs in person."""

    on_behalf: str | None
    title: str
    name: str


@dataclass(frozen=True)
class Run:
    """A piece of a paragraph with its own emphasis."""

    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False


Inline = str | Run | Sequence[str | Run]

_MARKUP = re.compile(r"(\\\*|\*\*\*.+?\*\*\*|\*\*.+?\*\*|\*.+?\*)", re.DOTALL)


def parse_inline(text: str) -> list[Run]:
    """Light emphasis markup for text that comes from configuration: **bold**, *italic*, ***both***.

    A literal asterisk is written \\*. Anything else is plain text.
    """
    runs: list[Run] = []
    for piece in _MARKUP.split(text):
        if not piece:
            continue
        if piece == r"\*":
            runs.append(Run("*"))
        elif piece.startswith("***") and piece.endswith("***") and len(piece) > 6:
            runs.append(Run(piece[3:-3], bold=True, italic=True))
        elif piece.startswith("**") and piece.endswith("**") and len(piece) > 4:
            runs.append(Run(piece[2:-2], bold=True))
        elif piece.startswith("*") and piece.endswith("*") and len(piece) > 2:
            runs.append(Run(piece[1:-1], italic=True))
        else:
            runs.append(Run(piece))
    # Merge neighbours with equal emphasis so the document has no needless run splits.
    merged: list[Run] = []
    for run in runs:
        if merged and (merged[-1].bold, merged[-1].italic, merged[-1].underline) == (
            run.bold,
            run.italic,
            run.underline,
        ):
            merged[-1] = Run(merged[-1].text + run.text, run.bold, run.italic, run.underline)
        else:
            merged.append(run)
    return merged


def _as_runs(content: Inline) -> list[Run]:
    if isinstance(content, str):
        return [Run(content)]
    if isinstance(content, Run):
        return [content]
    return [Run(part) if isinstance(part, str) else part for part in content]


@dataclass(frozen=True)
class Layout:
    """Page and type settings; defaults sit inside every range of Decree 30, checked on creation."""

    margin_top_mm: float = 20.0
    margin_bottom_mm: float = 20.0
    margin_left_mm: float = 30.0
    margin_right_mm: float = 15.0
    header_distance_mm: float = 10.0
    body_pt: float = 14.0
    first_line_indent_cm: float = 1.27
    space_after_pt: float = 6.0
    line_spacing: float = 1.0
    # The header table is a little wider than the text block (shifted left) so a long parent agency such as
    # "TỔNG CỤC THI HÀNH ÁN DÂN SỰ" stays on one line, as in the documents agencies actually issue.
    header_left_col_mm: float = 70.0
    header_right_col_mm: float = 104.0
    header_shift_left_mm: float = 5.0
    parent_agency_pt: float = 12.0
    agency_pt: float = 13.0
    national_title_pt: float = 13.0
    motto_pt: float = 14.0
    number_pt: float = 13.0
    place_date_pt: float = 14.0
    title_pt: float = 14.0
    signature_pt: float = 14.0
    signature_space_pt: float = 72.0
    signature_left_col_mm: float = 85.0
    recipients_heading_pt: float = 12.0
    recipients_pt: float = 11.0
    page_number_pt: float = 13.0
    table_pt: float = 12.0

    def __post_init__(self) -> None:
        checks: list[tuple[str, float, float, float]] = [
            ("lề trên", self.margin_top_mm, 20, 25),
            ("lề dưới", self.margin_bottom_mm, 20, 25),
            ("lề trái", self.margin_left_mm, 30, 35),
            ("lề phải", self.margin_right_mm, 15, 20),
            ("cỡ chữ nội dung", self.body_pt, 13, 14),
            ("thụt đầu dòng (cm)", self.first_line_indent_cm, 1.0, 1.27),
            ("khoảng cách dòng", self.line_spacing, 1.0, 1.5),
            ("cỡ chữ quốc hiệu", self.national_title_pt, 12, 13),
            ("cỡ chữ tiêu ngữ", self.motto_pt, 13, 14),
            ("cỡ chữ tên cơ quan", self.agency_pt, 12, 13),
            ("cỡ chữ tên cơ quan chủ quản", self.parent_agency_pt, 12, 13),
            ("cỡ chữ số trang", self.page_number_pt, 13, 14),
        ]
        for label, value, low, high in checks:
            if not low <= value <= high:
                raise ValueError(f"{label} {value} nằm ngoài khoảng {low}–{high} của Nghị định 30/2020/NĐ-CP")
        if self.space_after_pt < 6:
            raise ValueError("khoảng cách giữa các đoạn văn tối thiểu 6 pt (Nghị định 30/2020/NĐ-CP)")

    @property
    def body_width_mm(self) -> float:
        return A4_WIDTH_MM - self.margin_left_mm - self.margin_right_mm


# ---------------------------------------------------------------- low-level OOXML helpers

_PPR_ORDER = [
    "w:pStyle",
    "w:keepNext",
    "w:keepLines",
    "w:pageBreakBefore",
    "w:framePr",
    "w:widowControl",
    "w:numPr",
    "w:suppressLineNumbers",
    "w:pBdr",
    "w:shd",
    "w:tabs",
    "w:suppressAutoHyphens",
    "w:kinsoku",
    "w:wordWrap",
    "w:overflowPunct",
    "w:topLinePunct",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:bidi",
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
]
_TBLPR_ORDER = [
    "w:tblStyle",
    "w:tblpPr",
    "w:tblOverlap",
    "w:bidiVisual",
    "w:tblStyleRowBandSize",
    "w:tblStyleColBandSize",
    "w:tblW",
    "w:jc",
    "w:tblCellSpacing",
    "w:tblInd",
    "w:tblBorders",
    "w:shd",
    "w:tblLayout",
    "w:tblCellMar",
    "w:tblLook",
]
_TRPR_ORDER = [
    "w:cnfStyle",
    "w:divId",
    "w:gridBefore",
    "w:gridAfter",
    "w:wBefore",
    "w:wAfter",
    "w:cantSplit",
    "w:trHeight",
    "w:tblHeader",
    "w:tblCellSpacing",
    "w:jc",
    "w:hidden",
]
_RPR_ORDER = [
    "w:rStyle",
    "w:rFonts",
    "w:b",
    "w:bCs",
    "w:i",
    "w:iCs",
    "w:caps",
    "w:smallCaps",
    "w:strike",
    "w:dstrike",
    "w:outline",
    "w:shadow",
    "w:emboss",
    "w:imprint",
    "w:noProof",
    "w:snapToGrid",
    "w:vanish",
    "w:webHidden",
    "w:color",
    "w:spacing",
    "w:w",
    "w:kern",
    "w:position",
    "w:sz",
    "w:szCs",
    "w:highlight",
    "w:u",
    "w:effect",
    "w:bdr",
    "w:shd",
    "w:fitText",
    "w:vertAlign",
    "w:rtl",
    "w:cs",
    "w:em",
    "w:lang",
    "w:eastAsianLayout",
    "w:specVanish",
    "w:oMath",
]


def _put(parent: BaseOxmlElement, child: BaseOxmlElement, order: Sequence[str]) -> BaseOxmlElement:
    """Insert `child` where the schema wants it (Word rejects out-of-order elements), replacing a namesake."""
    for old in parent.findall(child.tag):
        parent.remove(old)
    later = {qn(tag) for tag in order[order.index(_prefixed(child.tag)) + 1 :]}
    for index, sibling in enumerate(parent):
        if sibling.tag in later:
            parent.insert(index, child)
            return child
    parent.append(child)
    return child


def _prefixed(clark: str) -> str:
    return "w:" + clark.split("}", 1)[1]


def _el(tag: str, **attrs: str) -> BaseOxmlElement:
    element: BaseOxmlElement = OxmlElement(tag)
    for key, value in attrs.items():
        element.set(qn(f"w:{key}"), value)
    return element


def _twips(mm: float) -> str:
    return str(round(mm / 25.4 * 1440))


def _set_fonts(rpr: BaseOxmlElement) -> None:
    """Times New Roman for every script slot, theme fonts removed (they would win over the explicit names)."""
    rfonts = _el("w:rFonts", ascii=FONT_NAME, hAnsi=FONT_NAME, eastAsia=FONT_NAME, cs=FONT_NAME)
    _put(rpr, rfonts, _RPR_ORDER)


def _border_set(tag: str, val: str, sides: Sequence[str], size: int = 4) -> BaseOxmlElement:
    borders = _el(tag)
    for side in sides:
        if val == "nil":
            borders.append(_el(f"w:{side}", val="nil"))
        else:
            borders.append(_el(f"w:{side}", val=val, sz=str(size), space="0", color="000000"))
    return borders


def _text_width_mm(text: str, size_pt: float, *, bold: bool = False, italic: bool = False) -> float:
    """Printed width of one line, from the Times metrics (Times New Roman is metric-close to Times)."""
    face = {(False, False): "Times-Roman", (True, False): "Times-Bold"}
    face |= {(False, True): "Times-Italic", (True, True): "Times-BoldItalic"}
    # Vietnamese marks sit above/below the base letter and do not change its advance width.
    base = "".join(
        ch
        for ch in unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
        if not unicodedata.combining(ch)
    )
    base = "".join(ch if ord(ch) < 256 else "n" for ch in base)
    return stringWidth(base, face[(bold, italic)], size_pt) * 25.4 / 72


# ---------------------------------------------------------------- the builder


@dataclass
class _Meta:
    title: str = ""
    subject: str = ""


class Decree30Document:
    """Fluent builder: header block first, then body parts in reading order, signature, save.

    Every method returns the builder, so a document reads top to bottom:
    `Decree30Document(header).title("KẾ HOẠCH").subject("...").heading("I. ...").paragraph("...")`.
    Text is NFC-normalised on the way in; capitals are applied where the decree wants them.
    """

    def __init__(self, header: DocumentHeader, *, layout: Layout | None = None) -> None:
        self.header = header
        self.layout = layout or Layout()
        self._meta = _Meta()
        self._signed = False
        self._doc: Document = new_document()
        self._setup_package()
        self._setup_page()
        self._setup_styles()
        self._setup_page_numbers()
        self._header_block()

    @property
    def document(self) -> Document:
        """The python-docx document, for parts this builder does not cover yet."""
        return self._doc

    # ------------------------------------------------------------ body parts

    def title(self, text: str) -> Self:
        """Document type name: 'KẾ HOẠCH', 'QUYẾT ĐỊNH', 'BÁO CÁO' (capitals, bold, centred)."""
        self._meta.title = _caps(text).strip()
        p = self._plain_paragraph(align="center", space_before=12, space_after=0, keep_with_next=True)
        self._add_runs(p, [Run(self._meta.title, bold=True)], size=self.layout.title_pt)
        return self

    def subject(self, text: str) -> Self:
        """Summary line under the title (bold, centred) with the short rule the decree draws beneath it."""
        self._meta.subject = _vn(text).strip()
        p = self._plain_paragraph(align="center", space_after=0, keep_with_next=True)
        self._add_runs(p, [Run(self._meta.subject, bold=True)], size=self.layout.title_pt)
        width = self.layout.body_width_mm
        line = min(_text_width_mm(self._meta.subject, self.layout.title_pt, bold=True), width)
        self._rule(self._doc.add_paragraph(), line * 0.4, width, space_after=12)
        return self

    def heading(self, text: Inline) -> Self:
        """Section heading such as 'I. MỤC ĐÍCH, YÊU CẦU' (bold, kept with what follows)."""
        return self.paragraph(text, bold=True, keep_with_next=True)

    def subheading(self, text: Inline, *, italic: bool = False) -> Self:
        """'1. Mục đích', '2.1. Hình thức khen thưởng', 'a) Tiêu chuẩn' (bold; italic for a lower level)."""
        return self.paragraph(text, bold=True, italic=italic, keep_with_next=True)

    def paragraph(
        self,
        content: Inline,
        *,
        bold: bool = False,
        italic: bool = False,
        align: Align = "justify",
        indent: bool = True,
        keep_with_next: bool = False,
    ) -> Self:
        """A body paragraph: justified, first-line indent; `bold`/`italic` apply on top of each run's own."""
        p = self._doc.add_paragraph()
        fmt = p.paragraph_format
        if align != "justify":
            fmt.alignment = _ALIGN[align]
        if not indent:
            fmt.first_line_indent = Cm(0)
        if keep_with_next:
            fmt.keep_with_next = True
        runs = [Run(r.text, r.bold or bold, r.italic or italic, r.underline) for r in _as_runs(content)]
        self._add_runs(p, runs)
        return self

    def italic(self, content: Inline) -> Self:
        return self.paragraph(content, italic=True)

    def bullet(self, content: Inline, *, marker: str = "-") -> Self:
        """'- ...' (or '+ ...' for the level below) as Vietnamese documents write lists: no list numbering."""
        runs = _as_runs(content)
        if runs and runs[0].text.lstrip().startswith(marker + " "):
            first = runs[0]
            runs[0] = Run(first.text.lstrip()[len(marker) + 1 :], first.bold, first.italic, first.underline)
        return self.paragraph([Run(f"{marker} "), *runs])

    def centered(self, content: Inline, *, bold: bool = True) -> Self:
        """A centred line such as 'QUYẾT ĐỊNH:' in a decision."""
        return self.paragraph(content, bold=bold, align="center", indent=False, keep_with_next=True)

    def legal_basis(self, clauses: Sequence[str]) -> Self:
        """'Căn cứ ...;' clauses: italic, one per line, ';' at each end and '.' after the last."""
        cleaned = [_vn(c).strip().rstrip(";.").rstrip() for c in clauses if _vn(c).strip()]
        for index, clause in enumerate(cleaned):
            end = "." if index == len(cleaned) - 1 else ";"
            self.paragraph(clause + end, italic=True)
        return self

    def article(self, number: int, content: Inline) -> Self:
        """'Điều 1. ...' with the article label in bold."""
        return self.paragraph([Run(f"Điều {number}. ", bold=True), *_as_runs(content)])

    def page_break(self) -> Self:
        self._doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        return self

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        widths_mm: Sequence[float] | None = None,
        align: Sequence[Align] | None = None,
        bold_rows: Collection[int] = (),
        font_pt: float | None = None,
    ) -> Self:
        """A bordered table for reports: bold centred header repeated on each page; cells as str(value).

        `bold_rows` are indexes into `rows` (a total line). Values are printed as given: format money and
        ratios before passing them, so the document shows exactly what was computed.
        """
        cols = len(header)
        if any(len(row) != cols for row in rows):
            raise ValueError("mỗi dòng của bảng phải có đúng số cột như dòng tiêu đề")
        widths = list(widths_mm) if widths_mm else [self.layout.body_width_mm / cols] * cols
        if len(widths) != cols:
            raise ValueError("số độ rộng cột khác số cột")
        aligns: list[Align] = list(align) if align else ["left"] * cols
        size = font_pt or self.layout.table_pt
        table = self._grid(1 + len(rows), widths, borders=True)
        for c, text in enumerate(header):
            self._cell_text(table.cell(0, c), [Run(_vn(text), bold=True)], "center", size)
        tr_pr = table.rows[0]._tr.get_or_add_trPr()
        _put(tr_pr, _el("w:tblHeader"), _TRPR_ORDER)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                text = "" if value is None else _vn(str(value))
                self._cell_text(table.cell(r, c), [Run(text, bold=(r - 1) in bold_rows)], aligns[c], size)
        # Keeps the next paragraph from gluing to the table's bottom border.
        self._plain_paragraph(space_after=0).paragraph_format.line_spacing = Pt(6)
        return self

    def signature(self, block: SignatureBlock, recipients: Sequence[str] = ()) -> Self:
        """Bottom row: 'Nơi nhận:' and its list on the left, the signer on the right (borderless table).

        Recipient items get the decree's punctuation: '- ' in front, ';' after each, '.' after the last.
        """
        lay = self.layout
        right = lay.body_width_mm - lay.signature_left_col_mm
        table = self._grid(1, [lay.signature_left_col_mm, right], borders=False)
        _put(table.rows[0]._tr.get_or_add_trPr(), _el("w:cantSplit"), _TRPR_ORDER)
        left_cell, right_cell = table.cell(0, 0), table.cell(0, 1)

        items = [_vn(r).strip() for r in recipients if _vn(r).strip()]
        if items:
            first = self._cell_text(
                left_cell, [Run("Nơi nhận:", bold=True, italic=True)], "left", lay.recipients_heading_pt
            )
            first.paragraph_format.space_before = Pt(6)
            for index, item in enumerate(items):
                body = item.removeprefix("-").strip().rstrip(";.").rstrip()
                end = "." if index == len(items) - 1 else ";"
                self._cell_text(left_cell, [Run(f"- {body}{end}")], "left", lay.recipients_pt, new=True)

        lines = [_caps(block.on_behalf).strip()] if block.on_behalf else []
        lines.append(_caps(block.title).strip())
        p = self._cell_text(right_cell, [Run(lines[0], bold=True)], "center", lay.signature_pt)
        p.paragraph_format.space_before = Pt(6)
        for line in lines[1:]:
            self._cell_text(right_cell, [Run(line, bold=True)], "center", lay.signature_pt, new=True)
        signer = [Run(_vn(block.name).strip(), bold=True)]
        name = self._cell_text(right_cell, signer, "center", lay.signature_pt, new=True)
        name.paragraph_format.space_before = Pt(lay.signature_space_pt)
        self._signed = True
        return self

    # ------------------------------------------------------------ output

    def save(self, path: Path | str) -> Path:
        """Write atomically (temp file in the same folder, then rename) with fixed metadata and zip times."""
        target = Path(path)
        self._set_properties()
        buffer = BytesIO()
        self._doc.save(buffer)
        return write_atomic(target, fixed_zip(buffer.getvalue(), self.header.date))

    # ------------------------------------------------------------ setup

    def _setup_package(self) -> None:
        # The template ships a thumbnail of an empty page; file browsers would show it for every document.
        package = self._doc.part.package
        for rid, rel in list(package.rels.items()):
            if rel.reltype.endswith("/thumbnail"):
                package.rels.pop(rid)
        settings = self._doc.settings.element
        for el in settings.findall(qn("w:savePreviewPicture")):
            settings.remove(el)

    def _setup_page(self) -> None:
        lay = self.layout
        section = self._doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width = Mm(A4_WIDTH_MM)
        section.page_height = Mm(A4_HEIGHT_MM)
        section.top_margin = Mm(lay.margin_top_mm)
        section.bottom_margin = Mm(lay.margin_bottom_mm)
        section.left_margin = Mm(lay.margin_left_mm)
        section.right_margin = Mm(lay.margin_right_mm)
        section.header_distance = Mm(lay.header_distance_mm)
        section.footer_distance = Mm(lay.header_distance_mm)
        section.gutter = Mm(0)

    def _setup_styles(self) -> None:
        lay = self.layout
        styles_el = self._doc.styles.element
        # Document defaults first: Word resolves theme fonts there before looking at the Normal style.
        rpr_default = styles_el.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
        if rpr_default is None:
            raise RuntimeError("mẫu DOCX thiếu w:docDefaults/w:rPrDefault")
        _set_fonts(rpr_default)
        _put(rpr_default, _el("w:lang", val="vi-VN", eastAsia="vi-VN", bidi="ar-SA"), _RPR_ORDER)

        normal = self._doc.styles["Normal"]
        font = normal.font
        font.name = FONT_NAME
        font.size = Pt(lay.body_pt)
        font.color.rgb = _BLACK
        _set_fonts(normal.element.get_or_add_rPr())
        fmt = normal.paragraph_format
        fmt.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        fmt.first_line_indent = Cm(lay.first_line_indent_cm)
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(lay.space_after_pt)
        fmt.line_spacing = lay.line_spacing
        fmt.widow_control = True

        header_style = self._doc.styles["Header"]
        header_style.paragraph_format.first_line_indent = Cm(0)
        header_style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def _setup_page_numbers(self) -> None:
        # Decree 30: number top centre, not shown on page 1 -> a distinct, empty first-page header.
        section = self._doc.sections[0]
        section.different_first_page_header_footer = True
        first = section.first_page_header
        first.is_linked_to_previous = False
        for p in first.paragraphs:
            p.paragraph_format.first_line_indent = Cm(0)
        header = section.header
        header.is_linked_to_previous = False
        p = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Cm(0)
        p.paragraph_format.space_after = Pt(0)
        for kind, payload in (
            ("begin", None),
            ("instr", " PAGE "),
            ("separate", None),
            ("text", "2"),
            ("end", None),
        ):
            run = p.add_run()
            run.font.size = Pt(self.layout.page_number_pt)
            if kind == "instr":
                instr = _el("w:instrText")
                instr.set(qn("xml:space"), "preserve")
                instr.text = payload
                run._r.append(instr)
            elif kind == "text":
                run.text = payload or ""
            else:
                run._r.append(_el("w:fldChar", fldCharType=kind))

    def _header_block(self) -> None:
        lay, head = self.layout, self.header
        left_w, right_w = lay.header_left_col_mm, lay.header_right_col_mm
        table = self._grid(2, [left_w, right_w], borders=False, shift_left_mm=lay.header_shift_left_mm)
        left, right = table.cell(0, 0), table.cell(0, 1)
        usable_left, usable_right = left_w - 2 * _CELL_MARGIN_MM, right_w - 2 * _CELL_MARGIN_MM

        if head.parent_agency:
            self._cell_lines(left, _caps(head.parent_agency).strip(), bold=False, size=lay.parent_agency_pt)
        agency_lines = [line.strip() for line in _caps(head.agency).split("\n") if line.strip()]
        if not agency_lines:
            raise ValueError("thiếu tên cơ quan ban hành văn bản")
        self._cell_lines(left, "\n".join(agency_lines), bold=True, size=lay.agency_pt)
        widest = max(_text_width_mm(line, lay.agency_pt, bold=True) for line in agency_lines)
        self._rule(left.add_paragraph(), min(widest, usable_left) * 0.45, usable_left)

        self._cell_lines(right, NATIONAL_TITLE, bold=True, size=lay.national_title_pt)
        self._cell_lines(right, MOTTO, bold=True, size=lay.motto_pt)
        motto_width = min(_text_width_mm(MOTTO, lay.motto_pt, bold=True), usable_right)
        self._rule(right.add_paragraph(), motto_width, usable_right)

        number = self._cell_text(table.cell(1, 0), [Run(head.number_line())], "center", lay.number_pt)
        number.paragraph_format.space_before = Pt(6)
        place = self._cell_text(
            table.cell(1, 1), [Run(_vn(head.place_date_line()), italic=True)], "center", lay.place_date_pt
        )
        place.paragraph_format.space_before = Pt(6)
        for cell in (left, right):
            # python-docx creates each cell with an empty paragraph; the lines were added after it.
            first = cell.paragraphs[0]
            if not first.text and not first._p.findall(qn("w:pPr") + "/" + qn("w:pBdr")):
                first._p.getparent().remove(first._p)

    # ------------------------------------------------------------ helpers

    def _plain_paragraph(
        self,
        *,
        align: Align = "justify",
        space_before: float = 0,
        space_after: float | None = None,
        keep_with_next: bool = False,
    ) -> Paragraph:
        p = self._doc.add_paragraph()
        fmt = p.paragraph_format
        fmt.alignment = _ALIGN[align]
        fmt.first_line_indent = Cm(0)
        if space_before:
            fmt.space_before = Pt(space_before)
        if space_after is not None:
            fmt.space_after = Pt(space_after)
        if keep_with_next:
            fmt.keep_with_next = True
        return p

    def _add_runs(self, p: Paragraph, runs: Sequence[Run], size: float | None = None) -> None:
        for spec in runs:
            if not spec.text:
                continue
            run = p.add_run(_vn(spec.text))
            if spec.bold:
                run.bold = True
            if spec.italic:
                run.italic = True
            if spec.underline:
                run.underline = True
            if size is not None:
                run.font.size = Pt(size)

    def _cell_text(
        self, cell: _Cell, runs: Sequence[Run], align: Align, size: float, *, new: bool = False
    ) -> Paragraph:
        """Write into the cell's first (empty) paragraph, or a new one: no indent, tight spacing."""
        first = cell.paragraphs[0]
        p = first if not new and not first.runs else cell.add_paragraph()
        fmt = p.paragraph_format
        fmt.alignment = _ALIGN[align]
        fmt.first_line_indent = Cm(0)
        fmt.space_after = Pt(0)
        self._add_runs(p, runs, size)
        return p

    def _cell_lines(self, cell: _Cell, text: str, *, bold: bool, size: float) -> None:
        p = cell.add_paragraph()
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Cm(0)
        p.paragraph_format.space_after = Pt(0)
        lines = text.split("\n")
        for index, line in enumerate(lines):
            run = p.add_run(_vn(line))
            run.bold = bold
            run.font.size = Pt(size)
            if index < len(lines) - 1:
                run.add_break()

    def _rule(self, p: Paragraph, width_mm: float, available_mm: float, *, space_after: float = 0) -> None:
        """A solid horizontal line `width_mm` long, centred: an empty paragraph with a top border and indents.

        A border renders the same in Word and LibreOffice, and unlike a drawn shape it moves with the text.
        """
        side = max((available_mm - width_mm) / 2, 0)
        fmt = p.paragraph_format
        fmt.first_line_indent = Cm(0)
        fmt.left_indent = Mm(side)
        fmt.right_indent = Mm(side)
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(space_after)
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(2)
        p_pr = p._p.get_or_add_pPr()
        border = _el("w:pBdr")
        border.append(_el("w:top", val="single", sz="6", space="1", color="000000"))
        _put(p_pr, border, _PPR_ORDER)

    def _grid(
        self, rows: int, widths_mm: Sequence[float], *, borders: bool, shift_left_mm: float = 0
    ) -> Table:
        table = self._doc.add_table(rows=rows, cols=len(widths_mm))
        table.alignment = WD_TABLE_ALIGNMENT.LEFT
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        _put(tbl_pr, _el("w:tblW", w=_twips(sum(widths_mm)), type="dxa"), _TBLPR_ORDER)
        if shift_left_mm:
            _put(tbl_pr, _el("w:tblInd", w=str(-int(_twips(shift_left_mm))), type="dxa"), _TBLPR_ORDER)
        sides = ("top", "left", "bottom", "right", "insideH", "insideV")
        _put(tbl_pr, _border_set("w:tblBorders", "single" if borders else "nil", sides), _TBLPR_ORDER)
        margins = _el("w:tblCellMar")
        for side in ("left", "right"):
            margins.append(_el(f"w:{side}", w=_twips(_CELL_MARGIN_MM), type="dxa"))
        _put(tbl_pr, margins, _TBLPR_ORDER)
        for index, width in enumerate(widths_mm):
            table.columns[index].width = Mm(width)
            for cell in table.columns[index].cells:
                cell.width = Mm(width)
        return table

    def _set_properties(self) -> None:
        props = self._doc.core_properties
        stamp = datetime(self.header.date.year, self.header.date.month, self.header.date.day)
        author = self.header.agency_one_line()
        props.author = author
        props.last_modified_by = author
        props.created = stamp
        props.modified = stamp
        props.last_printed = stamp
        props.revision = 1
        props.title = " ".join(part for part in (self._meta.title, self._meta.subject) if part)
        props.subject = self._meta.subject
        props.category = self._meta.title
        props.comments = ""
        props.keywords = ""
        props.language = "vi-VN"


_CELL_MARGIN_MM = 1.0


__all__ = [
    "A4_HEIGHT_MM",
    "A4_WIDTH_MM",
    "FONT_NAME",
    "MOTTO",
    "NATIONAL_TITLE",
    "Align",
    "Decree30Document",
    "DocumentHeader",
    "Inline",
    "Layout",
    "Run",
    "SignatureBlock",
    "parse_inline",
]
