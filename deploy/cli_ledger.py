"""`thidua ledger ...`: import case ledgers, show the figures computed from them, reconcile, demo ledgers.

Mounted by the main CLI as a sub-app (`app.add_typer(ledger_app, name="ledger")`). It imports nothing of
Prefect, so these commands start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thidua.deploy.cli_common import ThiduaGroup, invocation
from thidua.deploy.demo.ledger import CAMPAIGN_DEMOS, write_demo_ledger
from thidua.models.text import fmt_date
from thidua.tasks.collect.ledger import (
    LedgerNotReady,
    current_import,
    import_ledger,
    ledger_figures,
    reconcile,
)

app = typer.Typer(
    cls=ThiduaGroup,
    name="ledger",
    help="Sổ thụ lý (danh sách việc thi hành án): nhập, tính chỉ số, đối chiếu với báo cáo.",
    no_args_is_help=True,
    add_completion=False,
)


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}".replace(",", ".")


@app.command("import")
def import_command(
    code: Annotated[str, typer.Argument(help="Mã phong trào")],
    file: Annotated[Path, typer.Argument(help="Sổ thụ lý: tệp .csv (UTF-8) hoặc .xlsx")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Sổ cập nhật đến ngày (dd/mm/yyyy; mặc định: hôm nay)")
    ] = None,
) -> None:
    """Nhập sổ thụ lý: có lỗi ở bất kỳ dòng nào thì không nhập gì, sổ đang dùng giữ nguyên."""
    # --as-of is the day the ledger stands at; the import itself is stamped with the real clock.
    with invocation() as run:
        result = import_ledger(
            run.engine, code, file, as_of=run.day(as_of) if as_of else run.today, now=run.now
        )
    typer.echo(result.summary())


@app.command("figures")
def figures_command(
    code: Annotated[str, typer.Argument(help="Mã phong trào")],
    at: Annotated[
        str | None, typer.Option("--at", help="Tính đến hết ngày (dd/mm/yyyy; mặc định: ngày của sổ)")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="unit (đơn vị) hoặc officer (chấp hành viên)")] = "unit",
) -> None:
    """Các chỉ số của phong trào tính từ sổ thụ lý, theo đơn vị hoặc theo chấp hành viên."""
    if by not in ("unit", "officer"):
        raise typer.BadParameter("chọn unit hoặc officer", param_hint="--by")
    with invocation() as run:
        current = current_import(run.engine, code)
        if current is None:
            raise LedgerNotReady(
                f"Phong trào “{code}” chưa nhập sổ thụ lý.", hint=f"Chạy `thidua ledger import {code} TỆP`."
            )
        day = run.day(at) if at else current.as_of
        figures = ledger_figures(run.engine, code, at=day, by="unit" if by == "unit" else "officer")
    typer.echo(
        f"Sổ “{current.source_name}” (tính đến {fmt_date(current.as_of)}); chỉ số đến hết {fmt_date(day)}:"
    )
    if day > current.as_of:
        typer.echo(f"Lưu ý: ngày tính sau ngày của sổ ({fmt_date(current.as_of)}).")
    fields = list(next(iter(figures.values()), {}))
    typer.echo("\t".join(["Mã", *fields]))
    for group, values in figures.items():
        typer.echo("\t".join([group, *(_number(values[f]) for f in fields)]))


@app.command("reconcile")
def reconcile_command(
    code: Annotated[str, typer.Argument(help="Mã phong trào")],
    period: Annotated[str, typer.Option("--period", help="Kỳ báo cáo, ví dụ 2024-03 hoặc final")],
    show_all: Annotated[bool, typer.Option("--all", help="In cả các dòng khớp")] = False,
) -> None:
    """Đối chiếu số liệu đơn vị báo cáo với số tính từ sổ thụ lý (kết quả thực chất)."""
    with invocation() as run:
        rows = reconcile(run.engine, code, period)
    differing = [r for r in rows if not r.matches]
    typer.echo(
        f"Đối chiếu kỳ {period}: {len(rows)} chỉ số của {len({r.unit_code for r in rows})} đơn vị, "
        f"{len(differing)} chỉ số lệch hoặc chưa báo cáo."
    )
    shown = rows if show_all else differing
    if shown:
        typer.echo("Đơn vị\tChỉ số\tBáo cáo\tTheo sổ\tChênh lệch")
        for r in shown:
            diff = "chưa báo cáo" if r.difference is None else f"{r.difference:+,}".replace(",", ".")
            typer.echo(f"{r.unit_code}\t{r.field}\t{_number(r.reported)}\t{_number(r.computed)}\t{diff}")


@app.command("demo")
def demo_command(
    code: Annotated[str, typer.Argument(help=f"Mã phong trào hoặc bộ mẫu: {', '.join(CAMPAIGN_DEMOS)}")],
    out: Annotated[Path, typer.Option("--out", help="Tệp CSV ghi ra")],
    units: Annotated[
        list[str] | None,
        typer.Option("--units", help="Chỉ các đơn vị này (lặp lại tùy chọn hoặc cách nhau bởi dấu phẩy)"),
    ] = None,
    rows: Annotated[int | None, typer.Option("--rows", min=0, help="Số việc (mặc định theo bộ mẫu)")] = None,
) -> None:
    """Ghi sổ thụ lý mẫu (luôn giống hệt nhau giữa các lần chạy) cho danh bạ mẫu."""
    chosen = [u.strip() for item in units or [] for u in item.split(",") if u.strip()]
    path = write_demo_ledger(code, out, units=chosen or None, rows=rows)
    typer.echo(str(path))


__all__ = ["app"]
