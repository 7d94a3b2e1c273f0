"""What every `thidua` command shares: the --as-of option, opening the database, reading the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import Engine

from thidua.deploy.timeparse import parse_as_of
from thidua.models.db import SchemaOutOfDate, ensure_schema, make_engine
from thidua.models.settings import Settings

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Thời điểm coi là “bây giờ” (dd/mm/yyyy [HH:MM] hoặc ISO), để chạy lại lịch cũ."
    ),
]


def open_engine(settings: Settings) -> Engine:
    """The application database with its schema at head (pending migrations applied), or exit 2 saying why."""
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
    except SchemaOutOfDate as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    return engine


def parse_now(settings: Settings, as_of: str | None) -> datetime:
    """The moment a command acts at: --as-of if given, else now, in the zone; exit 2 if unreadable."""
    try:
        return parse_as_of(as_of, settings.tz)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
