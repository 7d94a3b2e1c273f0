"""One error tree: every deliberate error is a ThiduaError of one kind, mapped once to exit codes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import col
from typer.testing import CliRunner

import thidua
from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.cli import app
from thidua.errors import (
    EXIT_CODES,
    HTTP_STATUS,
    CampaignNotFound,
    Conflict,
    InvalidInput,
    NotFound,
    Problem,
    RuleRefused,
    ThiduaError,
    Unavailable,
    WrongState,
    exit_code,
    http_status,
    kind_of,
)
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import transaction
from thidua.tasks.core.campaigns import get_campaign, require_state

KINDS = (InvalidInput, NotFound, Conflict, RuleRefused, Unavailable)


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(thidua.__path__, "thidua."):
        if ".migrations" in info.name:
            continue
        names.append(info.name)
    return names


def test_every_exception_defined_in_the_package_is_a_thidua_error_of_one_kind() -> None:
    stray = []
    kindless = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if not (inspect.isclass(obj) and issubclass(obj, BaseException)) or obj.__module__ != name:
                continue
            if attr.startswith("_"):
                continue  # private control flow inside one module, never seen by a caller
            if not issubclass(obj, ThiduaError):
                stray.append(f"{name}.{attr}")
            elif obj is not ThiduaError and not issubclass(obj, KINDS):
                kindless.append(f"{name}.{attr}")
    assert stray == []
    # A module's own base class (CloseError, AwardError …) may stand above the kinds; its raised subclasses
    # must each have one, which the test below checks through what the modules actually raise.
    assert all(n.rsplit(".", 1)[1].endswith("Error") for n in kindless), kindless


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (InvalidInput, 2, 422),
        (NotFound, 3, 404),
        (Conflict, 4, 409),
        (RuleRefused, 5, 422),
        (Unavailable, 6, 503),
    ],
)
def test_each_kind_has_one_exit_code_and_one_http_status(
    kind: type[ThiduaError], code: int, status: int
) -> None:
    class Specific(kind):  # type: ignore[misc, valid-type]
        pass

    exc = Specific("thông điệp")
    assert kind_of(exc) is kind and exit_code(exc) == code and http_status(exc) == status
    assert EXIT_CODES[kind] == code and HTTP_STATUS[kind] == status


def test_the_exit_codes_are_distinct_and_leave_one_for_defects() -> None:
    codes = [EXIT_CODES[k] for k in KINDS]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes
    assert exit_code(ThiduaError("không rõ loại")) == 1


def test_a_specific_error_keeps_its_kind_through_a_module_base() -> None:
    from thidua.tasks.award.awards import AwardError, NotReady, UnknownGrant
    from thidua.tasks.close.closing import CannotClose, ReasonRequired

    assert kind_of(NotReady("x")) is Conflict and kind_of(UnknownGrant("x")) is NotFound
    assert issubclass(NotReady, AwardError)
    assert kind_of(CannotClose("x")) is Conflict
    assert kind_of(ReasonRequired("x")) is InvalidInput and issubclass(ReasonRequired, CannotClose)


def test_invalid_input_lists_each_located_problem() -> None:
    exc = InvalidInput(
        "Không nhập được tệp.",
        [
            Problem("cần một số nguyên", file="bc.xlsx", sheet="Báo cáo", row=21, column="D", expected="≥ 0"),
            Problem("thiếu cột", file="dv.csv", column="Mã đơn vị"),
        ],
        hint="Sửa rồi gửi lại.",
    )
    assert str(exc) == (
        "Không nhập được tệp.\n"
        "  bc.xlsx, trang “Báo cáo”, dòng 21, cột “D”: cần một số nguyên (cần: ≥ 0)\n"
        "  dv.csv, cột “Mã đơn vị”: thiếu cột\n"
        "Sửa rồi gửi lại."
    )


def test_every_stage_problem_reads_as_file_sheet_row_column() -> None:
    from thidua.models.definition import DefinitionError
    from thidua.models.definition import Problem as DefinitionProblem
    from thidua.models.directory_rows import DirectoryImportError, RowError
    from thidua.models.ledger_rows import LedgerFileError
    from thidua.models.report_rows import ReportError
    from thidua.tasks.collect.progress import TargetImportError, TargetRowError

    row = RowError("dv.csv", 3, "Mã đơn vị", "trùng mã")
    assert DirectoryImportError([row]).located() == [
        Problem("trùng mã", file="dv.csv", row=3, column="Mã đơn vị")
    ]
    assert LedgerFileError([row]).located() == DirectoryImportError([row]).located()
    assert "trùng mã" in str(LedgerFileError([row])) and str(LedgerFileError([row])).count("trùng mã") == 1
    definition = DefinitionError("kh.yaml", [DefinitionProblem("awards[0].quota", 12, "phải ≥ 0")])
    assert definition.located() == [Problem("phải ≥ 0", file="kh.yaml", row=12, column="awards[0].quota")]
    assert TargetImportError("ct.csv", [TargetRowError(4, "giá trị âm")]).located() == [
        Problem("giá trị âm", file="ct.csv", row=4)
    ]
    cell = ReportError("bc.xlsx", "cần một số", sheet="Báo cáo", row=21, column="Số việc")
    assert InvalidInput("x", [cell]).located() == [
        Problem("cần một số", file="bc.xlsx", sheet="Báo cáo", row=21, column="Số việc")
    ]
    assert InvalidInput("x", ["một dòng chữ"]).located() == [Problem("một dòng chữ")]


def test_a_missing_campaign_says_where_to_look() -> None:
    exc = CampaignNotFound("TQ-X")
    assert (
        str(exc) == "Không có phong trào mã “TQ-X”.\nXem các phong trào đã phát động: `thidua campaign list`."
    )


# ---------------------------------------------------------------- the state a command needs


@pytest.fixture
def tq(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


def _set_status(engine: Engine, status: CampaignStatus) -> str:
    with transaction(engine) as s:
        code = str(s.scalars(select(col(Campaign.code))).one())
        s.execute(update(Campaign).where(col(Campaign.code) == code).values(status=status))
    return code


@pytest.mark.parametrize(
    ("current", "allowed", "words", "hint"),
    [
        (
            CampaignStatus.CLOSED,
            {CampaignStatus.IN_REVIEW},
            "đang ở trạng thái Đã kết thúc",
            "thidua review {code}",
        ),
        (CampaignStatus.COLLECTING, {CampaignStatus.CLOSED}, "Đang nhận báo cáo", "thidua close {code}"),
        (CampaignStatus.CLOSED, {CampaignStatus.COLLECTING}, "Đã kết thúc", "thidua reopen {code} --reason"),
        (
            CampaignStatus.AWARDED,
            {CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING},
            "Đã khen thưởng",
            None,
        ),
    ],
)
def test_a_campaign_in_the_wrong_state_names_its_state_and_the_command_to_run(
    tq: Engine, current: CampaignStatus, allowed: set[CampaignStatus], words: str, hint: str | None
) -> None:
    code = _set_status(tq, current)
    with transaction(tq) as s:
        campaign = get_campaign(s, code.lower())
        with pytest.raises(WrongState) as caught:
            require_state(campaign, allowed)
        assert require_state(campaign, {current}) == current
    message = str(caught.value)
    assert words in message and "in_review" not in message and "closed" not in message
    if hint is None:
        assert caught.value.hint is None
    else:
        assert f"`{hint.format(code=code)}" in message
    assert exit_code(caught.value) == 4


# ---------------------------------------------------------------- through the command line


def test_the_cli_maps_each_kind_to_its_exit_code_and_prints_the_message(
    tq: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    missing = runner.invoke(app, ["campaign", "show", "KHONG-CO"])
    assert missing.exit_code == 3 and "Không có phong trào mã “KHONG-CO”." in missing.output

    bad_moment = runner.invoke(app, ["remind", "KHONG-CO", "--dry-run", "--as-of", "32/13/2024"])
    assert bad_moment.exit_code == 2 and "không phải thời điểm hợp lệ" in bad_moment.output

    bad_file = tmp_path / "hỏng.yaml"
    bad_file.write_text("code: [\n", encoding="utf-8")
    invalid = runner.invoke(app, ["campaign", "validate", str(bad_file)])
    assert invalid.exit_code == 2 and "hỏng.yaml:" in invalid.output and "lỗi cú pháp YAML" in invalid.output

    code = _set_status(tq, CampaignStatus.COLLECTING)
    not_ready = runner.invoke(app, ["award", "list", code])
    assert not_ready.exit_code == 0  # nothing issued yet is an answer, not an error
    no_council = runner.invoke(app, ["council", "open", code, "--unit", "TQ", "--present", "TQ-01"])
    assert no_council.exit_code == 3, no_council.output
    assert "chưa được lập" in no_council.output and "thidua council setup" in no_council.output
    assert isinstance(no_council.exception, SystemExit)  # handled: a message, not a traceback
