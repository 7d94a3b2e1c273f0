"""`thidua report`: the unit report template, submitting filled files, their history, the inbox.

No Prefect here: the collection flow calls the same tasks on a schedule.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation, os_user
from thidua.deploy.cli_outbox import outage_line
from thidua.errors import EXIT_CODES, InvalidInput
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, nfc
from thidua.notifications.outbox import DispatchResult, dispatch
from thidua.tasks.collect.reports import (
    IngestResult,
    ingest_files,
    normalise_key,
    process_inbox,
    report_history,
    write_template,
)

app = typer.Typer(
    cls=ThiduaGroup,
    help="Báo cáo số liệu định kỳ của đơn vị: mẫu, nộp, lịch sử, hộp thư đến.",
    no_args_is_help=True,
)


@app.command("template")
def template(
    code: str,
    unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị báo cáo.")],
    period: Annotated[str, typer.Option("--period", help="Kỳ báo cáo: yyyy-mm (ví dụ 2024-03) hoặc final.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Tệp ghi ra (.xlsx, hoặc .csv cho mẫu dạng CSV).")
    ] = None,
) -> None:
    """Xuất mẫu báo cáo (XLSX, hoặc CSV) đã điền sẵn phong trào, đơn vị, kỳ báo cáo."""
    key = normalise_key(period)
    target = output or Path(f"bao-cao-{nfc(code).upper()}-{nfc(unit)}-{key}.xlsx")
    with invocation() as run:
        path = write_template(run.engine, code, unit, key, target)
    typer.echo(f"Đã ghi mẫu báo cáo: {path}")


def _print_result(result: IngestResult) -> None:
    if result.status == "accepted":
        timing = "đúng hạn" if result.on_time else "QUÁ HẠN"
        extra = " · đính chính" if result.is_correction else ""
        typer.echo(
            f"✓ {result.source_name}: đã tiếp nhận — đơn vị {result.unit_code}, kỳ {result.period_key}, "
            f"lần nộp {result.revision}, {timing}{extra}"
        )
        for key, (old, new) in result.changes.items():
            typer.echo(f"    thay đổi {key}: {old} → {new}")
    elif result.status == "unchanged":
        typer.echo(
            f"= {result.source_name}: giống hệt lần nộp {result.revision} của đơn vị {result.unit_code}, "
            f"kỳ {result.period_key} — không thay đổi gì"
        )
    else:
        typer.echo(f"✗ {result.source_name}: không tiếp nhận ({len(result.errors)} lỗi)")
        for error in result.errors:
            typer.echo(f"    - {error}")
        if result.notified:
            typer.echo("    (đã xếp thư báo lỗi gửi đơn vị)")
    for warning in result.warnings:
        typer.echo(f"    ! lưu ý: {warning}")


def _dispatch(engine: Engine, settings: Settings) -> DispatchResult:
    return dispatch(engine, settings, worker_id="report")


def _print_dispatch(settings: Settings, sent: DispatchResult) -> None:
    if sent.sent or sent.failed or sent.retried:
        where = (
            f"SMTP {settings.smtp_host}:{settings.smtp_port}"
            if settings.uses_smtp
            else str(settings.outbox_dir)
        )
        typer.echo(f"Thư: đã gửi {sent.sent} · lỗi {sent.failed} · chờ gửi lại {sent.retried} ({where})")
    if outage := outage_line(asdict(sent)):
        typer.echo(outage)


@app.command("submit")
def submit(
    code: str,
    files: Annotated[list[Path], typer.Argument(help="Các tệp báo cáo đã điền (.xlsx hoặc .csv).")],
    as_of: AsOf = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Người nộp (email); mặc định: người dùng máy.")
    ] = None,
) -> None:
    """Nộp báo cáo đã điền; mỗi tệp được kiểm tra riêng. Mã thoát 2 nếu có tệp bị từ chối."""
    with invocation(as_of) as run:
        results = ingest_files(
            run.engine, run.settings, code, files, now=run.now, submitted_by=by or os_user()
        )
        for result in results:
            _print_result(result)
        _print_dispatch(run.settings, _dispatch(run.engine, run.settings))
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(EXIT_CODES[InvalidInput])  # the reasons are printed above, file by file


@app.command("history")
def history(
    code: str,
    unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị.")],
    period: Annotated[str, typer.Option("--period", help="Kỳ báo cáo: yyyy-mm hoặc final.")],
) -> None:
    """Các lần nộp báo cáo của một đơn vị cho một kỳ: ai nộp, khi nào, thay đổi gì."""
    with invocation() as run:
        entries = report_history(run.engine, code, unit, period)
    key = normalise_key(period)
    if not entries:
        typer.echo(f"Đơn vị {unit} chưa nộp báo cáo kỳ {key}.")
        return
    typer.echo(f"Báo cáo của đơn vị {unit}, kỳ {key} ({nfc(code).upper()}):")
    for e in entries:
        local = e.received_at.astimezone(run.tz)
        state = "hiện hành" if e.is_current else "đã thay thế"
        timing = "đúng hạn" if e.on_time else f"quá hạn (hạn {fmt_date(e.due_date)})"
        flags = " · đính chính" if e.is_correction else ""
        typer.echo(
            f"  Lần {e.revision} ({state}) — nhận {local:%H:%M} {fmt_date(local)} "
            f"từ {e.submitted_by or 'không rõ'} — {timing}{flags} — tệp “{e.source_name}”"
        )
        typer.echo("    số liệu: " + ", ".join(f"{k} = {v}" for k, v in e.values.items()))
        if e.changes:
            typer.echo(
                "    thay đổi: " + ", ".join(f"{k}: {old} → {new}" for k, (old, new) in e.changes.items())
            )
        if e.note:
            for line in e.note.splitlines():
                typer.echo(f"    lưu ý: {line}")


@app.command("inbox")
def inbox(code: str, as_of: AsOf = None) -> None:
    """Xử lý một lần hộp thư đến của phong trào (<data>/inbox/<MÃ>/), rồi gửi thư báo lỗi."""
    with invocation(as_of) as run:
        result = process_inbox(run.engine, run.settings, code, now=run.now)
        for item in result.results:
            _print_result(item)
        typer.echo(
            f"Hộp thư đến {result.inbox}: tiếp nhận {result.accepted} · không đổi {result.unchanged} · "
            f"từ chối {result.rejected}"
        )
        _print_dispatch(run.settings, _dispatch(run.engine, run.settings))
