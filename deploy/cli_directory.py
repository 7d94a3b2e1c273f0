"""`thidua directory ...`: import the organisation directory, write demo files, show what is stored.

Mounted by the main CLI as a sub-app (`app.add_typer(directory_app, name="directory")`). It imports nothing of
Prefect, so these commands start fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from thidua.models.db import ensure_schema, make_engine
from thidua.models.directory import LEVEL_LABELS
from thidua.models.settings import Settings
from thidua.tasks.core.directory import (
    DEMO_NAMES,
    DirectoryImportError,
    directory_counts,
    import_directory,
    unit_counts_by_level,
    write_demo,
)

app = typer.Typer(
    name="directory",
    help="Danh bạ tổ chức: đơn vị, cán bộ, kỷ luật.",
    no_args_is_help=True,
    add_completion=False,
)


def _parse_as_of(text: str | None, settings: Settings) -> datetime:
    if text is None:
        return datetime.now(settings.tz)  # the CLI is the edge where the wall clock enters
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise typer.BadParameter(
            f"“{text}” không phải thời điểm hợp lệ (dạng 2024-01-02T08:00 hoặc 2024-01-02)",
            param_hint="--as-of",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=settings.tz)


@app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Các tệp CSV/XLSX: đơn vị, cán bộ, kỷ luật (nhập cùng lúc, theo thứ tự phụ thuộc)"
        ),
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Thời điểm ghi nhận cập nhật (mặc định: bây giờ)")
    ] = None,
) -> None:
    """Nhập danh bạ từ các tệp: có lỗi ở bất kỳ dòng nào thì không nhập gì cả."""
    settings = Settings()
    now = _parse_as_of(as_of, settings)
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        summary = import_directory(engine, files, now)
    except DirectoryImportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"Đã nhập danh bạ từ {len(files)} tệp:")
    for line in summary.lines():
        typer.echo(f"  {line}")


@app.command("demo")
def demo_command(
    name: Annotated[str, typer.Argument(help=f"Bộ dữ liệu mẫu: {', '.join(DEMO_NAMES)}")],
    out: Annotated[Path, typer.Option("--out", help="Thư mục ghi các tệp CSV")],
) -> None:
    """Ghi các tệp CSV danh bạ mẫu (luôn giống hệt nhau giữa các lần chạy)."""
    if name not in DEMO_NAMES:
        typer.echo(f"Không có bộ dữ liệu mẫu “{name}”; có: {', '.join(DEMO_NAMES)}", err=True)
        raise typer.Exit(1)
    for path in write_demo(name, out):
        typer.echo(str(path))


@app.command("show")
def show_command() -> None:
    """Số đơn vị (theo cấp), cán bộ và quyết định kỷ luật trong cơ sở dữ liệu."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        counts = directory_counts(engine)
        by_level = unit_counts_by_level(engine)
    finally:
        engine.dispose()
    levels = ", ".join(
        f"{label} {by_level[level]}" for level, label in LEVEL_LABELS.items() if by_level.get(level)
    )
    typer.echo(f"Đơn vị: {counts['units']}" + (f" ({levels})" if levels else ""))
    typer.echo(f"Cán bộ: {counts['people']} (đang công tác {counts['people_active']})")
    typer.echo(f"Kỷ luật: {counts['discipline']}")


__all__ = ["app"]
