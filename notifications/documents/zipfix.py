"""Deterministic ZIP containers (DOCX, XLSX): the same document gives the same bytes.

python-docx and openpyxl stamp every entry of the archive with the clock; :func:`fixed_zip` re-packs the
archive with every entry dated at the document's own date (and, for openpyxl, the ``created`` / ``modified``
times of ``docProps/core.xml`` too), so a document regenerated from the same data is byte-identical.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def fixed_zip(data: bytes, stamp: date, *, core_times: bool = False) -> bytes:
    """Re-pack ``data`` with every entry dated ``stamp`` at 00:00 (ZIP cannot store dates before 1980).

    With ``core_times`` the document properties' created / modified times become ``stamp`` as well.
    """
    when = (max(stamp.year, 1980), stamp.month, stamp.day, 0, 0, 0)
    iso = f"{date(stamp.year, stamp.month, stamp.day).isoformat()}T00:00:00Z".encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = source.read(info.filename)
            if core_times and info.filename == "docProps/core.xml":
                body = _CORE_TIMES.sub(lambda m: m.group(1) + iso + m.group(3), body)
            entry = zipfile.ZipInfo(info.filename, date_time=when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, body)
    return out.getvalue()


__all__ = ["fixed_zip"]
