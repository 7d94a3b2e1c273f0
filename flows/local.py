"""The `flow` decorator of thidua's flows: Prefect's, minus heartbeats when a process calls the flow itself.

A sync Prefect flow run keeps a heartbeat thread that sleeps in one-second steps, and the run waits for it to
wake before it returns: about one second of every flow run (1.15 s → 0.11 s for an empty flow, measured
under `prefect_test_harness`), which is most of the cost of a reminder sweep. Heartbeats exist so that the
server can tell a crashed run from a long one; they matter to runs a worker started, which Prefect executes
through its engine, not through `Flow.__call__`. A flow called as a function — by the CLI, the embedded
scheduler, the demo, the tests, or as a subflow of a deployment's flow (whose own run keeps its heartbeats) —
runs without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

P = ParamSpec("P")
R = TypeVar("R")


class LocalFlow(Flow[P, R]):
    """A Prefect flow whose direct calls run without the heartbeat thread."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return super().__call__(*args, **kwargs)


def flow(*, name: str, **options: Any) -> Callable[[Callable[P, R]], LocalFlow[P, R]]:
    """`@flow(name=...)` as in Prefect, making a `LocalFlow`."""

    def make(fn: Callable[P, R]) -> LocalFlow[P, R]:
        return LocalFlow(fn, name=name, **options)

    return make
