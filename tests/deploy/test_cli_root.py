"""The root of the `thidua` command line: lazy loading, errors mapped once, Vietnamese help and usage errors,
--version, one spelling of --as-of, nominees named by their code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select
from sqlmodel import col
from typer.testing import CliRunner

from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.builders_council import CODE, launch_in_review, nominate, unit_of
from thidua import __version__
from thidua.deploy.cli import COMMANDS, app
from thidua.deploy.cli_common import AsOf, ThiduaGroup, current_settings, invocation
from thidua.deploy.demo.council import demo_council
from thidua.errors import (
    CampaignNotFound,
    Conflict,
    InvalidInput,
    Problem,
    RuleRefused,
    ThiduaError,
    Unavailable,
    WrongState,
)
from thidua.models.db import make_engine
from thidua.models.review import CouncilMeeting
from thidua.models.settings import Settings

HEAVY = ("prefect", "matplotlib", "docx", "openpyxl", "reportlab", "apscheduler")

#: What click and typer print in English when left alone; none of it may reach a user.
ENGLISH = re.compile(
    r"Usage:|Missing argument|Missing option|No such command|No such option|Show this message|for help|"
    r"Invalid value|is not a valid|is not one of|\bOptions\b|\bCommands\b|\bArguments\b|\bError\b|"
    r"\[required\]|Got unexpected|Did you mean|Aborted"
)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("THIDUA_SMTP_HOST", raising=False)
    return db_url


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`thidua ARGS` in a fresh interpreter, as a person runs it."""
    runner = "import sys; from thidua.deploy.cli import main; sys.argv = ['thidua', *sys.argv[1:]]; main()"
    return subprocess.run(
        [sys.executable, "-c", runner, *args], capture_output=True, text=True, env=env, timeout=120
    )


# ---------------------------------------------------------------- loading only what a command needs


def _loaded_probe(modules: tuple[str, ...]) -> str:
    """A script that runs `thidua ARGS`, then prints which of `modules` the run loaded (`LOADED [...]`)."""
    return (
        "import sys\n"
        "from thidua.deploy.cli import main\n"
        "sys.argv = ['thidua', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('LOADED', sorted(m for m in {modules!r} if m in sys.modules))\n"
    )


def test_campaign_list_and_help_import_no_heavy_library(cli_env: str, tmp_path: Path) -> None:
    probe = _loaded_probe(HEAVY)
    env = {**os.environ}
    for args in (["campaign", "list"], ["outbox", "list"], ["--help"], ["campaign", "show", "--help"]):
        out = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "LOADED []" in out.stdout, (args, out.stdout)


#: What a read-only command must not load: the ORM stack and the full settings (together about as long as
#: the floor of bench/bench_cli.py), the definition-file and calendar readers, and the heavy libraries above.
NOT_ON_THE_READ_PATH = (
    *HEAVY,
    "sqlmodel",
    "sqlalchemy.orm",
    "pydantic_settings",
    "dotenv",
    "alembic",
    "yaml",
    "holidays",
    "jinja2",
)


def test_read_only_commands_load_no_orm_no_settings_class_no_heavy_library(
    cli_env: str, tmp_path: Path
) -> None:
    """The gain measured by bench/bench_cli.py, kept: `campaign list/show/status` and `outbox list` read
    through SQLAlchemy Core views and the light settings reader (models/core_tables.py, settings_core.py)."""
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    probe = _loaded_probe(NOT_ON_THE_READ_PATH)
    commands = {
        ("campaign", "list"): CODE,
        ("campaign", "show", CODE): "Lịch báo cáo:",
        ("campaign", "status", CODE, "--as-of", "10/02/2024"): "Báo cáo tháng 01/2024",
        ("outbox", "list"): "Không có thư nào.",
    }
    for args, shown in commands.items():
        out = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=120,
        )
        assert out.returncode == 0, (args, out.stderr)
        assert shown in out.stdout, (args, out.stdout)
        assert "LOADED []" in out.stdout, (args, out.stdout.splitlines()[-1])


def test_the_static_table_lists_every_command_and_each_loads() -> None:
    help_text = CliRunner().invoke(app, ["--help"]).output
    for name in COMMANDS:
        assert name in help_text
        loaded = CliRunner().invoke(app, [name, "--help"])
        assert loaded.exit_code == 0, (name, loaded.output)


def _every_command_path() -> list[list[str]]:
    paths: list[list[str]] = []
    root = typer.main.get_command(app)
    ctx = root.make_context("thidua", [], resilient_parsing=True)

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        lister = getattr(command, "list_commands", None)
        if lister is None:
            return
        for name in lister(ctx):
            sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
            if sub is not None and not getattr(sub, "hidden", False):
                walk(sub, [*path, name])

    walk(root, [])
    return paths


#: What the library would print in English or as a Python name, anywhere in a help page.
ENGLISH_PLACEHOLDERS = re.compile(
    r"<(str|int|float|bool|path|Path|list\[.*?\])>|\[OPTIONS\]|COMMAND \[ARGS\]|\{[a-z_]+\}|\[[a-z_]+\]"
)


def test_every_help_page_names_its_placeholders_in_vietnamese() -> None:
    paths = _every_command_path()
    assert len(paths) > 40  # every noun and every sub-command
    for path in paths:
        page = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert page.exit_code == 0, (path, page.output)
        assert "Cách dùng: " in page.output, path
        found = ENGLISH_PLACEHOLDERS.findall(page.output)
        assert not found, (path, found, page.output)


# ---------------------------------------------------------------- --version and Vietnamese messages


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"thidua {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["campaign", "--help"],
        ["council", "vote", "--help"],
        ["campaign", "show"],  # missing argument
        ["campagn", "list"],  # no such command
        ["campaign", "list", "--bogus"],  # no such option
        [
            "council",
            "vote",
            "abc",
            "--member",
            "X",
            "--nominee",
            "Y",
            "--choice",
            "approve",
        ],  # not an integer
        ["council", "vote", "1"],  # missing options
        ["council", "vote", "1", "--member", "X", "--nominee", "Y", "--choice", "maybe"],  # bad choice
        ["campaign", "list", "extra"],  # unexpected extra argument
        ["campaign"],  # a group without a command shows its help
    ],
)
def test_help_and_usage_errors_are_in_vietnamese(args: list[str], cli_env: str) -> None:
    result = CliRunner().invoke(app, args)
    text = result.output + (result.stderr if result.stderr_bytes else "")
    assert not ENGLISH.search(text), text
    if args[-1] != "--help" and args != ["campaign"]:
        assert result.exit_code == 2, text
        assert "Cách dùng: " in text


def test_a_real_process_prints_vietnamese_usage_errors() -> None:
    done = _run("campaign", "show")
    assert done.returncode == 2
    assert "Thiếu đối số" in done.stderr and not ENGLISH.search(done.stderr), done.stderr


# ---------------------------------------------------------------- one mapping of errors to exit codes


def _raising_app() -> typer.Typer:
    """A small app built on the CLI's own group class, raising each kind of the error tree."""
    errors: dict[str, ThiduaError] = {
        "invalid": InvalidInput("Tệp không dùng được.", [Problem("thiếu mã", file="a.csv", row=3)]),
        "notfound": CampaignNotFound("XYZ"),
        "conflict": Conflict("Đã có rồi."),
        "state": WrongState("XYZ", "Đã kết thúc", "Đang nhận báo cáo", hint="Chạy `thidua reopen XYZ`."),
        "rule": RuleRefused("Không đủ số thành viên dự họp."),
        "unavailable": Unavailable("Cơ sở dữ liệu chưa cập nhật.", hint="Chạy `thidua db upgrade`."),
        "base": ThiduaError("Lỗi chung."),
    }
    probe = typer.Typer(cls=ThiduaGroup)
    for name, exc in errors.items():

        def command(exc: ThiduaError = exc) -> None:
            raise exc

        probe.command(name)(command)
    return probe


@pytest.mark.parametrize(
    ("name", "code", "lines"),
    [
        ("invalid", 2, ["Tệp không dùng được.", "  a.csv, dòng 3: thiếu mã"]),
        ("notfound", 3, ["Không có phong trào mã “XYZ”.", "thidua campaign list"]),
        ("conflict", 4, ["Đã có rồi."]),
        ("state", 4, ["trạng thái Đã kết thúc", "Chạy `thidua reopen XYZ`."]),
        ("rule", 5, ["Không đủ số thành viên dự họp."]),
        ("unavailable", 6, ["Cơ sở dữ liệu chưa cập nhật.", "Chạy `thidua db upgrade`."]),
        ("base", 1, ["Lỗi chung."]),
    ],
)
def test_each_kind_of_error_has_its_exit_code_and_a_message(name: str, code: int, lines: list[str]) -> None:
    result = CliRunner().invoke(_raising_app(), [name])
    assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for line in lines:
        assert line in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_missing_campaign_exits_3_through_the_real_cli(cli_env: str) -> None:
    result = CliRunner().invoke(app, ["campaign", "show", "KHONG-CO"])
    assert result.exit_code == 3
    assert "Không có phong trào mã “KHONG-CO”." in result.stderr
    assert "thidua campaign list" in result.stderr


def test_a_bug_keeps_its_traceback() -> None:
    probe = typer.Typer(cls=ThiduaGroup)

    @probe.command("bug")
    def bug() -> None:
        raise ZeroDivisionError("a bug")

    @probe.command("other")
    def other() -> None:  # a second command keeps `probe` a group
        pass

    result = CliRunner().invoke(probe, ["bug"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ZeroDivisionError)


# ---------------------------------------------------------------- read-only queries print labels, not keys


def test_campaign_list_and_show_print_labels_and_json_keeps_keys(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    runner = CliRunner()
    listing = runner.invoke(app, ["campaign", "list"]).output
    assert CODE in listing and "Đã phát động" in listing and "launched" not in listing
    shown = runner.invoke(app, ["campaign", "show", CODE]).output
    assert "Trạng thái: Đã phát động" in shown
    assert "cấp Khu vực: 7" in shown and "khu_vuc" not in shown and "{" not in shown
    # Down the tree, however the database happens to group the rows.
    assert shown.index("cấp Tỉnh") < shown.index("cấp Khu vực") < shown.index("cấp Phòng")
    data = json.loads(runner.invoke(app, ["campaign", "show", CODE, "--json"]).output)
    assert data["status"] == "launched" and data["units"]["khu_vuc"] == 7


# ---------------------------------------------------------------- council: --as-of, nominees by code


@pytest.fixture
def council_campaign(cli_env: str, tmp_path: Path) -> Iterator[tuple[Engine, int]]:
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_in_review(engine)  # the council meets while the campaign is in review
    demo_council(engine, CODE, "TQ", now=at("01/07/2024"))
    yield engine, campaign_id
    engine.dispose()


def test_council_open_takes_as_of_and_still_the_old_at(council_campaign: tuple[Engine, int]) -> None:
    engine, _ = council_campaign
    runner = CliRunner()
    present = "TQ-01,TQ-02,TQ-03,TQ-04,TQ-TCCB-02,TQ-VP-01"
    opened = runner.invoke(
        app, ["council", "open", CODE, "--unit", "TQ", "--present", present, "--as-of", "10/07/2024 08:30"]
    )
    assert opened.exit_code == 0, opened.output
    meeting_id = int(opened.output.split()[3])
    with engine.connect() as conn:
        held = conn.execute(
            select(col(CouncilMeeting.held_at)).where(col(CouncilMeeting.id) == meeting_id)
        ).scalar_one()
    local = (held if held.tzinfo else held.replace(tzinfo=UTC)).astimezone(Settings().tz)
    assert (local.day, local.month, local.hour, local.minute) == (10, 7, 8, 30)
    # `--at`, hidden, still works for scripts; the same attendance is the same meeting.
    again = runner.invoke(
        app, ["council", "open", CODE, "--unit", "TQ", "--present", present, "--at", "10/07/2024 08:30"]
    )
    assert again.exit_code == 0 and int(again.output.split()[3]) == meeting_id
    assert "--at" not in runner.invoke(app, ["council", "open", "--help"]).output
    bad = runner.invoke(app, ["council", "open", CODE, "--unit", "TQ", "--present", present, "--as-of", "x"])
    assert bad.exit_code == 2 and "không phải thời điểm hợp lệ" in bad.output


def test_council_vote_names_the_nominee_by_code_or_number(council_campaign: tuple[Engine, int]) -> None:
    engine, campaign_id = council_campaign
    ids = nominate(engine, campaign_id, [unit_of("TQ-TP"), unit_of("TQ-NH")])
    runner = CliRunner()
    present = "TQ-01,TQ-02,TQ-03,TQ-04,TQ-TCCB-02,TQ-VP-01"
    opened = runner.invoke(
        app, ["council", "open", CODE, "--unit", "TQ", "--present", present, "--as-of", "10/07/2024 08:30"]
    )
    meeting = opened.output.split()[3]
    vote = ["council", "vote", meeting, "--as-of", "10/07/2024 09:00"]

    by_code = runner.invoke(app, [*vote, "--member", "TQ-01", "--nominee", "TQ-TP", "--choice", "approve"])
    assert by_code.exit_code == 0, by_code.output
    assert f"đề nghị số {ids['TQ-TP']}" in by_code.output
    by_number = runner.invoke(
        app, [*vote, "--member", "TQ-02", "--nominee", str(ids["TQ-NH"]), "--choice", "đồng ý"]
    )
    assert by_number.exit_code == 0, by_number.output
    assert f"đề nghị số {ids['TQ-NH']}" in by_number.output

    unknown = runner.invoke(app, [*vote, "--member", "TQ-03", "--nominee", "KHONG-CO", "--choice", "reject"])
    assert unknown.exit_code == 3
    assert "Không có đề nghị khen thưởng nào cho “KHONG-CO”" in unknown.stderr


def test_every_command_reads_settings_clock_and_database_through_one_invocation() -> None:
    """No command module builds its own Settings, clock or engine: cli_common.invocation is the one way in."""
    import ast

    deploy = Path(__file__).resolve().parents[2] / "deploy"
    offenders = []
    for path in sorted(deploy.glob("cli*.py")):
        if path.name == "cli_common.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            banned = {"Settings", "open_engine", "make_engine", "parse_as_of"}
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in banned:
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
    assert offenders == [], offenders


def test_one_invocation_shares_its_settings_and_disposes_its_database(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    seen: dict[str, object] = {}
    probe = typer.Typer(cls=ThiduaGroup)

    @probe.command()
    def look(as_of: AsOf = None) -> None:
        with invocation(as_of) as run, run.engine.connect() as conn:
            seen["same"] = run.settings is current_settings()
            seen["today"] = run.today
            seen["rows"] = conn.exec_driver_sql("select 1").scalar()
            seen["run"] = run
        monkeypatch.setenv("THIDUA_TIMEZONE", "UTC")  # read once: a change mid-command is not seen
        seen["zone"] = current_settings().timezone

    result = CliRunner().invoke(probe, ["--as-of", "31/12/2024 23:30"])

    assert result.exit_code == 0, result.output
    assert seen["same"] is True and seen["rows"] == 1
    assert str(seen["today"]) == "2024-12-31"
    assert seen["zone"] == "Asia/Ho_Chi_Minh"
    assert seen["run"]._engine is None  # type: ignore[attr-defined]
