"""Campaign definitions: the two seed plans load, hash stably, and bad files are reported by path and line."""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from thidua.models.definition import (
    CampaignDefinition,
    CampaignKind,
    DefinitionError,
    canonical_json,
    definition_from_json,
    definition_hash,
    load_definition,
    parse_definition,
)
from thidua.models.directory import DisciplineForm, UnitLevel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TQ = EXAMPLES / "tuyen-quang-2024.yaml"
NATIONAL = EXAMPLES / "national-2026.yaml"
TQ_TEXT = TQ.read_text(encoding="utf-8")

MINIMAL = """\
code: demo-2024
title: Thi đua thử
kind: theo_dot
issuer:
  agency: CỤC THI HÀNH ÁN DÂN SỰ TỈNH DEMO
  agency_short_name: Cục THADS
  unit_code: DM
  place: Demo
  signer: {name: Nguyễn Văn A, title: CỤC TRƯỞNG}
  contact: {department: Phòng Tổ chức cán bộ, email: TCCB@Demo.Example.VN}
  administrators: [tccb@demo.example.vn]
plan: {symbol: KH-CTHADS, date: 05/01/2024}
period: {start: 02/01/2024, end: 30/06/2024}
scope:
  units: [{subtree: DM}]
fields:
  - {key: due, label: Phải thi hành, unit: việc, cumulative: false}
  - {key: done, label: Đã xong, unit: việc}
indicators:
  - {key: rate, label: Tỷ lệ, numerator: [done], denominator: [due], target: "83,90%", main: true}
reporting:
  final_report: {due: 03/07/2024}
awards:
  - key: gk
    name: Giấy khen của Cục trưởng
    form: giay_khen
    authority: Cục trưởng
    authority_unit_code: DM
dossier:
  parts: [{key: to_trinh, name: Tờ trình}]
  deadline: 2024-07-03
"""


def _line(text: str, needle: str) -> int:
    """1-based line of the only occurrence of `needle` (the test fails if the example no longer has it)."""
    assert text.count(needle) == 1, f"anchor {needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1


def _mutate(old: str, new: str) -> str:
    text = TQ.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"anchor {old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def _problems(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, "tuyen-quang.yaml")
    return info.value


# ---------------------------------------------------------------- the seed plans


def test_it_loads_the_tuyen_quang_plan_with_every_rule_it_states() -> None:
    d = load_definition(TQ)

    assert d.kind is CampaignKind.CHUYEN_DE
    assert d.title == "Giảm án có điều kiện trên một năm chưa thi hành xong"
    assert (d.period.start, d.period.end) == (date(2024, 1, 2), date(2024, 6, 30))
    assert d.plan.number is None and d.plan.reference == "/KH-CTHADS" and d.plan.date == date(2024, 1, 5)
    assert d.issuer.signer.name == "Phan Thị Mai Thảo" and d.issuer.signer.on_behalf == "KT. CỤC TRƯỞNG"
    assert d.scope.units[0].subtree == "TQ" and d.scope.units[0].levels is None
    main = d.main_indicator
    assert (main.numerator, main.denominator, main.comparison) == (
        ["finished"],
        ["carried_over", "arising"],
        ">=",
    )
    assert main.target == Decimal("0.1")
    award = d.awards[0]
    assert (award.quota.collective, award.quota.individual) == (2, 3)
    assert (award.multiplier.collective, award.multiplier.individual) == (Decimal("0.6"), Decimal("0.3"))
    window = d.eligibility.discipline_window
    assert (window.start, window.end) == (date(2023, 10, 1), date(2024, 6, 30))
    assert d.eligibility.min_discipline_form is DisciplineForm.KHIEN_TRACH
    assert (
        d.eligibility.priority_titles == ["Chấp hành viên"] and d.eligibility.require_indicator == "reduction"
    )
    assert [p.key for p in d.dossier.parts] == [
        "to_trinh",
        "danh_sach",
        "bien_ban",
        "bao_cao_thanh_tich",
        "tong_hop_ket_qua",
    ]
    assert d.dossier.deadline == d.reporting.final_report.due == date(2024, 7, 3)
    assert d.council.quorum == Fraction(2, 3) and d.council.approval.share == Fraction(1, 2)
    assert d.distribution[2].name == "Ban Thi đua, Khen thưởng tỉnh"


def test_it_loads_the_national_plan_with_two_awards_and_per_unit_targets() -> None:
    d = load_definition(NATIONAL)

    assert d.plan.reference == "1058/KH-BTP" and d.plan.date == date(2026, 2, 25)
    assert d.issuer.parent_agency is None and d.issuer.signer.name == "Mai Lương Khôi"
    assert [i.target for i in d.indicators] == [Decimal("0.839"), Decimal("0.519")]
    assert all(i.targets == "per_unit" for i in d.indicators)
    assert d.main_indicator.key == "completion_cases"
    bang_khen, giay_khen = d.awards
    assert bang_khen.proposed_by is not None and bang_khen.proposed_by.unit_code == "CQL"
    assert bang_khen.multiplier.individual == Decimal("1.5") and giay_khen.multiplier.individual == Decimal(
        "0.3"
    )
    assert bang_khen.quota.collective is None  # the plan sets no numbers
    # The plan states no discipline window: the campaign period stands in.
    window = d.eligibility.discipline_window
    assert (window.start, window.end) == (date(2026, 1, 1), date(2026, 5, 31))


def test_the_scope_says_which_units_report() -> None:
    scope = load_definition(TQ).scope

    assert scope.reports("TQ-TP", UnitLevel.KHU_VUC)
    assert scope.reports("TQ-NV", UnitLevel.PHONG)  # the Cục's enforcement department, by code
    assert not scope.reports("TQ-VP", UnitLevel.PHONG)
    assert not scope.reports("TQ", UnitLevel.TINH)


# ---------------------------------------------------------------- identity


def _reformatted(data: Any) -> Any:
    """Same meaning, other spelling: dd/mm/yyyy dates, decomposed (NFD) Vietnamese."""
    if isinstance(data, dict):
        return {k: _reformatted(v) for k, v in reversed(list(data.items()))}
    if isinstance(data, list):
        return [_reformatted(v) for v in data]
    if isinstance(data, date):
        return data.strftime("%d/%m/%Y")
    if isinstance(data, str):
        return unicodedata.normalize("NFD", data)
    return data


@pytest.mark.parametrize("path", [TQ, NATIONAL], ids=["tuyen-quang", "national"])
def test_canonical_json_round_trips_and_the_hash_ignores_formatting(path: Path) -> None:
    original = load_definition(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    copy_text = "# reformatted copy\n" + yaml.safe_dump(
        _reformatted(data), allow_unicode=True, default_flow_style=True
    )

    copy = parse_definition(copy_text, "copy.yaml")

    assert copy_text != path.read_text(encoding="utf-8")
    assert canonical_json(copy) == canonical_json(original)
    assert definition_hash(copy) == definition_hash(original)
    assert definition_from_json(canonical_json(original)) == original
    assert len(definition_hash(original)) == 64


def test_the_hash_changes_when_the_meaning_changes() -> None:
    original = load_definition(TQ)
    changed = parse_definition(_mutate("      individual: 3\n", "      individual: 4\n"), "changed.yaml")

    assert definition_hash(changed) != definition_hash(original)


def test_stating_a_default_or_omitting_it_is_the_same_definition() -> None:
    omitted = parse_definition(MINIMAL, "a.yaml")
    stated = parse_definition(
        MINIMAL
        + "council: {quorum: 2/3, approval: {share: 0.5, of: all_members, strict: true}}\n"
        + "eligibility: {discipline_window: {start: 2024-01-02, end: 2024-06-30}}\n",
        "b.yaml",
    )

    assert definition_hash(stated) == definition_hash(omitted)


# ---------------------------------------------------------------- defaults and normalisation


def test_a_minimal_definition_gets_the_domain_defaults() -> None:
    d = parse_definition(MINIMAL, "minimal.yaml")

    assert d.code == "DEMO-2024"
    assert d.issuer.contact.email == "tccb@demo.example.vn"
    assert d.indicators[0].target == Decimal("0.839")
    assert d.awards[0].multiplier.collective == Decimal("0.6")  # Giấy khen: 0.3, collectives twice
    assert d.awards[0].multiplier.individual == Decimal("0.3")
    assert d.council.quorum == Fraction(2, 3)
    assert (d.council.approval.share, d.council.approval.of, d.council.approval.strict) == (
        Fraction(1, 2),
        "all_members",
        True,
    )
    assert d.council.secret_ballot and d.council.recuse_own_unit
    assert d.reminders.before_days == [5, 2, 1] and d.reminders.send_hour == 8
    assert d.reporting.due_offset.days == 5 and d.reporting.day_off_rule == "next_working_day"
    assert d.eligibility.discipline_window.start == date(2024, 1, 2)
    assert d.scope.reports("ANY", "khu_vuc")  # reporting_levels None: every enrolled unit reports


def test_it_stores_text_in_nfc_whatever_the_input() -> None:
    decomposed = unicodedata.normalize("NFD", MINIMAL)
    assert decomposed != MINIMAL

    d = parse_definition(decomposed, "nfd.yaml")

    assert d.title == "Thi đua thử" and unicodedata.is_normalized("NFC", d.issuer.signer.name)


def test_indicator_comparison_is_exact() -> None:
    ind = parse_definition(MINIMAL, "m.yaml").indicators[0]  # >= 83.90 %

    assert ind.met(839, 1000) is True
    assert ind.met(838, 1000) is False
    assert ind.met(1, 0) is None
    assert ind.met(1, 2, target=Decimal("0.5")) is True


# ---------------------------------------------------------------- located errors


@pytest.mark.parametrize(
    ("old", "new", "path", "anchor", "fragment"),
    [
        (
            "      individual: 3\n",
            "      individual: -3\n",
            "awards[0].quota.individual",
            "individual: -3",
            "lớn hơn hoặc bằng 0",
        ),
        (
            "  secret_ballot: true",
            "  secret_balot: true",
            "council.secret_balot",
            "secret_balot",
            "secret_ballot",
        ),
        (
            "    denominator: [carried_over, arising]",
            "    denominator: [carried_over, arisen]",
            "indicators[0].denominator[1]",
            "denominator: [carried_over, arisen]",
            "arisen",
        ),
        (
            "  deadline: 2024-07-03",
            "  deadline: 2024-02-30",
            "dossier.deadline",
            "deadline: 2024-02-30",
            "2024-02-30",
        ),
        (
            "  deadline: 2024-07-03",
            "  deadline: 2024-06-01",
            "dossier.deadline",
            "deadline: 2024-06-01",
            "trước",
        ),
        ("    main: true", "    main: false", "indicators", "indicators:", "đúng một"),
        ('    target: "10%"', "    target: 10", "indicators[0].target", "target: 10", "từ 0 đến 1"),
        (
            "  day_off_rule: next_working_day",
            "  day_off_rule: next_day",
            "reporting.day_off_rule",
            "next_day",
            "keep",
        ),
        (
            "  require_indicator: reduction",
            "  require_indicator: speed",
            "eligibility.require_indicator",
            "speed",
            "",
        ),
        ("  agency_short_name: Cục THADS\n", "", "issuer.agency_short_name", "issuer:", "thiếu"),
        (
            "    start: 2023-10-01",
            "    start: 2024-10-01",
            "eligibility.discipline_window.end",
            "end: 2024-06-30\n  min",
            "",
        ),
    ],
    ids=[
        "negative-quota",
        "unknown-key",
        "unknown-field",
        "bad-date",
        "dossier-before-end",
        "no-main-indicator",
        "target-not-a-ratio",
        "bad-choice",
        "unknown-indicator",
        "missing-key",
        "window-reversed",
    ],
)
def test_a_bad_file_is_reported_with_the_exact_path_and_line(
    old: str, new: str, path: str, anchor: str, fragment: str
) -> None:
    text = _mutate(old, new)

    error = _problems(text)

    assert [(p.path, p.line) for p in error.problems] == [(path, _line(text, anchor))]
    assert fragment in error.problems[0].message


def test_str_of_the_error_lists_file_line_path_and_message(tmp_path: Path) -> None:
    bad = tmp_path / "tuyen-quang.yaml"
    text = _mutate("      individual: 3\n", "      individual: -3\n")
    bad.write_text(text, encoding="utf-8")

    with pytest.raises(DefinitionError) as info:
        load_definition(bad)

    line = _line(text, "individual: -3")
    assert (
        str(info.value)
        == f"tuyen-quang.yaml:{line}: awards[0].quota.individual: phải lớn hơn hoặc bằng 0, nhận được -3"
    )


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = _mutate("      individual: 3\n", "      individual: -3\n").replace(
        "  secret_ballot: true", "  secretballot: 1"
    )

    error = _problems(text)

    assert [p.path for p in error.problems] == ["awards[0].quota.individual", "council.secretballot"]
    assert len(str(error).splitlines()) == 2


def test_a_yaml_syntax_error_becomes_a_located_problem() -> None:
    text = _mutate("  frequency: monthly", "  frequency: monthly: yes")

    error = _problems(text)

    assert [(p.path, p.line) for p in error.problems] == [("", _line(text, "frequency: monthly: yes"))]
    assert "YAML" in error.problems[0].message
    assert str(error).startswith(
        f"tuyen-quang.yaml:{_line(text, 'frequency: monthly: yes')}: lỗi cú pháp YAML"
    )


def test_a_repeated_key_is_an_error_not_a_silent_override() -> None:
    text = _mutate("  send_hour: 8\n", "  send_hour: 8\n  send_hour: 9\n")

    error = _problems(text)

    assert [(p.path, p.line) for p in error.problems] == [
        ("reminders.send_hour", _line(text, "send_hour: 9"))
    ]


def test_a_file_that_is_not_a_mapping_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="nhóm mục"):
        parse_definition("- just\n- a list\n", "list.yaml")
    with pytest.raises(DefinitionError, match="nhóm mục"):
        parse_definition("", "empty.yaml")


def test_a_broken_period_is_reported_once_not_echoed_by_the_discipline_window() -> None:
    text = MINIMAL.replace("period: {start: 02/01/2024, end: 30/06/2024}", "period: {start: 02/01/2024}")

    error = _problems(text)

    assert [(p.path, p.line) for p in error.problems] == [("period.end", _line(text, "period:"))]


def test_award_keys_must_be_unique() -> None:
    award = MINIMAL[MINIMAL.index("  - key: gk") : MINIMAL.index("dossier:")]
    text = MINIMAL.replace("dossier:", award + "dossier:")

    error = _problems(text)

    assert [p.path for p in error.problems] == ["awards[1].key"]
    assert error.problems[0].line == text.count("\n", 0, text.rindex("  - key: gk")) + 1


def test_an_invalid_code_is_rejected() -> None:
    error = _problems(MINIMAL.replace("code: demo-2024", "code: thi đua"))

    assert [p.path for p in error.problems] == ["code"]


def test_the_model_itself_enforces_cross_field_rules() -> None:
    data = yaml.safe_load(MINIMAL)
    data["reporting"]["final_report"]["due"] = "01/06/2024"

    with pytest.raises(ValueError, match="hạn báo cáo tổng kết"):
        CampaignDefinition.model_validate(data)


# ---------------------------------------------------------------- hostile files: refused fast, with a place


def _refused_fast(text: str) -> str:
    started = time.monotonic()
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "tấn-công.yaml")
    assert time.monotonic() - started < 5  # refused, not walked for minutes
    return str(caught.value)


def test_billion_laughs_is_refused_without_expanding_the_aliases() -> None:
    rows = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    message = _refused_fast("\n".join(rows) + "\n")
    assert message == "tấn-công.yaml: tệp quá lớn: hơn 20.000 mục khi mở rộng các bí danh (*…)"


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "x: 1\n",
        # deep, yet within Python's recursion limit: refused by the depth check itself
        "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "x: 1\n",
    ],
    ids=["flow-5000", "block-3000", "block-60"],
)
def test_deep_nesting_is_refused_with_its_line(text: str) -> None:
    message = _refused_fast(text)
    assert re.fullmatch(r"tấn-công\.yaml:\d+: các mục lồng nhau quá sâu \(hơn 40 cấp\)", message), message


@pytest.mark.parametrize("target", ['"1e308%"', "1e308", '"9e12"', '"-1e20%"'])
def test_an_absurd_number_is_refused_at_its_path(target: str) -> None:
    text = TQ_TEXT.replace("target: ", f"target: {target}  # ", 1)
    message = _refused_fast(text)
    expected = r":\d+: indicators\[0\]\.target: “[^”]+” quá lớn \(cần nhỏ hơn 10\^12\)"
    assert re.search(expected, message), message


def test_a_real_plan_is_far_below_the_size_limits() -> None:
    assert parse_definition(TQ_TEXT, "tq.yaml").code


def test_a_field_bound_changes_the_hash_only_when_it_is_set() -> None:
    plain = load_definition(TQ)
    assert '"maximum"' not in canonical_json(plain)  # definitions launched before the setting keep their hash
    bounded = parse_definition(TQ_TEXT.replace("unit: việc", "unit: việc\n    maximum: 5000", 1), "tq.yaml")
    assert bounded.fields[0].bound == 5000 and definition_hash(bounded) != definition_hash(plain)
