"""`thidua campaign …`: check and launch a definition; list and show campaigns; status and targets."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from thidua.deploy.cli_common import AsOf, Invocation, ThiduaGroup, invocation
from thidua.deploy.cli_status import status as status_command
from thidua.deploy.cli_status import targets as targets_command
from thidua.models.labels import campaign_status, unit_level
from thidua.models.text import fmt_date

if TYPE_CHECKING:
    from thidua.models.settings import Settings

app = typer.Typer(cls=ThiduaGroup, help="Phong trào thi đua: kiểm tra, phát động, xem.", no_args_is_help=True)
campaign_app = app
app.command("status")(status_command)
app.command("targets")(targets_command)


@campaign_app.command("validate")
def campaign_validate(file: Path) -> None:
    """Kiểm tra tệp định nghĩa phong trào (YAML) và phạm vi của nó với danh bạ; mã thoát khác 0 nếu có lỗi."""
    from thidua.models.definition import load_definition

    defn = load_definition(file)
    with invocation() as run:
        scope = _scope_line(run, defn)  # refuses before anything says the file is valid
    typer.echo(f"{file}: hợp lệ — {defn.code}: {defn.title}")
    typer.echo(scope)


def _scope_line(run: Invocation, defn: Any) -> str:
    """The scope against the directory as it is (a ScopeError, exit 2, names the units it lacks).

    A database that does not exist yet is not created for a check: the scope is then left for the launch."""
    from sqlalchemy.engine import make_url

    from thidua.tasks.launch.campaign import EmptyDirectory, check_scope

    url = make_url(run.core.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return "  Phạm vi: chưa kiểm tra — chưa có cơ sở dữ liệu (danh bạ chưa được nhập)."
    try:
        units = check_scope(run.engine, defn)
    except EmptyDirectory:
        return "  Phạm vi: chưa kiểm tra — danh bạ đơn vị trống (thidua directory import …)."
    return f"  Phạm vi: {units} đơn vị trong danh bạ thuộc phạm vi phong trào."


@campaign_app.command("launch")
def campaign_launch(file: Path, as_of: AsOf = None) -> None:
    """Phát động phong trào (luồng Prefect “launch”): ghi nhận, lập danh sách, lịch, kế hoạch, gửi thư."""
    with invocation(as_of) as run:
        summary = run_launch(run.settings, file, run.now)
    print_launch_summary(run.settings, summary)


def run_launch(settings: Settings, file: Path, now: datetime) -> dict[str, Any]:
    from thidua.models.definition import load_definition

    load_definition(file)  # fail fast, before starting Prefect, on a bad file
    from thidua.deploy.prefect_env import configure_prefect

    typer.echo(configure_prefect(settings))
    from thidua.flows.launch import launch_flow

    return launch_flow(str(file.resolve()), now, settings)


def print_launch_summary(settings: Settings, summary: dict[str, Any]) -> None:
    state = "đã phát động" if summary["launched"] else "đã phát động từ trước — không thay đổi gì"
    emails = summary["emails"]
    typer.echo(f"Phong trào {summary['code']}: {state}.")
    typer.echo(
        f"  Đơn vị tham gia: {summary['units']} · cán bộ: {summary['people']}"
        f" · hạn nộp: {summary['deadlines']}"
    )
    if summary["units_without_email"]:
        typer.echo("  Đơn vị chưa có email (không gửi được): " + ", ".join(summary["units_without_email"]))
    typer.echo(f"  Kế hoạch: {summary['plan']}")
    typer.echo(
        f"  Thư mới xếp hàng: {summary['emails_queued']} · đã gửi: {emails.get('sent', 0)}"
        f" · lỗi: {emails.get('failed', 0)} · chờ gửi lại: {emails.get('retried', 0)}"
    )
    from thidua.deploy.cli_outbox import outage_line

    if outage := outage_line(emails):
        typer.echo(outage)
    if settings.uses_smtp:
        typer.echo(f"  Thư gửi qua SMTP {settings.smtp_host}:{settings.smtp_port}")
    else:
        typer.echo(f"  Thư (tệp .eml) trong: {settings.outbox_dir}")


@campaign_app.command("list")
def campaign_list() -> None:
    """Các phong trào đã phát động."""
    from thidua.tasks.core.queries import list_campaigns

    with invocation() as run:
        rows = list_campaigns(run.engine)
    if not rows:
        typer.echo("Chưa có phong trào nào.")
        return
    for r in rows:
        state = campaign_status(r.status)
        typer.echo(
            f"{r.code:<32} {state:<22} {fmt_date(r.start)}–{fmt_date(r.end)}  {r.units:>4} đơn vị  {r.title}"
        )


@campaign_app.command("show")
def campaign_show(
    code: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="In dạng JSON (khóa máy đọc, cho các tập lệnh).")
    ] = False,
) -> None:
    """Chi tiết một phong trào: trạng thái, lịch báo cáo, số đơn vị và cán bộ tham gia."""
    from thidua.tasks.core.queries import campaign_details

    with invocation() as run:
        c = campaign_details(run.engine, code)
    if as_json:
        # Machine keys on purpose: --json is for scripts, which read `status` and `units` by their keys.
        payload = {
            "code": c.code,
            "status": c.status.value,
            "title": c.title,
            "period": [c.start.isoformat(), c.end.isoformat()],
            "units": {lv.level: lv.units for lv in c.levels},
            "people": c.people,
            "deadlines": [
                {
                    "key": d.key,
                    "label": d.label,
                    "nominal_due": d.nominal_due.isoformat(),
                    "due_date": d.due_date.isoformat(),
                }
                for d in c.deadlines
            ],
            "plan_document": c.plan_document,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{c.code} — {c.title}")
    typer.echo(
        f"  Trạng thái: {campaign_status(c.status)} · thời gian: {fmt_date(c.start)} – {fmt_date(c.end)}"
    )
    if c.plan_document:
        typer.echo(f"  Kế hoạch: {run.shown(c.plan_document)}")
    typer.echo(f"  Đơn vị tham gia: {sum(lv.units for lv in c.levels)} · cán bộ: {c.people}")
    for lv in c.levels:
        typer.echo(f"    cấp {unit_level(lv.level)}: {lv.units} (báo cáo định kỳ: {lv.reporting})")
    typer.echo("  Lịch báo cáo:")
    for d in c.deadlines:
        moved = f" (theo kế hoạch {fmt_date(d.nominal_due)})" if d.nominal_due != d.due_date else ""
        typer.echo(f"    {d.key:<10} {d.label:<40} hạn {fmt_date(d.due_date)}{moved}")
