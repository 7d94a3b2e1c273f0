"""Benchmark: the reminder sweep's decision over the national enrolment, against reading the same rows raw.

    python bench/bench_remind.py [--repeat 5]

A fresh SQLite database gets the national demo directory (≈530 units, ≈10,000 people) and the national
2026 campaign (launched without Prefect or email). Then, on a day when every reporting unit is overdue for
one period: (a) the project, `plan_reminders` (its queries plus the pure decision), against (b) the floor,
the same tables read with plain SELECTs (enrolled units and people, deadlines, current submissions,
exemptions, the outbox's keys) and nothing decided. Prints the best of --repeat runs, the ratio, and the
goal: the decision under 1 second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from thidua.deploy.demo.directory import write_demo  # noqa: E402
from thidua.models.db import make_engine, upgrade  # noqa: E402
from thidua.models.definition import load_definition  # noqa: E402
from thidua.models.schedule import build_schedule  # noqa: E402
from thidua.models.workdays import load_calendar  # noqa: E402
from thidua.tasks.core.directory import import_directory  # noqa: E402
from thidua.tasks.launch.campaign import enrol, mark_launched, persist_campaign, store_deadlines  # noqa: E402
from thidua.tasks.remind.reminders import plan_reminders  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LAUNCH = datetime(2026, 2, 26, 9, 0, tzinfo=VN)
SWEEP = datetime(2026, 4, 16, 8, 0, tzinfo=VN)  # March reports overdue, April's not yet due

FLOOR_SQL = [
    "SELECT unit_code, parent_code, email, reports FROM enrolled_unit WHERE campaign_id = :c",
    "SELECT person_code, unit_code, email, is_head FROM enrolled_person WHERE campaign_id = :c",
    "SELECT key, kind, due_date FROM deadline WHERE campaign_id = :c",
    "SELECT unit_code, period_key FROM submission WHERE campaign_id = :c AND is_current",
    "SELECT unit_code, deadline_key FROM exemption WHERE campaign_id = :c",
    "SELECT dedupe_key, status FROM outbox_message WHERE campaign_id = :c",
]


def setup(tmp: Path) -> tuple[Engine, str, int]:
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(engine)
    import_directory(engine, write_demo("national-2026", tmp / "directory"), now=LAUNCH)
    defn = load_definition(ROOT / "examples" / "national-2026.yaml")
    persisted = persist_campaign(engine, defn, now=LAUNCH)
    enrol(engine, persisted.campaign_id, defn)
    store_deadlines(engine, persisted.campaign_id, build_schedule(defn, load_calendar()))
    mark_launched(engine, persisted.campaign_id, now=LAUNCH, as_of=LAUNCH.date(), plan_document=None)
    return engine, defn.code, persisted.campaign_id


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, code, campaign_id = setup(Path(tmp))
        with engine.connect() as conn:
            units = conn.execute(text("SELECT count(*) FROM enrolled_unit")).scalar_one()
            people = conn.execute(text("SELECT count(*) FROM enrolled_person")).scalar_one()

        plan = plan_reminders(engine, code, SWEEP)
        project = best(lambda: plan_reminders(engine, code, SWEEP), args.repeat)

        def floor() -> None:
            with engine.connect() as conn:
                for sql in FLOOR_SQL:
                    conn.execute(text(sql), {"c": campaign_id}).all()

        raw = best(floor, args.repeat)
        engine.dispose()
    print(f"enrolment: {units} units, {people} people")
    print(f"sweep {SWEEP:%d/%m/%Y %H:%M}: {len(plan.emails)} emails decided")
    print(f"project  plan_reminders        {project * 1000:8.1f} ms (best of {args.repeat})")
    print(f"floor    the same rows, raw    {raw * 1000:8.1f} ms")
    print(f"ratio    {project / raw:.2f}×   goal: decision under 1 s → {'met' if project < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
