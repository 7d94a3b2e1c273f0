"""Data builders shared by the tests: demo directories loaded into a database, example definitions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from thidua.deploy.demo.directory import write_demo
from thidua.tasks.core.directory import import_directory

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TQ_DEFINITION = EXAMPLES / "tuyen-quang-2024.yaml"
NATIONAL_DEFINITION = EXAMPLES / "national-2026.yaml"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
T = TypeVar("T")


def at(day: str, hour: int = 8, minute: int = 0) -> datetime:
    """'05/01/2024' → that day at hour:minute in Vietnam."""
    d, m, y = (int(p) for p in day.split("/"))
    return datetime(y, m, d, hour, minute, tzinfo=VN)


def load_demo_directory(engine: Engine, name: str, tmp: Path, now: datetime | None = None) -> list[Path]:
    files = write_demo(name, tmp / f"directory-{name}")
    import_directory(engine, files, now=now or at("02/01/2024"))
    return files


def edited_definition(tmp: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {source.name}"
    target = tmp / f"edited-{source.name}"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def launch_campaign_rows(
    engine: Engine, definition: Path = TQ_DEFINITION, now: datetime | None = None
) -> int:
    """The launch flow's database steps without Prefect or email: campaign, enrolment, calendar, launched.

    For tests of later stages that need a launched campaign quickly; the launch flow itself is tested in
    tests/flows/test_launch.py.
    """
    from thidua.models.definition import load_definition
    from thidua.models.schedule import build_schedule
    from thidua.models.workdays import load_calendar
    from thidua.tasks.launch.campaign import enrol, mark_launched, persist_campaign, store_deadlines

    moment = now or at("05/01/2024", 9)
    defn = load_definition(definition)
    persisted = persist_campaign(engine, defn, now=moment)
    enrol(engine, persisted.campaign_id, defn)
    store_deadlines(engine, persisted.campaign_id, build_schedule(defn, load_calendar()))
    mark_launched(engine, persisted.campaign_id, now=moment, as_of=moment.date(), plan_document=None)
    return persisted.campaign_id


def task_runs(flow_run_id: UUID) -> int:
    """How many task runs a flow run had, read back from the Prefect server (the harness's in tests).

    The server records task runs from events that the client sends in the background and the server consumes
    in the background, so the flow's return does not mean they are all stored: send what is queued, then read
    until two reads agree."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=30)
    seen = -1
    with get_client(sync_client=True) as client:
        for _ in range(100):
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
            if len(runs) == seen and all(run.state is not None and run.state.is_final() for run in runs):
                break
            seen = len(runs)
            time.sleep(0.3)
    return len(runs)


def at_once(call: Callable[[int], T], n: int) -> list[T]:
    """Run call(0) … call(n-1) in n threads released together (a barrier); their results in that order.

    Any exception in a thread fails the caller with the first one, after every thread has finished."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return cast(list[T], results)
