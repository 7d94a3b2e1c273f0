"""`thidua remind` and `thidua exempt`: one reminder sweep (or a dry run); exempt a unit from a deadline."""

from __future__ import annotations

from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation, os_user, parse_now
from thidua.errors import InvalidInput
from thidua.models.text import nfc
from thidua.tasks.remind.reminders import already_queued, grant_exemption, plan_reminders


def remind(
    code: str,
    as_of: AsOf = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ in ra ai sẽ nhận thư gì, không thay đổi gì.")
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Chạy lại lượt nhắc hằng ngày của mọi ngày làm việc từ --as-of đến ngày này (dd/mm/yyyy), "
            "trong một lượt chạy luồng.",
        ),
    ] = None,
) -> None:
    """Nhắc hạn (luồng Prefect “remind”): gửi thư nhắc, thư báo quá hạn, thư báo cấp trên, thư tổng hợp."""
    with invocation(as_of) as run:
        last = None
        if until is not None:
            last = parse_now(run.settings, until)
            if last.astimezone(run.settings.tz).date() < run.today:
                raise InvalidInput(
                    f"--until {until.strip()} trước ngày --as-of {run.today:%d/%m/%Y}.",
                    hint="Chọn --until từ ngày --as-of trở đi.",
                )
        if dry_run:
            # No Prefect and no writes: the plan is the decision alone.
            plan = plan_reminders(run.engine, code, run.now, tz=run.tz)
            typer.echo("(chạy thử — không gửi, không ghi gì)")
            for line in plan.lines(already_queued(run.engine, plan)):
                typer.echo(line)
            return
        run.use_prefect()
        from thidua.flows.remind import remind_flow

        summary = remind_flow(code, run.now, run.settings, until=last)
    for line in summary["lines"]:
        typer.echo(line)
    queue = summary.get("queue") or {}
    emails = summary.get("emails") or {}
    typer.echo(
        f"  Thư mới vào hộp thư đi: {queue.get('queued', 0)}"
        f" · huỷ (không còn cần nhắc): {queue.get('cancelled', 0)}"
        f" · đã gửi: {emails.get('sent', 0)}, lỗi: {emails.get('failed', 0)}"
    )
    from thidua.deploy.cli_outbox import outage_line

    if outage := outage_line(emails):
        typer.echo(outage)


def exempt(
    code: str,
    unit: Annotated[str, typer.Argument(help="Mã đơn vị được miễn.")],
    deadline: Annotated[str, typer.Argument(help="Hạn được miễn: 2024-03, final hoặc dossier.")],
    reason: Annotated[str, typer.Argument(help="Lý do miễn nộp.")],
    as_of: AsOf = None,
) -> None:
    """Miễn nộp một hạn cho một đơn vị: huỷ các thư nhắc còn chờ gửi của đơn vị cho hạn đó."""
    with invocation(as_of) as run:
        created, cancelled = grant_exemption(
            run.engine, code, unit, deadline, reason, granted_by=os_user(), now=run.now
        )
    state = "Đã miễn nộp" if created else "Đơn vị đã được miễn từ trước"
    typer.echo(f"{state}: đơn vị {nfc(unit)}, hạn {nfc(deadline)}. Đã huỷ {cancelled} thư nhắc chờ gửi.")


# One single-command application each, so the root loads this module only for `thidua remind` or `exempt`.
remind_app = typer.Typer(cls=ThiduaGroup)
remind_app.command("remind")(remind)
exempt_app = typer.Typer(cls=ThiduaGroup)
exempt_app.command("exempt")(exempt)
