"""What every request of one portal application shares (`Portal`, kept on `app.state.portal`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from thidua.models.settings import Settings
from thidua.models.workdays import WorkCalendar, load_calendar

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Portal:
    """What every request of one application shares: settings, database, clock, calendar, templates."""

    settings: Settings
    engine: Engine
    clock: Clock
    templates: Jinja2Templates
    calendar: WorkCalendar = field(default_factory=load_calendar)

    def now(self) -> datetime:
        return self.clock().astimezone(self.settings.tz)

    def today(self) -> date:
        return self.now().date()
