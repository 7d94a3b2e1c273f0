"""Benchmark: the project's case-ledger import + figures for all units, against the raw floor, same run.

    python bench/bench_ledger.py [--rows 1000000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

1. Writes a deterministic national ledger (deploy/demo/ledger.py, `national-2026`) to bench/out/ (once).
2. SQLite: a fresh migrated database with the national demo directory and the national campaign launched
   (not timed), then times (a) `import_ledger` + `ledger_figures(by="unit")` for every unit, against
   (b) the floor: the same CSV rows read with the csv module and loaded with `sqlite3.executemany` into a bare
   table (no keys, no indexes, one transaction), plus one GROUP BY per unit.
3. PostgreSQL (with --pg, an admin URL): the same in a throwaway database created and dropped here; the floor
   loads the same csv rows with `COPY ... FROM STDIN` (psycopg `write_row`) into a bare table.

Prints each time, the ratio (goal ≤ 2×) and the peak memory of this process (ru_maxrss; goal < 1 GB).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import resource
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, make_url  # noqa: E402

from thidua.deploy.demo.directory import write_demo  # noqa: E402
from thidua.deploy.demo.ledger import demo_as_of, write_demo_ledger  # noqa: E402
from thidua.models.db import make_engine, upgrade  # noqa: E402
from thidua.models.definition import load_definition  # noqa: E402
from thidua.models.schedule import build_schedule  # noqa: E402
from thidua.models.workdays import load_calendar  # noqa: E402
from thidua.tasks.collect.ledger import import_ledger, ledger_figures  # noqa: E402
from thidua.tasks.core.directory import import_directory  # noqa: E402
from thidua.tasks.launch.campaign import enrol, mark_launched, persist_campaign, store_deadlines  # noqa: E402

OUT = ROOT / "bench" / "out"
DEMO = "national-2026"
DEFINITION = ROOT / "examples" / "national-2026.yaml"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
BATCH = 10_000
FLOOR_COLUMNS = (
    "case_id text, unit_code text, officer_code text, received_date date, conditions_date date, "
    "status text, status_date date, amount_owed bigint, amount_collected bigint"
)
FLOOR_GROUP_BY = (
    "SELECT unit_code, count(*), sum(CASE WHEN status IN ('xong', 'đình chỉ') THEN 1 ELSE 0 END), "
    "sum(amount_owed) FROM floor_ledger GROUP BY unit_code"
)


@dataclass
class Timing:
    backend: str
    load: float
    figures: float
    floor_load: float
    floor_group: float
    units: int
    totals: dict[str, int]

    @property
    def project(self) -> float:
        return self.load + self.figures

    @property
    def floor(self) -> float:
        return self.floor_load + self.floor_group

    def lines(self) -> list[str]:
        return [
            f"{self.backend}:",
            f"  project  import_ledger {self.load:6.2f} s + ledger_figures ({self.units} units) "
            f"{self.figures:5.2f} s = {self.project:6.2f} s",
            f"  floor    bulk load     {self.floor_load:6.2f} s + one GROUP BY            "
            f"{self.floor_group:5.2f} s = {self.floor:6.2f} s",
            f"  ratio    {self.project / self.floor:.2f}× (goal ≤ 2×)",
            f"  totals   {self.totals}",
        ]


def csv_rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        yield from reader


def batches(rows: Iterator[Any], size: int = BATCH) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def clock(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def prepare(engine: Engine, work: Path) -> None:
    """A migrated database with the national directory and the campaign launched (the untimed part)."""
    upgrade(engine)
    now = datetime(2026, 2, 25, 9, tzinfo=VN)
    import_directory(engine, write_demo(DEMO, work / "directory"), now=now)
    defn = load_definition(DEFINITION)
    campaign_id = persist_campaign(engine, defn, now=now).campaign_id
    enrol(engine, campaign_id, defn)
    store_deadlines(engine, campaign_id, build_schedule(defn, load_calendar()))
    mark_launched(engine, campaign_id, now=now, as_of=now.date(), plan_document=None)


def project_run(engine: Engine, ledger: Path, code: str, as_of: date) -> tuple[float, float, dict[str, Any]]:
    now = datetime(2026, 6, 1, 8, tzinfo=VN)
    load, result = clock(lambda: import_ledger(engine, code, ledger, as_of=as_of, now=now))
    assert result.created and result.rows > 0, result
    figures_time, figures = clock(lambda: ledger_figures(engine, code, at=as_of, by="unit"))
    return load, figures_time, figures


def totals(figures: dict[str, dict[str, int]], level_units: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for unit, values in figures.items():
        if unit in level_units:
            for key, value in values.items():
                out[key] = out.get(key, 0) + value
    return out


def bench_sqlite(ledger: Path, code: str, as_of: date) -> Timing:
    work = OUT / f"sqlite-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        engine = make_engine(f"sqlite:///{work / 'thidua.db'}")
        prepare(engine, work)
        load, figures_time, figures = project_run(engine, ledger, code, as_of)
        engine.dispose()

        floor_db = sqlite3.connect(work / "floor.db")
        floor_db.execute("PRAGMA journal_mode=WAL")
        floor_db.execute(f"CREATE TABLE floor_ledger ({FLOOR_COLUMNS})")
        floor_db.commit()

        def floor_load() -> None:
            for batch in batches(csv_rows(ledger)):
                floor_db.executemany("INSERT INTO floor_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            floor_db.commit()

        floor_load_time, _ = clock(floor_load)
        floor_group_time, _ = clock(lambda: floor_db.execute(FLOOR_GROUP_BY).fetchall())
        floor_db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    provinces = {u for u in figures if "-" not in u}
    return Timing("SQLite", load, figures_time, floor_load_time, floor_group_time, len(figures),
                  totals(figures, provinces))  # fmt: skip


def bench_postgres(ledger: Path, code: str, as_of: date, admin_url: str) -> Timing:
    import psycopg

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"thidua_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name)
    work = OUT / f"pg-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
        prepare(engine, work)
        load, figures_time, figures = project_run(engine, ledger, code, as_of)
        engine.dispose()

        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as floor_db:
            floor_db.execute(f"CREATE TABLE floor_ledger ({FLOOR_COLUMNS})")
            floor_db.execute("SET datestyle = 'ISO, DMY'")  # the CSV's dates are dd/mm/yyyy
            floor_db.commit()

            def floor_load() -> None:
                with floor_db.cursor() as cursor, cursor.copy("COPY floor_ledger FROM STDIN") as copy:
                    for row in csv_rows(ledger):
                        copy.write_row([value if value != "" else None for value in row])
                floor_db.commit()

            floor_load_time, _ = clock(floor_load)
            floor_group_time, _ = clock(lambda: floor_db.execute(FLOOR_GROUP_BY).fetchall())
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)
    provinces = {u for u in figures if "-" not in u}
    return Timing("PostgreSQL", load, figures_time, floor_load_time, floor_group_time, len(figures),
                  totals(figures, provinces))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="cases in the generated ledger")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL admin URL (a throwaway database is created)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    ledger = OUT / f"ledger-{DEMO}-{args.rows}.csv"
    generator = ROOT / "tasks" / "ledger_demo.py"
    if not ledger.exists() or ledger.stat().st_mtime < generator.stat().st_mtime:
        partial = ledger.with_suffix(".part")
        seconds, _ = clock(lambda: write_demo_ledger(DEMO, partial, rows=args.rows))
        partial.replace(ledger)
        print(f"generated {ledger.relative_to(ROOT)} in {seconds:.1f} s")
    size_mb = ledger.stat().st_size / 1e6
    print(f"ledger: {args.rows:,} cases, {size_mb:.0f} MB ({ledger.relative_to(ROOT)})")
    ledger.read_bytes()  # warm the page cache, so neither side pays for the first read of the file

    code = load_definition(DEFINITION).code
    as_of = demo_as_of(DEMO)
    results: list[Timing] = []
    if not args.no_sqlite:
        results.append(bench_sqlite(ledger, code, as_of))
        print("\n".join(results[-1].lines()), flush=True)
    if args.pg:
        results.append(bench_postgres(ledger, code, as_of, args.pg))
        print("\n".join(results[-1].lines()), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (ru_maxrss of this process): {peak_mb:.0f} MB (goal < 1024 MB)")
    if len(results) == 2 and results[0].totals != results[1].totals:
        print("WARNING: SQLite and PostgreSQL computed different totals")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
