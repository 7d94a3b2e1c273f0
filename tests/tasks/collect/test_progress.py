"""Per-unit targets, progress snapshots, timeliness and the status table on real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, event, func, select
from sqlmodel import col

from tests.factories import NATIONAL_DEFINITION, VN, at, launch_campaign_rows, load_demo_directory
from thidua.models.campaign import Campaign, Deadline, EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.reporting import ProgressSnapshot, Submission, UnitTarget
from thidua.tasks.collect.progress import (
    TargetImportError,
    UnknownPeriod,
    campaign_status,
    compute_all_snapshots,
    compute_snapshots,
    import_targets,
    period_status,
    target_for,
    unit_targets,
)

CODE = "TQ-2024-GIAM-AN"
NATIONAL = "BTP-2026-80-NAM-THADS"
NOW = at("10/04/2024", 9)


def submit(
    engine: Engine,
    unit: str,
    period: str,
    values: Mapping[str, int],
    *,
    when: datetime,
    officers: Sequence[tuple[str, Mapping[str, int]]] = (),
    code: str = CODE,
) -> int:
    """An accepted report as the ingestion stores it: a new current revision, the previous one kept."""
    with transaction(engine) as s:
        campaign = s.scalars(select(Campaign).where(col(Campaign.code) == code)).one()
        due = s.scalars(
            select(col(Deadline.due_date)).where(
                col(Deadline.campaign_id) == campaign.id, col(Deadline.key) == period
            )
        ).one()
        where = (
            col(Submission.campaign_id) == campaign.id,
            col(Submission.unit_code) == unit,
            col(Submission.period_key) == period,
        )
        last = s.scalar(select(func.max(col(Submission.revision))).where(*where)) or 0
        for old in s.scalars(select(Submission).where(*where, col(Submission.is_current).is_(True))):
            old.is_current = False
            s.add(old)
        s.flush()
        assert campaign.id is not None
        s.add(
            Submission(
                campaign_id=campaign.id,
                unit_code=unit,
                period_key=period,
                revision=last + 1,
                is_current=True,
                received_at=when,
                due_date=due,
                on_time=when.astimezone(VN).date() <= due,
                source_name=f"{unit}-{period}-r{last + 1}.xlsx",
                file_sha256=f"{unit}{period}{last + 1}".ljust(64, "0")[:64],
                values_json=json.dumps(dict(values)),
                officers_json=json.dumps([{"person_code": p, "values": dict(v)} for p, v in officers]),
            )
        )
        return last + 1


def tq(carried_over: int, arising: int, finished: int) -> dict[str, int]:
    return {"carried_over": carried_over, "arising": arising, "finished": finished}


def snapshots(engine: Engine, period: str, kind: str = "unit") -> dict[str, ProgressSnapshot]:
    with transaction(engine) as s:
        rows = s.scalars(
            select(ProgressSnapshot).where(
                col(ProgressSnapshot.period_key) == period, col(ProgressSnapshot.subject_kind) == kind
            )
        ).all()
        for r in rows:
            s.expunge(r)
        return {r.subject_code: r for r in rows}


def indicator(snapshot: ProgressSnapshot, key: str = "reduction") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(snapshot.indicators_json)[key]
    return data


@pytest.fixture
def tq_campaign(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


@pytest.fixture
def national(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "national-2026", tmp_path, now=at("20/02/2026"))
    launch_campaign_rows(engine, NATIONAL_DEFINITION, now=at("25/02/2026", 9))
    return engine


def officers_of(engine: Engine, unit: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(col(EnrolledPerson.person_code))
                .where(col(EnrolledPerson.unit_code) == unit)
                .order_by(col(EnrolledPerson.person_code))
            ).scalars()
        )


# ---------------------------------------------------------------- snapshots


def test_the_cuc_is_the_sum_of_its_chi_cuc_not_the_average_of_their_rates(tq_campaign: Engine) -> None:
    engine = tq_campaign
    # Yên Sơn: 10 / 20 = 50 %; Na Hang: 20 / 400 = 5 %. Average 27,5 % (would be met); sum 30 / 420 = 7,14 %.
    submit(engine, "TQ-YS", "2024-03", tq(10, 10, 10), when=at("02/04/2024"))
    submit(engine, "TQ-NH", "2024-03", tq(300, 100, 20), when=at("03/04/2024"))
    # The Cục does not report: a consolidated sheet from it would count the Chi cục twice.
    submit(engine, "TQ", "2024-03", tq(999, 999, 999), when=at("03/04/2024"))

    summary = compute_snapshots(engine, CODE, "2024-03", now=NOW)

    units = snapshots(engine, "2024-03")
    assert summary.units == len(units) == 12
    assert json.loads(units["TQ"].values_json) == tq(310, 110, 30)
    cuc = indicator(units["TQ"])
    assert (cuc["num"], cuc["den"], Fraction(cuc["value"]), cuc["met"]) == (30, 420, Fraction(1, 14), False)
    assert indicator(units["TQ-YS"])["met"] is True and indicator(units["TQ-NH"])["met"] is False
    assert cuc["target"] == "0.1" and cuc["comparison"] == ">="
    # Units with nothing reported below them: no data, not 0 %.
    assert json.loads(units["TQ-VP"].values_json) == {} and indicator(units["TQ-VP"])["met"] is None
    assert indicator(units["TQ-LB"])["value"] is None
    assert all(s.source == "report" and s.computed_at == NOW for s in units.values())


def test_exactly_ten_percent_is_stored_as_met(tq_campaign: Engine) -> None:
    submit(tq_campaign, "TQ-YS", "2024-03", tq(120, 30, 15), when=at("02/04/2024"))
    submit(tq_campaign, "TQ-NH", "2024-03", tq(120, 30, 14), when=at("02/04/2024"))
    compute_snapshots(tq_campaign, CODE, "2024-03", now=NOW)

    units = snapshots(tq_campaign, "2024-03")
    assert indicator(units["TQ-YS"]) | {"value": "1/10", "met": True} == indicator(units["TQ-YS"])
    assert indicator(units["TQ-NH"])["met"] is False
    assert indicator(units["TQ"])["value"] == str(Fraction(29, 300))


def test_officers_get_their_own_snapshots_from_the_current_reports(tq_campaign: Engine) -> None:
    engine = tq_campaign
    first, second, third = officers_of(engine, "TQ-YS")[:3]
    submit(
        engine,
        "TQ-YS",
        "2024-03",
        tq(95, 25, 18),
        when=at("02/04/2024"),
        officers=[(first, tq(40, 10, 5)), (second, tq(30, 5, 3)), ("NOT-ENROLLED", tq(1, 1, 1))],
    )
    run = compute_snapshots(engine, CODE, "2024-03", now=NOW)

    people = snapshots(engine, "2024-03", "person")
    assert run.persons == 2 and set(people) == {first, second}
    assert indicator(people[first])["value"] == "1/10" and indicator(people[first])["met"] is True
    assert Fraction(indicator(people[second])["value"]) == Fraction(3, 35)
    assert indicator(people[second])["met"] is False

    # A re-submission without the second officer supersedes the first: that officer's row goes.
    submit(engine, "TQ-YS", "2024-03", tq(95, 25, 20), when=at("05/04/2024"), officers=[(third, tq(5, 5, 1))])
    again = compute_snapshots(engine, CODE, "2024-03", now=at("11/04/2024"))
    people = snapshots(engine, "2024-03", "person")
    assert set(people) == {third} and again.removed == 2
    assert json.loads(snapshots(engine, "2024-03")["TQ-YS"].values_json)["finished"] == 20


def test_snapshots_are_idempotent_and_only_changed_rows_are_rewritten(tq_campaign: Engine) -> None:
    engine = tq_campaign
    submit(engine, "TQ-YS", "2024-02", tq(95, 20, 9), when=at("05/03/2024"))
    submit(engine, "TQ-YS", "2024-03", tq(95, 25, 18), when=at("02/04/2024"))
    submit(engine, "TQ-CH", "2024-03", tq(50, 10, 6), when=at("02/04/2024"))

    first = compute_all_snapshots(engine, CODE, ["2024-02", "2024-03"], now=NOW)
    before = {p: snapshots(engine, p) for p in ("2024-02", "2024-03")}
    second = compute_all_snapshots(engine, CODE, ["2024-02", "2024-03"], now=at("12/04/2024"))
    after = {p: snapshots(engine, p) for p in ("2024-02", "2024-03")}

    assert [p.written for p in first.periods] == [12, 12]
    assert second.written == 0
    assert {
        p: {c: (r.id, r.values_json, r.indicators_json, r.computed_at) for c, r in rows.items()}
        for p, rows in before.items()
    } == {
        p: {c: (r.id, r.values_json, r.indicators_json, r.computed_at) for c, r in rows.items()}
        for p, rows in after.items()
    }

    # A correction of Chiêm Hóa changes its line and the Cục's, nothing else.
    submit(engine, "TQ-CH", "2024-03", tq(50, 10, 7), when=at("12/04/2024"))
    third = compute_snapshots(engine, CODE, "2024-03", now=at("13/04/2024"))
    changed = {c for c, r in snapshots(engine, "2024-03").items() if r.computed_at == at("13/04/2024")}
    assert third.written == 2 and changed == {"TQ", "TQ-CH"}


def test_snapshots_of_an_unknown_period_are_refused(tq_campaign: Engine) -> None:
    with pytest.raises(UnknownPeriod, match="2024-09"):
        compute_snapshots(tq_campaign, CODE, "2024-09", now=NOW)


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_national_snapshots_take_the_same_few_statements_as_a_province(national: Engine) -> None:
    engine = national
    with engine.connect() as conn:
        provinces = list(
            conn.execute(
                select(col(EnrolledUnit.unit_code)).where(col(EnrolledUnit.reports).is_(True))
            ).scalars()
        )
        staff = conn.execute(select(col(EnrolledPerson.person_code), col(EnrolledPerson.unit_code))).all()
    province_of = {}
    for code, unit in staff:
        province_of[code] = next((p for p in provinces if unit == p or unit.startswith(p + "-")), None)
    assert len(provinces) == 34 and len(staff) > 9_000
    for i, province in enumerate(provinces):
        people = [c for c, p in province_of.items() if p == province]
        figures = {
            "cases_with_conditions": 20_000 + i,
            "cases_finished": 16_900 + i,
            "money_with_conditions": 10**12,
            "money_finished": 52 * 10**10,
        }
        officer_rows = [
            (
                p,
                {
                    "cases_with_conditions": 220,
                    "cases_finished": 180 + j % 40,
                    "money_with_conditions": 10**9,
                    "money_finished": 5 * 10**8,
                },
            )
            for j, p in enumerate(people)
        ]
        submit(
            engine, province, "2026-03", figures, when=at("03/04/2026"), officers=officer_rows, code=NATIONAL
        )

    with counted(engine) as statements:
        run = compute_snapshots(engine, NATIONAL, "2026-03", now=at("10/04/2026"))
    officers = sum(1 for p in province_of.values() if p is not None)
    assert run.units == 532 and run.persons == officers > 9_000
    national_statements = len(statements)

    with counted(engine) as statements:
        again = compute_snapshots(engine, NATIONAL, "2026-03", now=at("11/04/2026"))
    assert again.written == 0

    # Per-unit figures rolled up to the Cục: money in the hundreds of trillions stays exact.
    units = snapshots(engine, "2026-03")
    agg = indicator(units[provinces[0]], "completion_money")
    assert (agg["num"], agg["den"], agg["value"]) == (52 * 10**10, 10**12, "13/25")
    # No national indicator applies to people: their figures are kept, with no indicator.
    person = next(iter(snapshots(engine, "2026-03", "person").values()))
    assert json.loads(person.values_json)["cases_with_conditions"] == 220 and person.indicators_json == "{}"
    assert national_statements <= 12, statements


# ---------------------------------------------------------------- timeliness


def january(engine: Engine) -> None:
    """2024-01 is due 07/02/2024: six on time, Sơn Dương late, Yên Sơn missing."""
    for unit in ("TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV"):
        submit(engine, unit, "2024-01", tq(60, 5, 3), when=at("05/02/2024", 10))
    submit(engine, "TQ-TP", "2024-01", tq(60, 5, 3), when=at("07/02/2024", 16, 59))
    submit(engine, "TQ-SD", "2024-01", tq(60, 5, 3), when=at("09/02/2024", 8))
    # Chiêm Hóa corrects its figures after the due date: its first report was on time, so it stays on time.
    submit(engine, "TQ-CH", "2024-01", tq(60, 5, 4), when=at("12/02/2024", 8))


def test_period_status_after_the_due_date(tq_campaign: Engine) -> None:
    january(tq_campaign)
    status = period_status(tq_campaign, CODE, "2024-01", as_of=date(2024, 2, 15))

    assert status.overdue and status.due_date == date(2024, 2, 7)
    assert (status.expected, status.received, status.on_time, status.late) == (8, 7, 6, 1)
    assert status.missing == ["TQ-YS"] and status.pending == [] and status.late_units == ["TQ-SD"]
    assert status.reporting_rate == Fraction(7, 8) and status.on_time_rate == Fraction(3, 4)
    assert status.names["TQ-YS"] == "Chi cục Thi hành án dân sự huyện Yên Sơn"
    assert status.summary() == (
        "8 đơn vị phải báo cáo · đã nộp 7 (87,50%) · đúng hạn 6 (75,00%) · nộp muộn 1 · chưa nộp (quá hạn) 1"
    )
    plain = json.loads(json.dumps(status.as_dict()))
    assert plain["reporting_rate"] == "7/8" and plain["on_time_rate_text"] == "75,00%"
    assert plain["due_date"] == "2024-02-07" and plain["missing"] == ["TQ-YS"]


def test_period_status_before_the_due_date_calls_nobody_late(tq_campaign: Engine) -> None:
    january(tq_campaign)
    status = period_status(tq_campaign, CODE, "01/2024", as_of=date(2024, 2, 6))

    assert not status.overdue
    assert (status.received, status.on_time, status.late) == (5, 5, 0)
    assert status.missing == []
    assert status.pending == ["TQ-SD", "TQ-TP", "TQ-YS"]
    assert status.summary().endswith("chưa nộp 3 (hạn 07/02/2024)")


# ---------------------------------------------------------------- the status table


def months(engine: Engine) -> None:
    january(engine)
    # February, due 07/03/2024: Yên Sơn catches up; Lâm Bình does not report.
    for unit, figures in {
        "TQ-CH": tq(60, 8, 6),
        "TQ-HY": tq(60, 8, 7),
        "TQ-NH": tq(60, 8, 5),
        "TQ-NV": tq(20, 2, 3),
        "TQ-SD": tq(60, 8, 7),
        "TQ-TP": tq(60, 8, 6),
        "TQ-YS": tq(95, 20, 12),
    }.items():
        submit(engine, unit, "2024-02", figures, when=at("04/03/2024"))


def test_the_status_table_lists_the_tree_with_targets_trends_and_totals(tq_campaign: Engine) -> None:
    months(tq_campaign)
    table = campaign_status(tq_campaign, CODE, as_of=date(2024, 3, 10))

    assert (table.period_key, table.previous_period_key) == ("2024-02", "2024-01")
    assert [(r.code, r.depth) for r in table.rows] == [
        ("TQ", 0),
        ("TQ-CH", 1),
        ("TQ-HY", 1),
        ("TQ-LB", 1),
        ("TQ-NH", 1),
        ("TQ-NV", 1),
        ("TQ-SD", 1),
        ("TQ-TP", 1),
        ("TQ-YS", 1),
    ]  # departments that do not report are left out
    rows = {r.code: r for r in table.rows}
    assert table.total is rows["TQ"] and not table.separate_total
    assert rows["TQ"].figures == {"carried_over": 415, "arising": 62, "finished": 46}
    assert rows["TQ"].results["reduction"].value == Fraction(46, 477)
    assert (rows["TQ"].expected_below, rows["TQ"].received_below) == (8, 7)

    ch = rows["TQ-CH"]
    assert (ch.reported, ch.on_time, ch.received_on) == (True, True, date(2024, 3, 4))
    assert ch.results["reduction"].value == Fraction(6, 68)
    assert ch.trends["reduction"].delta == Fraction(6, 68) - Fraction(4, 65)
    assert ch.trends["reduction"].arrow == "↑"
    assert rows["TQ-LB"].reported is False and rows["TQ-LB"].results["reduction"].met is None
    assert rows["TQ-LB"].trends["reduction"].arrow == ""
    assert rows["TQ-YS"].trends["reduction"].arrow == ""  # nothing for January to compare with
    assert rows["TQ-NV"].results["reduction"].met is True  # 3 / 22
    assert table.timeliness.missing == ["TQ-LB"] and table.timeliness.received == 7


def test_the_status_can_be_replayed_as_of_an_earlier_day(tq_campaign: Engine) -> None:
    months(tq_campaign)
    table = campaign_status(tq_campaign, CODE, as_of=date(2024, 2, 8), period="2024-01")

    rows = {r.code: r for r in table.rows}
    # Chiêm Hóa's correction of 12/02 and Sơn Dương's report of 09/02 had not arrived yet.
    assert rows["TQ-CH"].figures["finished"] == 3 and rows["TQ-CH"].revision == 1
    assert rows["TQ-SD"].reported is False
    assert table.timeliness.missing == ["TQ-SD", "TQ-YS"]
    assert campaign_status(tq_campaign, CODE, as_of=date(2024, 3, 1)).period_key == "2024-01"
    assert campaign_status(tq_campaign, CODE, as_of=date(2024, 1, 20)).period_key == "2024-01"


# ---------------------------------------------------------------- per-unit targets


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def stored_targets(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        return {
            (u, k): t
            for u, k, t in conn.execute(
                select(col(UnitTarget.unit_code), col(UnitTarget.indicator_key), col(UnitTarget.target))
            ).tuples()
        }


def test_per_unit_targets_from_csv_and_xlsx_decide_who_meets_them(national: Engine, tmp_path: Path) -> None:
    engine = national
    source = write_csv(
        tmp_path / "chi-tieu.csv",
        [
            ["Chỉ tiêu giao năm 2026"],
            ["Mã đơn vị", "Tên đơn vị", "Chỉ tiêu", "Giá trị"],
            ["TNN", "Thái Nguyên", "completion_cases", "85,00%"],
            ["TNN", "Thái Nguyên", "Tỷ lệ thi hành xong về tiền", "0.55"],
            ["HNI", "Hà Nội", "completion_cases", "80"],
        ],
        delimiter=";",
    )
    result = import_targets(engine, NATIONAL, source, now=at("01/03/2026"))

    assert (result.rows, result.inserted, result.updated) == (3, 3, 0)
    assert stored_targets(engine) == {
        ("TNN", "completion_cases"): "0.85",
        ("TNN", "completion_money"): "0.55",
        ("HNI", "completion_cases"): "0.8",
    }
    assert target_for(engine, NATIONAL, "TNN", "completion_cases") == Decimal("0.85")
    assert target_for(engine, NATIONAL, "AGG", "completion_cases") == Decimal("0.839")

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Mã đơn vị", "Chỉ tiêu", "Giá trị"])
    ws.append(["TNN", "completion_cases", 0.86])
    ws.append(["AGG", "completion_cases", "84,50%"])
    wb.save(tmp_path / "chi-tieu.xlsx")
    again = import_targets(engine, NATIONAL, tmp_path / "chi-tieu.xlsx", now=at("02/03/2026"))
    assert (again.inserted, again.updated, again.unchanged) == (1, 1, 0)
    assert unit_targets(engine, NATIONAL)[("TNN", "completion_cases")] == Decimal("0.86")

    # 85 % by cases: met against the national 83,90 %, not against Thái Nguyên's 86 %.
    same = {
        "cases_with_conditions": 1000,
        "cases_finished": 850,
        "money_with_conditions": 100,
        "money_finished": 60,
    }
    for unit in ("TNN", "HNI", "CBG"):
        submit(engine, unit, "2026-02", same, when=at("04/03/2026"), code=NATIONAL)
    compute_snapshots(engine, NATIONAL, "2026-02", now=at("10/03/2026"))
    units = snapshots(engine, "2026-02")
    assert indicator(units["TNN"], "completion_cases") | {} == {
        "num": 850,
        "den": 1000,
        "value": "17/20",
        "target": "0.86",
        "comparison": ">=",
        "met": False,
    }
    assert indicator(units["HNI"], "completion_cases")["met"] is True
    assert indicator(units["CBG"], "completion_cases")["target"] == "0.839"
    assert indicator(units["TNN"], "completion_money")["met"] is True  # 60 % against 55 %

    table = campaign_status(engine, NATIONAL, as_of=date(2026, 3, 10))
    rows = {r.code: r for r in table.rows}
    assert table.separate_total and table.total.name == "Tổng cộng"
    assert len(table.rows) == 34 and all(r.depth == 0 for r in table.rows)
    assert rows["TNN"].results["completion_cases"].target == Decimal("0.86")
    assert table.total.figures["cases_finished"] == 2550 and table.total.expected_below == 34


def test_a_bad_targets_file_is_refused_whole_with_every_row_error(national: Engine, tmp_path: Path) -> None:
    engine = national
    good = write_csv(
        tmp_path / "ok.csv", [["Mã đơn vị", "Chỉ tiêu", "Giá trị"], ["TNN", "completion_cases", "85%"]]
    )
    import_targets(engine, NATIONAL, good, now=at("01/03/2026"))
    before = stored_targets(engine)

    bad = write_csv(
        tmp_path / "loi.csv",
        [
            ["Ma don vi", "Chi tieu", "Gia tri"],
            ["TNN", "completion_cases", "90%"],  # fine, but the file is refused as a whole
            ["ZZZ", "completion_cases", "85%"],
            ["HNI", "tien_luong", "85%"],
            ["HNI", "completion_money", "nhiều"],
            ["HNI", "completion_cases", "150%"],
            ["TNN", "completion_cases", "91%"],
            ["", "completion_cases", "85%"],
        ],
    )
    with pytest.raises(TargetImportError) as err:
        import_targets(engine, NATIONAL, bad, now=at("02/03/2026"))

    rows = {(e.row, e.message.split(" ")[0]) for e in err.value.errors}
    assert {r for r, _ in rows} == {3, 4, 5, 6, 7, 8}
    text = str(err.value)
    assert "loi.csv: dòng 3: đơn vị “ZZZ” không tham gia phong trào" in text
    assert "không có chỉ tiêu “tien_luong”" in text
    assert "dòng 7: đơn vị “TNN”, chỉ tiêu “completion_cases” đã có ở dòng 2" in text
    assert "lớn hơn 100%" in text and "thiếu mã đơn vị" in text
    assert stored_targets(engine) == before


def test_a_target_for_an_indicator_shared_by_all_units_is_an_error(
    tq_campaign: Engine, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "tq.csv", [["Mã đơn vị", "Chỉ tiêu", "Giá trị"], ["TQ-YS", "reduction", "12%"]]
    )
    with pytest.raises(TargetImportError, match="targets: fixed"):
        import_targets(tq_campaign, CODE, path, now=NOW)

    no_header = write_csv(tmp_path / "trong.csv", [["Đơn vị", "Mức"], ["TQ-YS", "12%"]])
    with pytest.raises(TargetImportError, match="dòng tiêu đề"):
        import_targets(tq_campaign, CODE, no_header, now=NOW)
    assert stored_targets(tq_campaign) == {}
