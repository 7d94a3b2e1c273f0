"""`thidua user`: who may use the web portal — administrators and the people who report for a unit."""

from __future__ import annotations

from typing import Annotated

import typer

from thidua.deploy.cli_common import ThiduaGroup, invocation, os_user
from thidua.models.text import fmt_date
from thidua.tasks.portal.identity import grant_admin, grant_reporter, list_grants, revoke_role

app = typer.Typer(
    cls=ThiduaGroup, help="Tài khoản cổng web: quản trị, người nhập báo cáo của đơn vị.", no_args_is_help=True
)


@app.command("grant-admin")
def grant_admin_cmd(email: str) -> None:
    """Giao quyền quản trị cổng web cho một địa chỉ email."""
    with invocation() as run:
        added = grant_admin(run.engine, email, by=os_user(), now=run.now)
    typer.echo(f"{email}: {'đã giao quyền quản trị' if added else 'đã có quyền quản trị — không thay đổi'}.")


@app.command("grant-reporter")
def grant_reporter_cmd(email: str, unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị.")]) -> None:
    """Giao cho một cán bộ (email trong danh bạ) nhập báo cáo cho một đơn vị."""
    with invocation() as run:
        added = grant_reporter(run.engine, email, unit, by=os_user(), now=run.now)
    state = "đã giao nhập báo cáo cho" if added else "đã được giao từ trước cho"
    typer.echo(f"{email}: {state} đơn vị {unit}.")


@app.command("revoke")
def revoke_cmd(
    email: str,
    unit: Annotated[str | None, typer.Option("--unit", help="Mã đơn vị (bỏ trống: quyền quản trị).")] = None,
) -> None:
    """Thu hồi quyền nhập báo cáo cho một đơn vị (hoặc quyền quản trị khi không có --unit)."""
    with invocation() as run:
        gone = revoke_role(run.engine, email, unit, by=os_user(), now=run.now)
    what = f"quyền nhập báo cáo cho đơn vị {unit}" if unit else "quyền quản trị"
    typer.echo(f"{email}: {'đã thu hồi ' + what if gone else 'không có ' + what + ' — không thay đổi'}.")


@app.command("list")
def list_cmd() -> None:
    """Các quyền đã giao (và quản trị viên trong THIDUA_ADMIN_EMAILS)."""
    with invocation() as run:
        rows = list_grants(run.engine, run.settings)
    if not rows:
        typer.echo("Chưa giao quyền nào. Đơn vị đăng nhập bằng email của đơn vị trong danh bạ.")
    for r in rows:
        role = "quản trị" if r.role.value == "admin" else f"nhập báo cáo {r.unit_code}"
        when = f", {fmt_date(r.granted_at.astimezone(run.settings.tz))}" if r.granted_at else ""
        typer.echo(f"{r.email}: {role} (giao bởi {r.granted_by or 'không rõ'}{when})")
