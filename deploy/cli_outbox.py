"""`thidua outbox`: look at the queued emails, send the due ones now, put failed ones back in the queue and
free the claims of a dispatcher that died (no Prefect needed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine, select

from thidua.deploy.cli_common import ThiduaGroup, invocation
from thidua.errors import Conflict, NotFound, Unavailable
from thidua.models.states import OutboxStatus
from thidua.notifications.claims import holder_label, holder_state

if TYPE_CHECKING:
    from thidua.models.settings import Settings
    from thidua.tasks.core.queries import OutboxRow

app = typer.Typer(
    cls=ThiduaGroup,
    help="Hộp thư đi: xem, gửi ngay, gửi lại thư thất bại, giải phóng thư bị giữ.",
    no_args_is_help=True,
)

_STATUS_LABELS = {
    OutboxStatus.PENDING: "chờ gửi",
    OutboxStatus.SENDING: "đang gửi",
    OutboxStatus.SENT: "đã gửi",
    OutboxStatus.FAILED: "thất bại",
    OutboxStatus.CANCELLED: "đã huỷ",
}
_DETAIL = " " * 8

Code = Annotated[str | None, typer.Argument(help="Mã phong trào (bỏ trống: mọi phong trào).")]
Ids = Annotated[list[int] | None, typer.Option("--id", help="Chỉ thư có số này (lặp lại được).")]


def _cut(text: str | None, width: int) -> str:
    value = " ".join((text or "").split())
    return value if len(value) <= width else value[: width - 1] + "…"


def _when(tz: ZoneInfo, moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def _where(settings: Settings) -> str:
    if settings.smtp_host:
        return f"máy chủ thư {settings.smtp_host}:{settings.smtp_port}"
    return str(settings.outbox_dir)


def _details(tz: ZoneInfo, row: OutboxRow) -> list[str]:
    """The lines under a row: when it is tried next, why it was not sent last time, who holds it."""
    lines = []
    if row.status == OutboxStatus.PENDING:
        due = _when(tz, row.next_attempt_at) if row.next_attempt_at else "ở lần gửi tới"
        lines.append(f"lần thử tới: {due}")
    if row.status == OutboxStatus.SENDING and row.claimed_by:
        until = f" đến {_when(tz, row.lease_until)}" if row.lease_until else ""
        gone = holder_state(row.claimed_by) == "gone"
        note = " (tiến trình không còn chạy: `thidua outbox release`)" if gone else ""
        lines.append(f"đang giữ: {holder_label(row.claimed_by)}{until}{note}")
    if row.last_error and row.status != OutboxStatus.SENT:
        lines.append(f"lý do gần nhất: {_cut(row.last_error, 200)}")
    return lines


@app.command("list")
def list_messages(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Lọc theo trạng thái: pending, sending, sent, failed, cancelled."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Số thư tối đa (mới nhất trước).")] = 50,
) -> None:
    """Danh sách thư trong hộp thư đi: lần thử tới, lý do gần nhất, ai đang giữ thư và đến khi nào."""
    wanted: OutboxStatus | None = None
    if status:
        try:
            wanted = OutboxStatus(status.strip().lower())
        except ValueError as exc:
            choices = ", ".join(s.value for s in OutboxStatus)
            typer.echo(f"Trạng thái “{status}” không hợp lệ; chọn một trong: {choices}", err=True)
            raise typer.Exit(2) from exc
    from thidua.tasks.core.queries import list_outbox

    with invocation() as run:
        rows = list_outbox(run.engine, status=wanted, limit=limit)
    if not rows:
        typer.echo("Không có thư nào.")
        return
    typer.echo(f"{'SỐ':>6}  {'TRẠNG THÁI':<10}  {'NGƯỜI NHẬN':<32}  {'TIÊU ĐỀ':<50}  {'LẦN THỬ':>7}")
    for row in rows:
        label = _STATUS_LABELS.get(OutboxStatus(row.status), str(row.status))
        typer.echo(
            f"{row.id:>6}  {label:<10}  {_cut(row.recipient, 32):<32}  {_cut(row.subject, 50):<50}  "
            f"{row.attempts:>7}"
        )
        for line in _details(run.tz, row):
            typer.echo(f"{_DETAIL}{line}")


@app.command("dispatch")
def dispatch_now() -> None:
    """Gửi ngay các thư đến hạn (SMTP nếu đã cấu hình, nếu không thì ghi tệp .eml).

    Mã thoát 6 khi không kết nối được máy chủ thư (không thư nào bị tính lượt thử).
    """
    from thidua.notifications.outbox import dispatch, unsent_count

    with invocation() as run:
        result = dispatch(run.engine, run.settings, worker_id="cli")
        waiting = unsent_count(run.engine) if result.unreachable else 0
    settings = run.settings
    typer.echo(
        f"Đã gửi: {result.sent} · thất bại: {result.failed} · thử lại sau: {result.retried} · "
        f"bỏ qua: {result.skipped} ({_where(settings)})"
    )
    if result.unreachable:
        raise Unavailable(
            f"Không gửi được qua {_where(settings)}: {result.unreachable}. "
            f"{waiting} thư đang chờ gửi; không thư nào bị tính lượt thử.",
            hint="Kiểm tra máy chủ thư (địa chỉ, cổng, tài khoản, mạng) rồi chạy lại "
            "`thidua outbox dispatch`; `thidua serve` cũng tự thử lại mỗi phút.",
        )


def outage_line(emails: Mapping[str, Any]) -> str | None:
    """The line a command that sent emails prints when the mail server could not be reached, else None."""
    reason = emails.get("unreachable")
    if not reason:
        return None
    return (
        f"  Chưa gửi được {emails.get('waiting', 0)} thư: {reason}. Thư vẫn chờ, không bị tính lượt thử; "
        "`thidua serve` tự gửi lại mỗi phút, hoặc chạy `thidua outbox dispatch` khi máy chủ thư hoạt động."
    )


def _campaign_id(engine: Engine, code: str | None) -> int | None:
    if code is None:
        return None
    from thidua.tasks.core.campaigns import get_campaign

    with engine.connect() as conn:
        return get_campaign(conn, code).id


def _check_ids(engine: Engine, ids: list[int] | None, wanted: OutboxStatus, what: str) -> None:
    """Each --id names an email in the outbox, in the state the command acts on."""
    if not ids:
        return
    from thidua.notifications.outbox import OUTBOX

    c = OUTBOX.c
    with engine.connect() as conn:
        found = dict(conn.execute(select(c.id, c.status).where(c.id.in_(ids))).tuples().all())
    for ident in ids:
        if ident not in found:
            raise NotFound(f"Không có thư số {ident} trong hộp thư đi.", hint="Xem `thidua outbox list`.")
        if found[ident] != wanted:
            state = _STATUS_LABELS.get(OutboxStatus(found[ident]), str(found[ident]))
            raise Conflict(f"Thư số {ident} đang ở trạng thái “{state}”: {what}.")


@app.command("retry")
def retry(code: Code = None, ids: Ids = None) -> None:
    """Đưa thư thất bại trở lại hàng chờ gửi, lượt thử tính lại từ đầu (sau khi sửa địa chỉ, máy chủ…)."""
    from thidua.notifications.outbox import retry_failed

    with invocation() as run:
        _check_ids(run.engine, ids, OutboxStatus.FAILED, "chỉ thư thất bại mới gửi lại được")
        count = retry_failed(run.engine, ids=ids, campaign_id=_campaign_id(run.engine, code))
    if not count:
        typer.echo("Không có thư thất bại nào để gửi lại.")
        return
    typer.echo(
        f"Đã đưa {count} thư thất bại trở lại hàng chờ gửi. "
        "Chạy `thidua outbox dispatch` để gửi ngay (hoặc để `thidua serve` gửi)."
    )


@app.command("release")
def release(code: Code = None, ids: Ids = None) -> None:
    """Giải phóng thư đang bị giữ bởi một lần gửi đã chết (bị dừng giữa chừng), để gửi lại ngay.

    Thư do một tiến trình còn chạy trên máy này giữ thì không bị giải phóng. Trên máy khác, chỉ dùng khi
    chắc chắn tiến trình gửi đã dừng.
    """
    from thidua.notifications.outbox import release_claims

    with invocation() as run:
        _check_ids(run.engine, ids, OutboxStatus.SENDING, "chỉ thư đang gửi mới giải phóng được")
        released = release_claims(run.engine, ids=ids, campaign_id=_campaign_id(run.engine, code))
    for holder in released.running:
        typer.echo(f"Giữ nguyên thư của {holder}: tiến trình này vẫn đang chạy trên máy này.")
    if not released.freed:
        typer.echo("Không có thư nào cần giải phóng.")
        return
    typer.echo(
        f"Đã giải phóng {released.freed} thư; chạy `thidua outbox dispatch` để gửi ngay "
        "(thư đã gửi mà chưa kịp ghi nhận có thể đến người nhận lần nữa, cùng Message-ID)."
    )
