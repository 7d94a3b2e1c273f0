"""The main job of the quick start: the Tuyên Quang 2024 campaign on the embedded default."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from models.db import ensure_schema, make_engine
from models.settings import Settings
from tasks.directory import import_directory, write_demo

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
DEMO_DIRECTORY = "tuyen-quang-2024"
DEMO_CAMPAIGN = EXAMPLES_DIR / "tuyen-quang-2024.yaml"


def run_demo(settings: Settings, *, as_of: datetime) -> None:
    from deploy.cli import print_launch_summary, run_launch

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(f"Thư mục dữ liệu: {settings.data_dir}")
    typer.echo(
        f"Cơ sở dữ liệu: {make_engine(settings.database_url).url.render_as_string(hide_password=True)}"
    )

    directory_dir = settings.data_dir / "demo" / DEMO_DIRECTORY
    files = write_demo(DEMO_DIRECTORY, directory_dir)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    summary = import_directory(engine, files, now=as_of)
    engine.dispose()
    typer.echo(f"1. Danh bạ mẫu {DEMO_DIRECTORY} ({directory_dir}): {summary}")

    typer.echo(f"2. Phát động phong trào từ {DEMO_CAMPAIGN.name} (ngày {as_of:%d/%m/%Y})")
    launch = run_launch(settings, DEMO_CAMPAIGN, as_of)
    print_launch_summary(settings, launch)
    typer.echo("Xem lại: thidua campaign show " + launch["code"] + " · thidua outbox list")
