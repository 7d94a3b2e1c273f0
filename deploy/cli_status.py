"""`thidua campaign status` and `thidua campaign targets`: where a campaign stands, and per-unit targets.

Both are read-or-load commands on the database: no Prefect here, so they answer in a moment. The status
table is computed from the reports received by `--as-of` (default: now), so it can be replayed for any day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation

app = typer.Typer(
    cls=ThiduaGroup,
    help="Tình hình thực hiện phong trào và chỉ tiêu giao cho từng đơn vị.",
    no_args_is_help=True,
)


@app.command("status")
def status(
    code: str,
    as_of: AsOf = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="Kỳ báo cáo (yyyy-mm, mm/yyyy hoặc final); mặc định: kỳ mới nhất đã đến hạn."
        ),
    ] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Ghi thêm bảng tính XLSX vào tệp này.")] = None,
    chart: Annotated[Path | None, typer.Option("--chart", help="Ghi thêm biểu đồ PNG vào tệp này.")] = None,
) -> None:
    """Bảng tình hình: đơn vị đã báo cáo chưa, đúng hạn không, từng chỉ tiêu so với mục tiêu, xu hướng."""
    from thidua.tasks.collect.status_report import status_lines
    from thidua.tasks.collect.status_table import campaign_status

    with invocation(as_of) as run:
        table = campaign_status(run.engine, code, as_of=run.today, period=period, tz=run.tz)
    for line in status_lines(table):
        typer.echo(line)
    if xlsx is not None or chart is not None:
        from thidua.tasks.collect.status_report import write_status_chart, write_status_xlsx

        typer.echo("")
        if xlsx is not None:
            typer.echo(f"Đã ghi bảng tính: {write_status_xlsx(table, xlsx)}")
        if chart is not None:
            typer.echo(f"Đã ghi biểu đồ: {write_status_chart(table, chart)}")


@app.command("targets")
def targets(
    code: str,
    file: Annotated[Path, typer.Argument(help="Tệp CSV/XLSX có các cột: Mã đơn vị, Chỉ tiêu, Giá trị.")],
    as_of: AsOf = None,
) -> None:
    """Nhập chỉ tiêu giao riêng cho từng đơn vị (ví dụ “83,90%”); có lỗi thì không nhập dòng nào."""
    from thidua.tasks.collect.progress import import_targets

    with invocation(as_of) as run:
        result = import_targets(run.engine, code, file, now=run.now)
    typer.echo(
        f"Đã nhập chỉ tiêu giao riêng từ {result.source_name}: {result.rows} dòng "
        f"(thêm mới {result.inserted}, cập nhật {result.updated}, không đổi {result.unchanged})."
    )
