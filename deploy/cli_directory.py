"""`thidua directory ...`: import the organisation directory, write demo files, show what is stored.

Mounted by the main CLI as a sub-app (`app.add_typer(directory_app, name="directory")`). It imports nothing of
Prefect, so these commands start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation
from thidua.deploy.demo.directory import DEMO_NAMES, write_demo
from thidua.errors import NotFound
from thidua.models.labels import LEVEL_LABELS
from thidua.tasks.core.directory import (
    directory_counts,
    import_directory,
    unit_counts_by_level,
)

app = typer.Typer(
    cls=ThiduaGroup,
    name="directory",
    help="Danh bạ tổ chức: đơn vị, cán bộ, kỷ luật.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Các tệp CSV/XLSX: đơn vị, cán bộ, kỷ luật (nhập cùng lúc, theo thứ tự phụ thuộc)"
        ),
    ],
    as_of: AsOf = None,
) -> None:
    """Nhập danh bạ từ các tệp: có lỗi ở bất kỳ dòng nào thì không nhập gì cả."""
    with invocation(as_of) as run:
        summary = import_directory(run.engine, files, run.now)
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
        raise NotFound(f"Không có bộ dữ liệu mẫu “{name}”; có: {', '.join(DEMO_NAMES)}.")
    for path in write_demo(name, out):
        typer.echo(str(path))


@app.command("show")
def show_command() -> None:
    """Số đơn vị (theo cấp), cán bộ và quyết định kỷ luật trong cơ sở dữ liệu."""
    with invocation() as run:
        counts = directory_counts(run.engine)
        by_level = unit_counts_by_level(run.engine)
    levels = ", ".join(
        f"{label} {by_level[level]}" for level, label in LEVEL_LABELS.items() if by_level.get(level)
    )
    typer.echo(f"Đơn vị: {counts['units']}" + (f" ({levels})" if levels else ""))
    typer.echo(f"Cán bộ: {counts['people']} (đang công tác {counts['people_active']})")
    typer.echo(f"Kỷ luật: {counts['discipline']}")


__all__ = ["app"]
