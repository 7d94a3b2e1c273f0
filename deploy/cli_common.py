"""What every `thidua` command shares: the --as-of option, the error mapping, and one `Invocation`.

A command reads its settings, its clock and its database through `invocation(as_of)`:

    with invocation(as_of) as run:
        result = do_work(run.engine, code, now=run.now)
    typer.echo(...)

The settings are read once per process invocation (kept on the root click context), the clock once per
command, and the database is opened only when a command first asks for it and disposed when it ends. A
read-only command needs only the data folder, the database and the zone (`run.core`, read without
pydantic-settings); the full `Settings` are built when a command first asks for `run.settings`.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine
from typer._click.core import Context  # typer vendors click: its group speaks this type
from typer._click.globals import get_current_context
from typer.core import TyperGroup

from thidua.deploy.timeparse import parse_as_of
from thidua.errors import InvalidInput, ThiduaError, exit_code
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings_core import CoreSettings, read_core_settings

if TYPE_CHECKING:
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


def open_engine(database_url: str) -> Engine:
    """The application database with its schema at head (pending migrations applied)."""
    engine = make_engine(database_url)
    ensure_schema(engine)
    return engine


def parse_now(settings: Settings | CoreSettings, as_of: str | None) -> datetime:
    """The moment a command acts at: --as-of if given, else now, in the settings' zone."""
    return parse_as_of(as_of, settings.tz)


_SETTINGS_KEY = "thidua.settings"
_CORE_KEY = "thidua.core_settings"


def _once(key: str, read: Callable[[dict[str, Any]], Any]) -> Any:
    """A value read once per invocation and kept on the root click context (read afresh outside a command)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return read({})
    meta = ctx.find_root().meta
    if key not in meta:
        meta[key] = read(meta)
    return meta[key]


def current_settings() -> Settings:
    """The settings of this invocation: read from the environment once, then shared by every helper."""
    from thidua.models.settings import Settings  # pydantic-settings: only for commands that need it

    settings: Settings = _once(_SETTINGS_KEY, lambda _meta: Settings())
    return settings


def _core_of(meta: dict[str, Any]) -> CoreSettings:
    settings = meta.get(_SETTINGS_KEY)
    if settings is None:
        return read_core_settings()
    storage_url = settings.storage_url.strip()
    return CoreSettings(settings.data_dir, settings.database_url, settings.timezone, storage_url)


def current_core_settings() -> CoreSettings:
    """Data folder, database and zone of this invocation (read once; the same values `Settings` has)."""
    core: CoreSettings = _once(_CORE_KEY, _core_of)
    return core


def os_user() -> str:
    """The operating-system user, recorded as the actor of a command's audit events."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli"


@dataclass
class Invocation:
    """One command's settings, the moment it acts at, and its database (opened on first use)."""

    # Data folder, database and zone (all a read-only command needs); or the full Settings of a caller that
    # has them already (a Prefect stage), which `settings` then returns.
    core: CoreSettings | Settings
    now: datetime
    migrate: bool = True  # bring the schema to head on first use (`thidua db` manages it itself)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """Every setting (built on first use: loading pydantic-settings costs a read-only command dearly)."""
        if not isinstance(self.core, CoreSettings):
            return self.core
        return current_settings()

    def shown(self, key: str) -> str:
        """Where the stored file `key` is, as an operator finds it: a path in the data folder (told without
        building every setting), else the storage's URL for it."""
        from thidua.models.storage import LocalStorage, storage_for

        if isinstance(self.core, CoreSettings) and not self.core.storage_url:
            return LocalStorage(self.core.data_dir).show(key)
        return storage_for(self.settings).show(key)

    @property
    def tz(self) -> ZoneInfo:
        """The installation's zone (THIDUA_TIMEZONE)."""
        return self.core.tz

    @property
    def today(self) -> date:
        """The calendar day of `now` in the settings' zone."""
        return self.now.astimezone(self.core.tz).date()

    @property
    def engine(self) -> Engine:
        """The application database (schema at head unless `migrate` is off); opened once, disposed at end."""
        if self._engine is None:
            url = self.core.database_url
            self._engine = open_engine(url) if self.migrate else make_engine(url)
        return self._engine

    def day(self, text: str) -> date:
        """A date typed on the command line (dd/mm/yyyy or ISO), read by the same parser as --as-of."""
        try:
            return parse_now(self.core, text).astimezone(self.core.tz).date()
        except InvalidInput as exc:
            raise InvalidInput(
                f"“{text.strip()}” không phải ngày hợp lệ.", hint="Viết dd/mm/yyyy, ví dụ 19/07/2024."
            ) from exc

    def use_prefect(self) -> None:
        """Point Prefect at its server before the first flow import, and say which server it is."""
        from thidua.deploy.prefect_env import configure_prefect

        typer.echo(configure_prefect(self.settings))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


@contextmanager
def invocation(as_of: str | None = None, *, migrate: bool = True) -> Iterator[Invocation]:
    """The running command's `Invocation`, acting at --as-of (or now); its database is closed at the end."""
    core = current_core_settings()
    run = Invocation(core, parse_now(core, as_of), migrate)
    try:
        yield run
    finally:
        run.dispose()
