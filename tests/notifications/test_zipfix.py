"""fixed_zip: the one re-packing that makes DOCX/XLSX bytes independent of the clock."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

from thidua.notifications.documents.zipfix import fixed_zip

CORE = (
    b'<cp:coreProperties><dcterms:created xsi:type="dcterms:W3CDTF">2031-05-06T07:08:09Z</dcterms:created>'
    b'<dcterms:modified xsi:type="dcterms:W3CDTF">2031-05-06T07:08:10Z</dcterms:modified></cp:coreProperties>'
)


def archive(when: tuple[int, int, int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for name, body in (("[Content_Types].xml", b"<Types/>"), ("docProps/core.xml", CORE)):
            target.writestr(zipfile.ZipInfo(name, date_time=when), body)
    return buffer.getvalue()


def entries(data: bytes) -> dict[str, tuple[tuple[int, ...], int, int, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        return {
            info.filename: (info.date_time, info.compress_type, info.external_attr, source.read(info))
            for info in source.infolist()
        }


def test_every_entry_is_dated_at_the_stamp_whatever_the_clock_said() -> None:
    first = fixed_zip(archive((2031, 5, 6, 7, 8, 9)), date(2024, 12, 31))
    second = fixed_zip(archive((2032, 1, 2, 3, 4, 5)), date(2024, 12, 31))

    assert first == second
    for when, compress, attr, _ in entries(first).values():
        assert when == (2024, 12, 31, 0, 0, 0)
        assert compress == zipfile.ZIP_DEFLATED
        assert attr == 0o644 << 16


def test_the_document_times_change_only_when_asked() -> None:
    kept = entries(fixed_zip(archive((2031, 5, 6, 7, 8, 9)), date(2024, 12, 31)))
    fixed = entries(fixed_zip(archive((2031, 5, 6, 7, 8, 9)), date(2024, 12, 31), core_times=True))

    assert kept["docProps/core.xml"][3] == CORE
    body = fixed["docProps/core.xml"][3]
    assert b">2024-12-31T00:00:00Z</dcterms:created>" in body
    assert b">2024-12-31T00:00:00Z</dcterms:modified>" in body
    assert b"2031" not in body


def test_a_datetime_stamp_counts_by_its_day_and_dates_before_1980_are_clamped() -> None:
    by_datetime = fixed_zip(archive((2031, 5, 6, 7, 8, 9)), datetime(2024, 12, 31, 15, 30), core_times=True)
    by_date = fixed_zip(archive((2031, 5, 6, 7, 8, 9)), date(2024, 12, 31), core_times=True)
    assert by_datetime == by_date

    old = entries(fixed_zip(archive((2031, 5, 6, 7, 8, 9)), date(1975, 4, 30)))
    assert {when for when, *_ in old.values()} == {(1980, 4, 30, 0, 0, 0)}
