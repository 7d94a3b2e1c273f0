"""`thidua db upgrade|status|backup|restore`: the schema migrations, and the database with its files."""

from __future__ import annotations

from pathlib import Path

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


def _summary(verb: str, summary: object) -> None:
    from thidua.deploy.backup import BackupSummary

    assert isinstance(summary, BackupSummary)
    size = f"{summary.bytes / 1_048_576:.1f} MB".replace(".", ",")
    typer.echo(
        f"{verb} {summary.folder}: cơ sở dữ liệu {summary.database} (phiên bản {summary.revision or 'trống'})"
        f" · {summary.files} tệp · {size}"
    )


@db_app.command("backup")
def db_backup(
    folder: Path = typer.Argument(..., help="Thư mục mới (hoặc trống) để chứa bản sao lưu."),
) -> None:
    """Sao lưu cơ sở dữ liệu cùng mọi tệp đã lưu (tài liệu, báo cáo, hồ sơ, hộp thư) vào một thư mục."""
    from thidua.deploy.backup import backup
    from thidua.models.storage import storage_for

    with invocation() as run:
        summary = backup(run.engine, storage_for(run.settings), folder, run.now)
    _summary("Đã sao lưu vào", summary)


@db_app.command("restore")
def db_restore(
    folder: Path = typer.Argument(..., help="Thư mục sao lưu do `thidua db backup` tạo."),
) -> None:
    """Khôi phục một bản sao lưu vào cơ sở dữ liệu và kho lưu trữ mới, trống của cấu hình này."""
    from thidua.deploy.backup import restore
    from thidua.models.storage import storage_for

    with invocation(migrate=False) as run:
        summary = restore(run.engine, storage_for(run.settings), folder)
    _summary("Đã khôi phục từ", summary)
