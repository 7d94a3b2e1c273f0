"""`thidua engine status|start|stop`: the warm local Prefect server shared by flow commands."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import typer

from thidua.deploy.cli_common import ThiduaGroup, current_settings

app = typer.Typer(cls=ThiduaGroup, no_args_is_help=True)


def _home() -> Path:
    home = os.environ.get("PREFECT_HOME") or str(current_settings().prefect_home)
    return Path(home).expanduser().resolve()


def _remote() -> str | None:
    url = os.environ.get("PREFECT_API_URL", "").strip()
    return (
        f"PREFECT_API_URL={url}: các lệnh dùng máy chủ Prefect đó, không dùng máy chủ cục bộ."
        if url
        else None
    )


@app.command("status")
def status() -> None:
    """Máy chủ Prefect cục bộ: có chạy không, địa chỉ, phiên bản, có lệnh nào đang dùng."""
    from thidua.deploy.local_engine import in_use, is_engine_process, read_record
    from thidua.deploy.prefect_server import answers

    if note := _remote():
        typer.echo(note)
    home = _home()
    record = read_record(home)
    if record is None or not is_engine_process(record.pid, home):
        typer.echo(f"Máy chủ Prefect cục bộ: không chạy (thư mục {home}).")
        return
    tz = current_settings().tz
    started = datetime.fromtimestamp(record.started_at, tz)
    health = "trả lời kiểm tra sức khoẻ" if answers(record.api_url) else "KHÔNG trả lời kiểm tra sức khoẻ"
    users = (
        "đang có lệnh dùng"
        if in_use(home)
        else f"không có lệnh nào dùng (tự dừng sau {record.idle_seconds:g} giây)"
    )
    typer.echo(
        f"Máy chủ Prefect cục bộ: {record.api_url} · pid {record.pid} · Prefect {record.prefect_version} · "
        f"chạy từ {started:%H:%M:%S %d/%m/%Y} ({time.time() - record.started_at:.0f} giây) · {health} · "
        f"{users} · thư mục {home}"
    )


@app.command("start")
def start() -> None:
    """Khởi động máy chủ Prefect cục bộ (nếu chưa chạy) để các lệnh sau không phải chờ."""
    from thidua.deploy.local_engine import attach
    from thidua.deploy.prefect_env import LOCAL_SERVER_STARTUP_TIMEOUT

    if note := _remote():
        typer.echo(note)
        return
    settings = current_settings()
    idle = settings.engine_idle_seconds
    if idle <= 0:
        typer.echo(
            "THIDUA_ENGINE_IDLE_SECONDS=0: mỗi lệnh tự khởi động máy chủ riêng; không có máy chủ dùng chung."
        )
        return
    home = _home()
    timeout = float(
        os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", LOCAL_SERVER_STARTUP_TIMEOUT)
    )
    engine = attach(home, timeout, idle)
    engine.release()
    how = "đã khởi động" if engine.started_here else "đang chạy"
    typer.echo(
        f"Máy chủ Prefect cục bộ {how}: {engine.api_url} (tự dừng sau {idle:g} giây không có lệnh nào dùng)."
    )


@app.command("stop")
def stop() -> None:
    """Dừng máy chủ Prefect cục bộ ngay (lệnh đang dùng nó sẽ tự khởi động lại máy chủ mới)."""
    from thidua.deploy.local_engine import read_record, stop_server

    home = _home()
    record = read_record(home)
    if record is None or not stop_server(home, record):
        typer.echo(f"Máy chủ Prefect cục bộ không chạy (thư mục {home}).")
        return
    typer.echo(f"Đã dừng máy chủ Prefect cục bộ (pid {record.pid}, {record.api_url}).")
