"""Flows called by our own processes run without Prefect's heartbeat thread; runs a worker starts keep it."""

from __future__ import annotations

import pytest
from prefect.flow_engine import run_flow
from prefect.settings import get_current_settings

from thidua.flows.local import LocalFlow, flow

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow(name="heartbeat-probe")
def probe(label: str) -> tuple[str, int | None]:
    return label, get_current_settings().flows.heartbeat_frequency


def test_a_direct_call_runs_without_heartbeats_and_returns_the_flow_result() -> None:
    assert isinstance(probe, LocalFlow)
    assert probe("trực tiếp") == ("trực tiếp", None)
    # The override ends with the call: the caller's settings are untouched.
    assert get_current_settings().flows.heartbeat_frequency is not None


def test_a_run_through_the_engine_as_a_worker_starts_it_keeps_heartbeats() -> None:
    label, frequency = run_flow(probe, parameters={"label": "worker"})
    assert label == "worker"
    assert frequency == get_current_settings().flows.heartbeat_frequency
    assert frequency is not None


def test_the_flows_of_the_lifecycle_are_local_flows() -> None:
    from thidua.flows.award import award_flow
    from thidua.flows.close import close_flow
    from thidua.flows.collect import collect_flow
    from thidua.flows.launch import launch_flow
    from thidua.flows.remind import remind_flow
    from thidua.flows.review import review_flow

    lifecycle = [launch_flow, collect_flow, remind_flow, close_flow, review_flow, award_flow]
    assert all(isinstance(f, LocalFlow) for f in lifecycle)
    assert [f.name for f in lifecycle] == ["launch", "collect", "remind", "close", "review", "award"]
