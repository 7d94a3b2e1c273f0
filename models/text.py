"""Vietnamese text and date helpers shared by every layer."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import overload


@overload
def nfc(value: str) -> str: ...
@overload
def nfc(value: None) -> None: ...
def nfc(value: str | None) -> str | None:
    """NFC-normalise and trim; input from Word/Excel often arrives decomposed (NFD)."""
    if value is None:
        return None
    return unicodedata.normalize("NFC", value).strip()


def fmt_date(value: date | datetime) -> str:
    """dd/mm/yyyy, the form people read in this domain."""
    return value.strftime("%d/%m/%Y")


def parse_date(value: str) -> date:
    """Parse dd/mm/yyyy (also d/m/yyyy and ISO yyyy-mm-dd); raise ValueError with a readable message."""
    text = nfc(value)
    if not text:
        raise ValueError("ngày trống (cần dạng dd/mm/yyyy)")
    try:
        if "-" in text and len(text.split("-")[0]) == 4:
            return date.fromisoformat(text)
        day, month, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"“{text}” không phải ngày hợp lệ (cần dạng dd/mm/yyyy)") from exc


def vn_place_date(place: str, value: date) -> str:
    """'Tuyên Quang, ngày 05 tháng 01 năm 2024' (Decree 30: leading zero for days < 10 and months 1–2)."""
    month = f"{value.month:02d}" if value.month <= 2 else str(value.month)
    return f"{place}, ngày {value.day:02d} tháng {month} năm {value.year}"


def vn_sort_key(full_name: str) -> tuple[str, str, str]:
    """Vietnamese order for people: given name, then middle names, then family name."""
    parts = nfc(full_name).split()
    if not parts:
        return ("", "", "")
    given = parts[-1]
    family = parts[0] if len(parts) > 1 else ""
    middle = " ".join(parts[1:-1])
    return (_collate(given), _collate(middle), _collate(family))


_VN_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"


def _collate(word: str) -> str:
    # Base letters in Vietnamese alphabet order (ă after a, đ after d ...), tones as a tie-break.
    out: list[tuple[int, str]] = []
    tones: list[str] = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(ch):
            mark = ord(ch)
            if mark in (0x0306, 0x0302, 0x031B) and out:  # breve, circumflex, horn change the letter
                base = unicodedata.normalize("NFC", out[-1][1] + ch)
                out[-1] = (_rank(base), base)
            else:
                tones.append(str(mark))
            continue
        out.append((_rank(ch), ch))
    return "".join(chr(0x100 + r) for r, _ in out) + "|" + ",".join(tones)


def _rank(ch: str) -> int:
    idx = _VN_ALPHABET.find(ch)
    return idx if idx >= 0 else 100 + ord(ch) % 500
