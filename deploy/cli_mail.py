"""`thidua mail`: the mailbox units reply to — read it now, list the messages kept for an administrator."""

from __future__ import annotations

from datetime import UTC

import typer

from thidua.deploy.cli_common import ThiduaGroup, invocation
from thidua.errors import Unavailable

app = typer.Typer(
    cls=ThiduaGroup,
    help="Hộp thư nhận báo cáo (IMAP): đọc ngay, xem thư bị giữ lại.",
    no_args_is_help=True,
)


@app.command("held")
def held() -> None:
    """Thư bị giữ lại vì người gửi không phải địa chỉ của đơn vị (mới nhất trước), kèm lý do."""
    from thidua.tasks.collect.mailbox import held_messages

    with invocation() as run:
        rows = held_messages(run.engine)
        tz = run.settings.tz
    if not rows:
        typer.echo("Không có thư nào bị giữ lại.")
        return
    typer.echo(f"{len(rows)} thư bị giữ lại (chưa được tiếp nhận):")
    for row in rows:
        when = (
            row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
        ).astimezone(tz)
        typer.echo(f"  {when:%d/%m/%Y %H:%M}  {row.sender}  “{' '.join(row.subject.split())[:80]}”")
        typer.echo(f"        {row.reason}")
        if row.source_name:
            typer.echo(f"        Tệp đính kèm: {row.source_name}")
        if row.held_key:
            typer.echo(f"        Thư gốc lưu tại: {row.held_key}")


@app.command("read")
def read_now() -> None:
    """Đọc hộp thư ngay (như mỗi lần thu thập số liệu): tiếp nhận báo cáo gửi kèm thư, trả lời người gửi.

    Mã thoát 6 khi không kết nối được máy chủ thư."""
    from thidua.notifications.outbox import dispatch
    from thidua.tasks.collect.mailbox import sweep_mailbox

    with invocation() as run:
        if not run.settings.uses_imap:
            typer.echo("Chưa cấu hình hộp thư nhận báo cáo (THIDUA_IMAP_HOST trống).")
            return
        result = sweep_mailbox(run.engine, run.settings, now=run.now)
        sent = dispatch(run.engine, run.settings, worker_id="cli-mail")
    typer.echo(
        f"Hộp thư {run.settings.imap_username or run.settings.imap_host}: {result.read} thư; "
        f"{result.accepted} báo cáo được tiếp nhận, {result.unchanged} không đổi, "
        f"{result.rejected} bị trả lại, "
        f"{result.refused} bị giữ lại (người gửi không đúng), {result.answered} thư được trả lời; "
        f"{sent.sent} thư trả lời đã gửi."
    )
    if result.unreachable:
        raise Unavailable(f"Không đọc hết được hộp thư: {result.unreachable}")
