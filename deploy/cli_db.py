"""`thidua db upgrade|status`: the schema migrations."""

from __future__ import annotations

import typer

from thidua.deploy.cli_common import ThiduaGroup, invocation
from thidua.models.db import current_revision, head_revision, upgrade

db_app = typer.Typer(cls=ThiduaGroup, help="Cấu trúc cơ sở dữ liệu (Alembic).", no_args_is_help=True)
app = db_app


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Áp dụng các bản di chuyển (migration) còn thiếu."""
    with invocation(migrate=False) as run:
        before, after = upgrade(run.engine)
        where = run.engine.url.render_as_string(hide_password=True)
    typer.echo(f"Cơ sở dữ liệu {where}: {before or 'trống'} → {after}")


@db_app.command("status")
def db_status() -> None:
    """Phiên bản cấu trúc hiện tại so với bản mới nhất."""
    with invocation(migrate=False) as run:
        current, head = current_revision(run.engine), head_revision(run.engine)
    state = "đã cập nhật" if current == head else "cần chạy: thidua db upgrade"
    typer.echo(f"hiện tại: {current or 'trống'} · mới nhất: {head} · {state}")
