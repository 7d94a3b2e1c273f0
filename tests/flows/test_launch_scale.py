"""The launch flow at national size: task runs per flow run do not grow with the number of units."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import NATIONAL_DEFINITION, TQ_DEFINITION, at, load_demo_directory, task_runs
from thidua.flows.launch import launch_flow
from thidua.models.campaign import EnrolledUnit
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage
from thidua.models.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _launch(tmp_path: Path, name: str, definition: Path) -> tuple[int, int]:
    url = f"sqlite:///{tmp_path / name}.db"
    settings = Settings(data_dir=tmp_path / name, database_url=url)
    engine = make_engine(url)
    from thidua.models.db import ensure_schema

    ensure_schema(engine)
    load_demo_directory(engine, name, tmp_path, now=at("02/01/2026"))
    state = launch_flow(str(definition), at("26/02/2026", 9), settings, return_state=True)
    assert state.is_completed()
    with engine.connect() as conn:
        units = conn.execute(select(func.count()).select_from(EnrolledUnit)).scalar_one()
        emails = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    engine.dispose()
    assert emails == units  # every enrolled unit of the demo has an address
    return units, task_runs(state.state_details.flow_run_id)


def test_task_runs_per_launch_are_the_same_for_a_province_and_the_whole_country(tmp_path: Path) -> None:
    province_units, province_tasks = _launch(tmp_path, "tuyen-quang-2024", TQ_DEFINITION)
    national_units, national_tasks = _launch(tmp_path, "national-2026", NATIONAL_DEFINITION)
    assert national_units > 30 * province_units
    assert national_tasks == province_tasks
