"""`thidua collect CODE`: the collection flow of one campaign."""

from __future__ import annotations

from typing import Any

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation

app = typer.Typer(cls=ThiduaGroup)


@app.command()
def collect(code: str, as_of: AsOf = None) -> None:
    """Thu thập số liệu (luồng Prefect “collect”): hộp thư đến, tổng hợp, tỷ lệ báo cáo, gửi thư."""
    with invocation(as_of) as run:
        run.use_prefect()
        from thidua.flows.collect import collect_flow

        summary = collect_flow(code, run.now, run.settings)
    print_collect_summary(summary)


def print_collect_summary(summary: dict[str, Any]) -> None:
    inbox = summary.get("inbox") or {}
    typer.echo(f"Phong trào {summary['code']}: thu thập số liệu ngày {summary['as_of']}.")
    typer.echo(
        f"  Hộp thư đến: {inbox.get('accepted', 0)} tệp được tiếp nhận,"
        f" {inbox.get('rejected', 0)} tệp bị trả lại"
    )
    mail = summary.get("mail") or {}
    if mail.get("enabled"):
        counts = (
            f"{mail.get('read', 0)} thư; {mail.get('accepted', 0)} báo cáo được tiếp nhận, "
            f"{mail.get('rejected', 0)} bị trả lại, {mail.get('refused', 0)} bị giữ lại, "
            f"{mail.get('answered', 0)} thư được trả lời"
        )
        unread = f" (chưa đọc hết: {mail['unreachable']})" if mail.get("unreachable") else ""
        typer.echo(f"  Hộp thư nhận báo cáo: {counts}{unread}")
    status = summary.get("timeliness") or {}
    if status:
        typer.echo(f"  Kỳ {status['period']}: {status['summary']}")
        if status["missing"]:
            typer.echo("  Quá hạn chưa nộp: " + ", ".join(status["missing"]))
