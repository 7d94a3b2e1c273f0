"""What every `thidua` command shares: the --as-of option, opening the database, reading the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from typer._click.core import Context  # typer vendors click: its group speaks this type
from typer.core import TyperGroup

from thidua.deploy.timeparse import parse_as_of
from thidua.errors import ThiduaError, exit_code
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings


class ThiduaGroup(TyperGroup):
    """The command group of every `thidua` noun: the one place a work-layer error becomes an exit.

    A ThiduaError raised by any command below prints its Vietnamese message (and what to do next) on stderr
    and exits with the code of its kind (thidua.errors.EXIT_CODES). Any other exception is a defect and keeps
    its traceback.
    """

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThiduaError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(exit_code(exc)) from exc


AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Thời điểm coi là “bây giờ” (dd/mm/yyyy [HH:MM] hoặc ISO), để chạy lại lịch cũ."
    ),
]


def open_engine(settings: Settings) -> Engine:
    """The application database with its schema at head (pending migrations applied)."""
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    return engine


def parse_now(settings: Settings, as_of: str | None) -> datetime:
    """The moment a command acts at: --as-of if given, else now, in the settings' zone."""
    return parse_as_of(as_of, settings.tz)
