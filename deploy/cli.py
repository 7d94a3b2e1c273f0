"""The `thidua` command line.

The root loads a noun's module only when that noun is called: `thidua campaign list` imports the campaign
commands and the database layer, never Prefect or the document, chart and scheduler libraries. The table below
is the whole command set; each entry names the typer application (`module:attribute`) that implements it.
Errors of the work layer are mapped to messages and exit codes once, in cli_common.ThiduaGroup.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, NamedTuple

import typer
from typer._click.core import Command, Context  # typer vendors click: its group speaks these types
from typer.core import TyperCommand

from thidua.deploy import cli_i18n
from thidua.deploy.cli_common import ThiduaGroup

cli_i18n.install()


class _Entry(NamedTuple):
    target: str  # "module:attribute" of a typer.Typer
    help: str  # the line `thidua --help` shows, without importing the module


COMMANDS: dict[str, _Entry] = {
    "campaign": _Entry("thidua.deploy.cli_campaign:app", "Phong trào thi đua: kiểm tra, phát động, xem."),
    "directory": _Entry("thidua.deploy.cli_directory:app", "Danh bạ tổ chức: đơn vị, cán bộ, kỷ luật."),
    "report": _Entry(
        "thidua.deploy.cli_report:app", "Báo cáo số liệu định kỳ của đơn vị: mẫu, nộp, lịch sử, hộp thư đến."
    ),
    "ledger": _Entry("thidua.deploy.cli_ledger:app", "Sổ thụ lý: nhập, tính chỉ số, đối chiếu với báo cáo."),
    "collect": _Entry(
        "thidua.deploy.cli_collect:app", "Thu thập số liệu (luồng “collect”): hộp thư đến, tổng hợp, gửi thư."
    ),
    "remind": _Entry("thidua.deploy.cli_remind:remind_app", "Nhắc hạn (luồng “remind”): thư nhắc, quá hạn."),
    "exempt": _Entry("thidua.deploy.cli_remind:exempt_app", "Miễn nộp một hạn cho một đơn vị; huỷ thư nhắc."),
    "close": _Entry("thidua.deploy.cli_close:close_app", "Tổng kết phong trào (luồng “close”)."),
    "reopen": _Entry("thidua.deploy.cli_close:reopen_app", "Mở lại kỳ báo cáo của phong trào đã kết thúc."),
    "nomination": _Entry(
        "thidua.deploy.cli_nominate:nomination_app", "Đề nghị khen thưởng: danh sách, hồ sơ, xét điều kiện."
    ),
    "review": _Entry("thidua.deploy.cli_review:review_app", "Xét khen thưởng: hồ sơ, điều kiện, cuộc họp."),
    "council": _Entry(
        "thidua.deploy.cli_council:council_app", "Hội đồng Thi đua – Khen thưởng: bỏ phiếu kín."
    ),
    "award": _Entry(
        "thidua.deploy.cli_award:award_app", "Khen thưởng: quyết định, giấy khen, tiền thưởng; thu hồi."
    ),
    "outbox": _Entry("thidua.deploy.cli_outbox:app", "Hộp thư đi: xem và gửi các thư đang chờ."),
    "mail": _Entry("thidua.deploy.cli_mail:app", "Hộp thư nhận báo cáo (IMAP): đọc ngay, thư bị giữ lại."),
    "db": _Entry("thidua.deploy.cli_db:app", "Cấu trúc cơ sở dữ liệu (Alembic)."),
    "engine": _Entry(
        "thidua.deploy.cli_engine:app", "Máy chủ Prefect cục bộ dùng chung: xem, khởi động, dừng."
    ),
    "serve": _Entry(
        "thidua.deploy.serve:serve_app", "Chạy bộ lập lịch: nhắc hạn, thu thập, tổng kết, gửi thư."
    ),
    "web": _Entry("thidua.deploy.cli_web:app", "Cổng thông tin web cho các đơn vị (đăng nhập bằng email)."),
    "user": _Entry(
        "thidua.deploy.cli_user:app", "Tài khoản cổng web: quản trị, người nhập báo cáo của đơn vị."
    ),
    "demo": _Entry(
        "thidua.deploy.cli_demo:app", "Chạy thử trọn vòng đời trên dữ liệu mẫu (Tuyên Quang 2024)."
    ),
}


class _Root(ThiduaGroup):
    """The root command: loads sub-commands on demand; maps errors as every `thidua` group does."""

    _listing = False  # while the root's own help is written: entries are shown from the table

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=entry.help, short_help=entry.help)
        module, attribute = entry.target.split(":")
        command = typer.main.get_command(getattr(importlib.import_module(module), attribute))
        command.name = cmd_name
        return command

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_Root,
    help="thidua — phong trào thi đua – khen thưởng của hệ thống THADS.",
    no_args_is_help=True,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        from thidua import __version__

        typer.echo(f"thidua {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="In phiên bản rồi thoát."),
    ] = False,
) -> None:
    """thidua — phong trào thi đua – khen thưởng của hệ thống THADS."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
