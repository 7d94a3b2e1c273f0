"""Parse the --as-of values people type: 05/01/2024, 2024-01-05, 2024-01-05T08:00 (local time)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from thidua.errors import InvalidInput


class InvalidMoment(InvalidInput):
    """A moment typed in a form the command line does not read."""


# A bare date means the start of office hours that day: launches and sweeps replayed "on 05/01/2024"
# behave as if run that morning.
OFFICE_START = time(8, 0)


def parse_as_of(value: str | None, tz: ZoneInfo) -> datetime:
    if value is None or not value.strip():
        return datetime.now(tz)
    text = value.strip()
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%d/%m/%Y":
            parsed = datetime.combine(parsed.date(), OFFICE_START)
        return parsed.replace(tzinfo=tz)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidMoment(
            f"“{text}” không phải thời điểm hợp lệ.",
            hint="Viết dd/mm/yyyy, dd/mm/yyyy HH:MM hoặc yyyy-mm-dd[THH:MM], ví dụ 05/01/2024 08:00.",
        ) from exc
    if len(text) == 10:
        parsed = datetime.combine(parsed.date(), OFFICE_START)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
