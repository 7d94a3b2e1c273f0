"""`thidua close` and `thidua reopen`: the closing run (flow “close”) and an administrator's reopening."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation, os_user
from thidua.models.labels import campaign_status
from thidua.models.settings import Settings
from thidua.models.storage import storage_for


def close(code: str, as_of: AsOf = None) -> None:
    """Tổng kết phong trào (luồng Prefect “close”): chốt số liệu, xếp hạng, lập báo cáo tổng kết, gửi thư."""
    with invocation(as_of) as run:
        run.use_prefect()
        from thidua.flows.close import close_flow

        summary = close_flow(code, run.now, run.settings)
    print_close_summary(summary, run.settings)


def print_close_summary(summary: dict[str, Any], settings: Settings) -> None:
    state = "vừa kết thúc" if summary["closed_now"] else f"đã ở trạng thái “{summary['status_label']}”"
    typer.echo(f"Phong trào {summary['code']}: {state}.")
    met, not_met = summary["units_met"], summary["units_not_met"]
    missing, no_value = summary["units_missing"], summary["units_no_value"]
    reporting = len(met) + len(not_met) + len(missing) + len(no_value)
    typer.echo(
        f"  Đơn vị đạt chỉ tiêu: {len(met)}/{reporting} · không đạt: {len(not_met)}"
        f" · không có báo cáo tổng kết: {len(missing)}"
        + (f" · không có số liệu để tính: {len(no_value)}" if no_value else "")
    )
    for title, codes in (("Đạt", met), ("Không đạt", not_met), ("Không có báo cáo", missing)):
        if codes:
            typer.echo(f"    {title}: " + ", ".join(codes))
    to_verify = summary.get("units_to_verify") or []
    if to_verify:
        typer.echo("    Cần xác minh (số liệu chênh lệch với sổ thụ lý): " + ", ".join(to_verify))
    version = int(summary.get("report_version") or 1)
    typer.echo(f"  Tài liệu{f' (báo cáo tổng kết lần {version})' if version > 1 else ''}:")
    for label, key in (("Báo cáo tổng kết (DOCX)", "report"), ("Biểu tổng hợp (XLSX)", "table"),
                       ("Biểu đồ (PNG)", "chart")):  # fmt: skip
        typer.echo(f"    {label}: {storage_for(settings).show(summary['documents'][key])}")
    emails = summary.get("emails") or {}
    typer.echo(
        f"  Thư mới vào hộp thư đi: {summary['emails_queued']}"
        f" · đã gửi: {emails.get('sent', 0)}, lỗi: {emails.get('failed', 0)},"
        f" chờ gửi lại: {emails.get('retried', 0)}"
    )
    from thidua.deploy.cli_outbox import outage_line

    if outage := outage_line(emails):
        typer.echo(outage)


def reopen(
    code: str,
    reason: Annotated[str, typer.Option("--reason", help="Lý do mở lại kỳ báo cáo (ghi vào nhật ký).")],
    as_of: AsOf = None,
) -> None:
    """Mở lại kỳ báo cáo của phong trào đã kết thúc: các đơn vị lại gửi được báo cáo đến lần tổng kết sau."""
    from thidua.tasks.close.closing import reopen as reopen_campaign

    with invocation(as_of) as run:
        result = reopen_campaign(run.engine, code, now=run.now, actor=os_user(), reason=reason)
    if result.changed:
        typer.echo(
            f"Phong trào {result.code}: đã mở lại kỳ báo cáo "
            f"({campaign_status(result.before)} → {campaign_status(result.status)}). "
            "Chạy lại “thidua close” để tổng kết khi các đơn vị đã gửi xong."
        )
    else:
        typer.echo(f"Phong trào {result.code} đang nhận báo cáo: không cần mở lại.")


close_app = typer.Typer(cls=ThiduaGroup)
close_app.command("close")(close)
reopen_app = typer.Typer(cls=ThiduaGroup)
reopen_app.command("reopen")(reopen)


def register(app: typer.Typer) -> None:
    """Add `close` and `reopen` to a `thidua` application."""
    app.command("close")(close)
    app.command("reopen")(reopen)
