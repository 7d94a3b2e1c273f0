"""The certificate (Giấy khen / Bằng khen) of each awardee: one A4 landscape PDF page, drawn with reportlab.

Vietnamese needs a font with its glyphs: DejaVu Serif, which matplotlib (a pinned dependency) ships in its
data folder, so no system font is assumed. The PDF is written in reportlab's invariant mode with the creation
date set to the decision date, so the same certificate gives the same bytes on every run.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from thidua.errors import Unavailable
from thidua.models.files import write_atomic
from thidua.models.text import vn_place_date
from thidua.notifications.documents.decree30 import MOTTO, NATIONAL_TITLE, SignatureBlock

REGULAR, BOLD, ITALIC, BOLD_ITALIC = (
    "DejaVuSerif",
    "DejaVuSerif-Bold",
    "DejaVuSerif-Italic",
    "DejaVuSerif-BoldItalic",
)
_FONT_FILES = {
    REGULAR: "DejaVuSerif.ttf",
    BOLD: "DejaVuSerif-Bold.ttf",
    ITALIC: "DejaVuSerif-Italic.ttf",
    BOLD_ITALIC: "DejaVuSerif-BoldItalic.ttf",
}
DARK_RED = Color(0.62, 0.05, 0.05)
PAGE_WIDTH, PAGE_HEIGHT = landscape(A4)

FORM_TITLES = {"giay_khen": "GIẤY KHEN", "bang_khen": "BẰNG KHEN", "bang_khen_thu_tuong": "BẰNG KHEN"}


class CertificateError(Unavailable):
    """A certificate that cannot be drawn (the font is missing)."""


def font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def register_fonts() -> None:
    """Register DejaVu Serif (4 faces) with reportlab once per process."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    folder = font_dir()
    for name, filename in _FONT_FILES.items():
        if name in registered:
            continue
        path = folder / filename
        if not path.is_file():
            raise CertificateError(f"không tìm thấy phông chữ {path} (cần matplotlib)")
        pdfmetrics.registerFont(TTFont(name, str(path)))


def _vn(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True)
class CertificateContent:
    form_title: str  # "GIẤY KHEN" / "BẰNG KHEN"
    authority_title: str  # "CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG"
    recipient: str  # "Nguyễn Văn A" or the collective's name
    recipient_detail: str | None  # "Chấp hành viên, Chi cục Thi hành án dân sự huyện Yên Sơn"
    achievement: str  # "Đã có thành tích xuất sắc trong phong trào thi đua chuyên đề “...”"
    decision_ref: str  # "05/QĐ-CTHADS"
    decided_on: date
    place: str  # "Tuyên Quang"
    signature: SignatureBlock
    register_number: str | None = None  # "Số: 05/2024-3" (sổ khen thưởng), optional


class _Page:
    def __init__(self, canvas: Canvas) -> None:
        self.c = canvas

    def centred(self, text: str, y: float, font: str, size: float, *, x: float | None = None) -> None:
        self.c.setFont(font, size)
        self.c.drawCentredString(PAGE_WIDTH / 2 if x is None else x, y, _vn(text))

    def wrapped(
        self, text: str, top: float, font: str, size: float, width: float, *, x: float | None = None
    ) -> float:
        """Centred lines within `width`; returns the baseline under the last line."""
        y = top
        for line in simpleSplit(_vn(text), font, size, width):
            self.centred(line, y, font, size, x=x)
            y -= size * 1.35
        return y

    def rule(self, x_centre: float, y: float, width: float) -> None:
        self.c.setLineWidth(0.8)
        self.c.line(x_centre - width / 2, y, x_centre + width / 2, y)


def _draw(canvas: Canvas, content: CertificateContent) -> None:
    page = _Page(canvas)
    c = canvas
    # Frame: a double border in the certificate's red.
    c.setStrokeColor(DARK_RED)
    c.setLineWidth(3)
    c.rect(12 * mm, 12 * mm, PAGE_WIDTH - 24 * mm, PAGE_HEIGHT - 24 * mm)
    c.setLineWidth(0.8)
    c.rect(16 * mm, 16 * mm, PAGE_WIDTH - 32 * mm, PAGE_HEIGHT - 32 * mm)
    c.setStrokeColor(black)
    c.setFillColor(black)

    text_width = PAGE_WIDTH - 70 * mm
    y = PAGE_HEIGHT - 30 * mm
    page.centred(NATIONAL_TITLE, y, BOLD, 13)
    y -= 17
    page.centred(MOTTO, y, BOLD, 13)
    page.rule(PAGE_WIDTH / 2, y - 4, pdfmetrics.stringWidth(MOTTO, BOLD, 13))
    y -= 30
    y = page.wrapped(content.authority_title.upper(), y, BOLD, 15, text_width)
    y -= 26
    c.setFillColor(DARK_RED)
    page.centred(content.form_title.upper(), y, BOLD, 40)
    c.setFillColor(black)
    y -= 38
    page.centred("Tặng", y, ITALIC, 16)
    y -= 30
    y = page.wrapped(content.recipient, y, BOLD, 22, text_width)
    if content.recipient_detail:
        y -= 2
        y = page.wrapped(content.recipient_detail, y, REGULAR, 15, text_width)
    y -= 8
    page.wrapped(content.achievement, y, ITALIC, 15, text_width)

    # Bottom row: the decision on the left, place/date and the signer on the right.
    left_x, right_x = 75 * mm, PAGE_WIDTH - 85 * mm
    base = 62 * mm
    page.centred(f"Quyết định số {content.decision_ref}", base, REGULAR, 12, x=left_x)
    page.centred(f"ngày {content.decided_on:%d/%m/%Y}", base - 16, REGULAR, 12, x=left_x)
    if content.register_number:
        page.centred(f"Số sổ: {content.register_number}", base - 32, REGULAR, 12, x=left_x)
    sig = content.signature
    page.centred(vn_place_date(_vn(content.place), content.decided_on), base + 18, ITALIC, 13, x=right_x)
    lines = ([sig.on_behalf] if sig.on_behalf else []) + [sig.title]
    y = base
    for line in lines:
        page.centred(line.upper(), y, BOLD, 13, x=right_x)
        y -= 17
    page.centred(sig.name, 24 * mm, BOLD, 14, x=right_x)


def certificate_pdf(content: CertificateContent) -> bytes:
    """The certificate as PDF bytes (deterministic)."""
    register_fonts()
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=True, pageCompression=1)
    stamp = content.decided_on
    # Invariant mode pins the dates to 2000-01-01; the decision date is the meaningful fixed value.
    canvas.setDateFormatter(lambda *_: f"D:{stamp:%Y%m%d}000000+07'00'")
    canvas.setTitle(f"{_vn(content.form_title)} – {_vn(content.recipient)}")
    canvas.setAuthor(_vn(content.authority_title))
    canvas.setSubject(f"Quyết định số {content.decision_ref}")
    canvas.setCreator("thidua")
    _draw(canvas, content)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_certificate(content: CertificateContent, path: Path) -> Path:
    """Write the certificate PDF to `path` atomically (temp file, then rename) and return the path."""
    return write_atomic(Path(path), certificate_pdf(content))


__all__ = [
    "FORM_TITLES",
    "CertificateContent",
    "CertificateError",
    "certificate_pdf",
    "register_fonts",
    "render_certificate",
]
