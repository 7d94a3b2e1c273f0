"""The main job of the quick start: the Tuyên Quang 2024 campaign on the embedded default, launch to awards.

1. the demo directory (Cục THADS tỉnh Tuyên Quang, departments, 7 Chi cục, ~120 staff) is imported;
2. the seed-003 plan is launched on 05/01/2024 (plan DOCX, one email per unit);
3. the months January–June are replayed day by day: reports from the units (one late, one missing, one
   rejected then corrected, one inflated), the reminder sweep of every working morning, a collection run
   after each due date;
4. the status at the end: table, XLSX, chart, and the reconciliation against the case ledger;
5. nominations and dossiers (one incomplete, one late), the close on 04/07 (closing report), the screening,
   the council's secret ballot on 10/07 with a tie broken by the chair, the decision of 19/07/2024 with its
   certificates and emails;
6. an account of what happened and where every document and email is.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from thidua.deploy.demo.directory import write_demo
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.tasks.core.directory import import_directory

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # a link to the top-level examples/
DEMO_DIRECTORY = "tuyen-quang-2024"
DEMO_CAMPAIGN = EXAMPLES_DIR / "tuyen-quang-2024.yaml"


def run_demo(settings: Settings, *, as_of: datetime) -> None:
    from thidua.deploy.cli_campaign import print_launch_summary, run_launch
    from thidua.deploy.demo.months import run_months

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    typer.echo(f"Thư mục dữ liệu: {settings.data_dir}")
    typer.echo(f"Cơ sở dữ liệu: {engine.url.render_as_string(hide_password=True)}")

    directory_dir = settings.data_dir / "demo" / DEMO_DIRECTORY
    files = write_demo(DEMO_DIRECTORY, directory_dir)
    ensure_schema(engine)
    summary = import_directory(engine, files, now=as_of)
    typer.echo(f"1. Danh bạ mẫu {DEMO_DIRECTORY} ({directory_dir}): {summary}")

    typer.echo(f"2. Phát động phong trào từ {DEMO_CAMPAIGN.name} (ngày {as_of:%d/%m/%Y})")
    launch = run_launch(settings, DEMO_CAMPAIGN, as_of)
    print_launch_summary(settings, launch)
    code = launch["code"]

    from thidua.flows.collect import collect_flow

    mail_settings = settings

    def collect(moment: datetime) -> dict[str, Any]:
        # With the mailbox's settings: the run reads the unit's emailed reply (deploy/demo/mailbox.py).
        return collect_flow(code, moment, mail_settings)

    from thidua.flows.remind import remind_flow
    from thidua.tasks.remind.reminders import plan_reminders

    def remind(moment: datetime) -> int:
        # The scheduler's morning sweep; a day with nothing to send is decided without a flow run.
        if not plan_reminders(engine, code, moment, tz=settings.tz).emails:
            return 0
        queue: dict[str, int] = remind_flow(code, moment, settings).get("queue") or {}
        return int(queue.get("queued", 0))

    typer.echo("3. Các tháng: đơn vị báo cáo, hệ thống nhắc hạn mỗi sáng và thu thập sau mỗi hạn nộp")
    if _past_collection(engine, code):
        # A second run: the months are history and the reporting is frozen; replaying them would only have
        # the units' files refused. Every later stage below is idempotent and is run again (changing nothing).
        typer.echo("   Phong trào đã qua giai đoạn báo cáo (lần chạy trước): không phát lại các tháng.")
    else:
        from thidua.deploy.demo.mailbox import demo_mailbox

        contact = launch_contact(engine, code)
        with demo_mailbox(settings, contact, typer.echo) as (mail_settings, mailbox):
            run_months(settings, engine, code, collect, typer.echo, remind, mailbox)

    typer.echo("4. Tình hình cuối kỳ")
    print_final_status(settings, code, date(2024, 7, 3))  # the final report's due date

    typer.echo("5. Tổng kết, xét và khen thưởng")
    from thidua.deploy.demo.review import print_account, run_review

    run_review(settings, engine, code, typer.echo)
    typer.echo("6. Tóm lại")
    print_account(settings, engine, code, typer.echo)
    engine.dispose()
    typer.echo(
        f"Xem lại: thidua campaign show {code} · thidua campaign status {code} · thidua outbox list · "
        f"thidua nomination list {code} · thidua council result {code} <số cuộc họp> · "
        f"thidua award list {code}"
    )


def launch_contact(engine: Any, code: str) -> str:
    """The address units reply to: the campaign's contact (the mailbox the system reads)."""
    from sqlalchemy import select
    from sqlmodel import col

    from thidua.models.campaign import Campaign
    from thidua.models.definition import definition_from_json

    with engine.connect() as conn:
        definition = conn.execute(
            select(col(Campaign.definition_json)).where(col(Campaign.code) == code)
        ).scalar_one()
    return definition_from_json(definition).issuer.contact.email


def print_final_status(settings: Settings, code: str, as_of: Any) -> None:
    from thidua.tasks.collect.ledger import reconcile
    from thidua.tasks.collect.progress import campaign_status
    from thidua.tasks.collect.status_report import status_lines, write_status_chart, write_status_xlsx

    engine = make_engine(settings.database_url)
    table = campaign_status(engine, code, as_of=as_of, period="2024-06", tz=settings.tz)
    for line in status_lines(table):
        typer.echo("   " + line)
    storage = storage_for(settings)
    xlsx, png = (
        storage_key("documents", code, "tinh-hinh-2024-06.xlsx"),
        storage_key("documents", code, "tinh-hinh-2024-06.png"),
    )
    storage.put_rendered(xlsx, lambda path: write_status_xlsx(table, path))
    storage.put_rendered(png, lambda path: write_status_chart(table, path))
    typer.echo(f"   Bảng tính: {storage.show(xlsx)}")
    typer.echo(f"   Biểu đồ:   {storage.show(png)}")
    differences = [row for row in reconcile(engine, code, "2024-06") if not row.matches]
    typer.echo(f"   Đối chiếu với sổ thụ lý (kỳ 2024-06): {len(differences)} chênh lệch")
    for row in differences:
        reported = "chưa báo cáo" if row.reported is None else str(row.reported)
        typer.echo(f"     {row.unit_code} {row.field}: báo cáo {reported}, sổ thụ lý {row.computed}")
    engine.dispose()


def _past_collection(engine: Any, code: str) -> bool:
    from sqlalchemy import select
    from sqlmodel import col

    from thidua.models.campaign import Campaign, CampaignStatus

    with engine.connect() as conn:
        status = conn.scalar(select(col(Campaign.status)).where(col(Campaign.code) == code))
    return status not in (CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING)
