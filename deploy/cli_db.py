"""`thidua db upgrade|status`: the schema migrations."""

from __future__ import annotations

import typer

from thidua.deploy.cli_common import ThiduaGroup
from thidua.models.db import current_revision, head_revision, make_engine, upgrade
from thidua.models.settings import Settings

db_app = typer.Typer(cls=ThiduaGroup, help="Cấu trúc cơ sở dữ liệu (Alembic).", no_args_is_help=True)
app = db_app


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Áp dụng các bản di chuyển (migration) còn thiếu."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    before, after = upgrade(engine)
    typer.echo(
        f"Cơ sở dữ liệu {engine.url.render_as_string(hide_password=True)}: {before or 'trống'} → {after}"
    )


@db_app.command("status")
def db_status() -> None:
    """Phiên bản cấu trúc hiện tại so với bản mới nhất."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    current, head = current_revision(engine), head_revision(engine)
    state = "đã cập nhật" if current == head else "cần chạy: thidua db upgrade"
    typer.echo(f"hiện tại: {current or 'trống'} · mới nhất: {head} · {state}")
