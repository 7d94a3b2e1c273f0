"""`thidua outbox`: look at the queued emails and send the due ones now (no Prefect needed)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from sqlalchemy import select

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation
from thidua.models.outbox import OutboxStatus
from thidua.notifications.outbox import OUTBOX, dispatch

app = typer.Typer(cls=ThiduaGroup, help="Hộp thư đi: xem và gửi các thư đang chờ.", no_args_is_help=True)

_STATUS_LABELS = {
    OutboxStatus.PENDING: "chờ gửi",
    OutboxStatus.SENDING: "đang gửi",
    OutboxStatus.SENT: "đã gửi",
    OutboxStatus.FAILED: "thất bại",
}


def _cut(text: str | None, width: int) -> str:
    value = " ".join((text or "").split())
    return value if len(value) <= width else value[: width - 1] + "…"


@app.command("list")
def list_messages(
    status: Annotated[
        str | None, typer.Option("--status", help="Lọc theo trạng thái: pending, sending, sent, failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Số thư tối đa (mới nhất trước).")] = 50,
) -> None:
    """Danh sách thư trong hộp thư đi."""
    wanted: OutboxStatus | None = None
    if status:
        try:
            wanted = OutboxStatus(status.strip().lower())
        except ValueError as exc:
            choices = ", ".join(s.value for s in OutboxStatus)
            typer.echo(f"Trạng thái “{status}” không hợp lệ; chọn một trong: {choices}", err=True)
            raise typer.Exit(2) from exc
    c = OUTBOX.c
    query = select(c.id, c.status, c.recipient, c.subject, c.attempts, c.last_error).order_by(c.id.desc())
    if wanted is not None:
        query = query.where(c.status == wanted)
    with invocation() as run, run.engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
    if not rows:
        typer.echo("Không có thư nào.")
        return
    typer.echo(
        f"{'ID':>6}  {'TRẠNG THÁI':<10}  {'NGƯỜI NHẬN':<32}  {'TIÊU ĐỀ':<50}  {'LẦN':>3}  LỖI GẦN NHẤT"
    )
    for row in rows:
        label = _STATUS_LABELS.get(OutboxStatus(row.status), str(row.status))
        typer.echo(
            f"{row.id:>6}  {label:<10}  {_cut(row.recipient, 32):<32}  {_cut(row.subject, 50):<50}  "
            f"{row.attempts:>3}  {_cut(row.last_error, 80)}"
        )


@app.command("dispatch")
def dispatch_now(as_of: AsOf = None) -> None:
    """Gửi ngay các thư đến hạn (SMTP nếu đã cấu hình, nếu không thì ghi tệp .eml)."""
    with invocation(as_of) as run:
        result = dispatch(run.engine, run.settings, now=run.now, worker_id=f"cli@{socket.gethostname()}")
    settings = run.settings
    where = (
        f"máy chủ {settings.smtp_host}:{settings.smtp_port}"
        if settings.smtp_host
        else str(settings.outbox_dir)
    )
    typer.echo(
        f"Đã gửi: {result.sent} · thất bại: {result.failed} · thử lại sau: {result.retried} · "
        f"bỏ qua: {result.skipped} ({where})"
    )
