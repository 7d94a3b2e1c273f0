"""The `thidua` command line. Read-only commands never import Prefect; flow commands configure it first."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select
from sqlmodel import col

from thidua.deploy import cli_award, cli_close, cli_council, cli_nominate, cli_review
from thidua.deploy.cli_common import AsOf, open_engine, parse_now
from thidua.deploy.cli_directory import app as directory_app
from thidua.deploy.cli_ledger import app as ledger_app
from thidua.deploy.cli_outbox import app as outbox_app
from thidua.deploy.cli_remind import exempt, remind
from thidua.deploy.cli_report import app as report_app
from thidua.deploy.cli_status import status as status_command
from thidua.deploy.cli_status import targets as targets_command
from thidua.deploy.serve import serve
from thidua.models.campaign import Campaign, Deadline, EnrolledPerson, EnrolledUnit
from thidua.models.db import current_revision, head_revision, make_engine, upgrade
from thidua.models.settings import Settings
from thidua.models.text import fmt_date

app = typer.Typer(
    help="thidua — phong trào thi đua – khen thưởng của hệ thống THADS.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Cấu trúc cơ sở dữ liệu (Alembic).", no_args_is_help=True)
campaign_app = typer.Typer(help="Phong trào thi đua: kiểm tra, phát động, xem.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(campaign_app, name="campaign")
campaign_app.command("status")(status_command)
campaign_app.command("targets")(targets_command)
app.add_typer(directory_app, name="directory")
app.add_typer(outbox_app, name="outbox")
app.add_typer(report_app, name="report")
app.add_typer(ledger_app, name="ledger")
app.command("serve")(serve)
app.command("remind")(remind)
app.command("exempt")(exempt)
cli_close.register(app)
cli_nominate.register(app)
cli_council.register(app)
cli_award.register(app)
cli_review.register(app, cli_award.award_app)


# ------------------------------------------------------------------ db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Áp dụng các bản di chuyển (migration) còn thiếu."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    before, after = upgrade(engine)
    typer.echo(
        f"Cơ sở dữ liệu {engine.url.render_as_string(hide_password=True)}: {before or 'trống'} → {after}"
    )


@db_app.command("status")
def db_status() -> None:
    """Phiên bản cấu trúc hiện tại so với bản mới nhất."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    current, head = current_revision(engine), head_revision(engine)
    state = "đã cập nhật" if current == head else "cần chạy: thidua db upgrade"
    typer.echo(f"hiện tại: {current or 'trống'} · mới nhất: {head} · {state}")


# ------------------------------------------------------------------ campaign


@campaign_app.command("validate")
def campaign_validate(file: Path) -> None:
    """Kiểm tra một tệp định nghĩa phong trào (YAML); mã thoát khác 0 nếu có lỗi."""
    from thidua.models.definition import DefinitionError, load_definition

    try:
        defn = load_definition(file)
    except DefinitionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{file}: hợp lệ — {defn.code}: {defn.title}")


@campaign_app.command("launch")
def campaign_launch(file: Path, as_of: AsOf = None) -> None:
    """Phát động phong trào (luồng Prefect “launch”): ghi nhận, lập danh sách, lịch, kế hoạch, gửi thư."""
    settings = Settings()
    now = parse_now(settings, as_of)
    summary = run_launch(settings, file, now)
    print_launch_summary(settings, summary)


def run_launch(settings: Settings, file: Path, now: datetime) -> dict[str, Any]:
    from thidua.models.definition import DefinitionError, load_definition

    try:
        load_definition(file)  # fail fast, before starting Prefect, on a bad file
    except DefinitionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    from thidua.deploy.prefect_env import configure_prefect

    typer.echo(configure_prefect(settings))
    from thidua.flows.launch import launch_flow
    from thidua.tasks.launch.campaign import CampaignConflict

    try:
        return launch_flow(str(file.resolve()), now, settings)
    except CampaignConflict as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


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
    if settings.uses_smtp:
        typer.echo(f"  Thư gửi qua SMTP {settings.smtp_host}:{settings.smtp_port}")
    else:
        typer.echo(f"  Thư (tệp .eml) trong: {settings.outbox_dir}")


@campaign_app.command("list")
def campaign_list() -> None:
    """Các phong trào đã phát động."""
    settings = Settings()
    engine = open_engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                col(Campaign.code),
                col(Campaign.status),
                col(Campaign.start_date),
                col(Campaign.end_date),
                col(Campaign.title),
                select(func.count())
                .where(col(EnrolledUnit.campaign_id) == col(Campaign.id))
                .scalar_subquery(),
            ).order_by(col(Campaign.start_date), col(Campaign.code))
        ).all()
    if not rows:
        typer.echo("Chưa có phong trào nào.")
        return
    for code, status, start, end, title, units in rows:
        typer.echo(f"{code:<32} {status:<10} {fmt_date(start)}–{fmt_date(end)}  {units:>4} đơn vị  {title}")


@campaign_app.command("show")
def campaign_show(code: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Chi tiết một phong trào: trạng thái, lịch báo cáo, số đơn vị và cán bộ tham gia."""
    settings = Settings()
    engine = open_engine(settings)
    with engine.connect() as conn:
        camp = conn.execute(select(Campaign).where(col(Campaign.code) == code.upper())).first()
        if camp is None:
            typer.echo(f"Không có phong trào mã “{code}”.", err=True)
            raise typer.Exit(1)
        c = camp[0] if not hasattr(camp, "code") else camp
        deadlines = conn.execute(
            select(col(Deadline.key), col(Deadline.label), col(Deadline.nominal_due), col(Deadline.due_date))
            .where(col(Deadline.campaign_id) == c.id)
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
        by_level = conn.execute(
            select(
                col(EnrolledUnit.level),
                func.count(),
                func.sum(func.cast(col(EnrolledUnit.reports), type_=_int())),
            )
            .where(col(EnrolledUnit.campaign_id) == c.id)
            .group_by(col(EnrolledUnit.level))
        ).all()
        people = conn.execute(
            select(func.count()).select_from(EnrolledPerson).where(col(EnrolledPerson.campaign_id) == c.id)
        ).scalar_one()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "code": c.code,
                    "status": c.status,
                    "title": c.title,
                    "period": [c.start_date.isoformat(), c.end_date.isoformat()],
                    "units": {lvl: n for lvl, n, _ in by_level},
                    "people": people,
                    "deadlines": [
                        {"key": k, "label": lb, "nominal_due": n.isoformat(), "due_date": d.isoformat()}
                        for k, lb, n, d in deadlines
                    ],
                    "plan_document": c.plan_document,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    typer.echo(f"{c.code} — {c.title}")
    typer.echo(f"  Trạng thái: {c.status} · thời gian: {fmt_date(c.start_date)} – {fmt_date(c.end_date)}")
    if c.plan_document:
        typer.echo(f"  Kế hoạch: {settings.data_dir / c.plan_document}")
    typer.echo(f"  Đơn vị tham gia: {sum(n for _, n, _ in by_level)} · cán bộ: {people}")
    for level, n, reporting in by_level:
        typer.echo(f"    cấp {level}: {n} (báo cáo định kỳ: {int(reporting or 0)})")
    typer.echo("  Lịch báo cáo:")
    for key, label, nominal, due in deadlines:
        moved = f" (theo kế hoạch {fmt_date(nominal)})" if nominal != due else ""
        typer.echo(f"    {key:<10} {label:<40} hạn {fmt_date(due)}{moved}")


@app.command("collect")
def collect(code: str, as_of: AsOf = None) -> None:
    """Thu thập số liệu (luồng Prefect “collect”): hộp thư đến, tổng hợp, tỷ lệ báo cáo, gửi thư."""
    settings = Settings()
    now = parse_now(settings, as_of)
    from thidua.deploy.prefect_env import configure_prefect

    typer.echo(configure_prefect(settings))
    from thidua.flows.collect import collect_flow
    from thidua.tasks.collect.collection import CampaignNotCollecting, CampaignNotFound

    try:
        summary = collect_flow(code, now, settings)
    except (CampaignNotFound, CampaignNotCollecting) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    print_collect_summary(summary)


def print_collect_summary(summary: dict[str, Any]) -> None:
    inbox = summary.get("inbox") or {}
    typer.echo(f"Phong trào {summary['code']}: thu thập số liệu ngày {summary['as_of']}.")
    typer.echo(
        f"  Hộp thư đến: {inbox.get('accepted', 0)} tệp được tiếp nhận,"
        f" {inbox.get('rejected', 0)} tệp bị trả lại"
    )
    status = summary.get("timeliness") or {}
    if status:
        typer.echo(f"  Kỳ {status['period']}: {status['summary']}")
        if status["missing"]:
            typer.echo("  Quá hạn chưa nộp: " + ", ".join(status["missing"]))


def _int() -> Any:
    from sqlalchemy import Integer

    return Integer()


# ------------------------------------------------------------------ demo


@app.command("demo")
def demo(
    as_of: AsOf = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="Phong trào toàn quốc năm 2026 của Bộ Tư pháp (534 đơn vị, ~10.000 cán bộ, 1.000.000 việc).",
        ),
    ] = False,
) -> None:
    """Chạy thử trọn vòng đời: phong trào của Cục THADS tỉnh Tuyên Quang (2024), phát động đến khen thưởng."""
    settings = Settings()
    if national:
        from thidua.deploy.demo.national import NATIONAL_LAUNCH, run_national_demo

        run_national_demo(settings, as_of=parse_now(settings, as_of or NATIONAL_LAUNCH))
        return
    from thidua.deploy.demo.tuyen_quang import run_demo

    run_demo(settings, as_of=parse_now(settings, as_of or "05/01/2024"))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
