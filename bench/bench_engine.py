"""Benchmark: the warm local engine — a flow command's wall time, and orchestration's share of the lifecycle.

    python bench/bench_engine.py [--warm 3] [--no-national] [--ledger-rows N]

1. **Tuyên Quang, from the command line** (real `thidua` processes, a fresh data dir, no PREFECT_API_URL): the
   demo directory is imported and the campaign launched with `thidua campaign launch` (the first flow command
   of a fresh machine: it starts the local Prefect server and migrates its database); then
   - cold: `thidua engine stop`, then `thidua remind` (starts a server on the migrated database);
   - warm: `thidua remind` --warm times, each on the next working morning, reusing that server.
   Prints each wall time and the warm median.
2. **The national demo in this process** (`run_national_demo`, the 1,000,000-case ledger unless
   --ledger-rows), against the warm server started beforehand (its start is not part of the lifecycle).
   Prefect's `Flow.__call__` and `Task.__call__` are timed, and so are the flow and task functions they run:
   orchestration = (flow call − flow function) + (task call − task function), i.e. creating the runs,
   proposing their states, the engine's set-up and tear-down; everything inside the functions is the work
   (including the flow body's own code between tasks). Prefect's background threads (logs, events) run on
   the same cores and slow the work a little: that cost lands in "work", so the share is a lower bound of
   Prefect's total cost, not an upper one. Prints the lifecycle's wall time (the demo's stages), flow and
   task runs, the orchestration seconds and share (goal ≤ 10 %), and the reminder runs' part.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THIDUA = Path(sys.executable).with_name("thidua")
TQ_CODE = "TQ-2024-GIAM-AN"
WARM_DAYS = ["01/02/2024", "02/02/2024", "05/02/2024", "06/02/2024", "07/02/2024", "08/02/2024"]
GOAL = 0.10


def _env(data: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    return clean | {"THIDUA_DATA_DIR": str(data), "PYTHONIOENCODING": "utf-8"}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(THIDUA), *args], env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"thidua {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took


def tuyen_quang(warm: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = _env(work / "var")
        try:
            _run(["directory", "demo", "tuyen-quang-2024", "--out", str(work / "dir")], env, work)
            files = sorted(str(p) for p in (work / "dir").iterdir())
            _run(["directory", "import", *files], env, work)
            first = _run(
                [
                    "campaign",
                    "launch",
                    str(ROOT / "examples" / "tuyen-quang-2024.yaml"),
                    "--as-of",
                    "05/01/2024",
                ],
                env,
                work,
            )
            _run(["engine", "stop"], env, work)
            cold = _run(["remind", TQ_CODE, "--as-of", "31/01/2024 08:05"], env, work)
            warms = [
                _run(["remind", TQ_CODE, "--as-of", f"{day} 08:05"], env, work) for day in WARM_DAYS[:warm]
            ]
        finally:
            subprocess.run([str(THIDUA), "engine", "stop"], env=env, cwd=work, capture_output=True)
    return {"first": first, "cold": cold, "warm": warms}


# ---------------------------------------------------------------- orchestration meter


@dataclass
class Meter:
    flow_call: float = 0.0
    flow_fn: float = 0.0
    task_call: float = 0.0
    task_fn: float = 0.0
    flow_runs: int = 0
    task_runs: int = 0
    by_flow: dict[str, list[float]] = field(default_factory=dict)  # name -> [runs, call s, fn s]

    @property
    def orchestration(self) -> float:
        return (self.flow_call - self.flow_fn) + (self.task_call - self.task_fn)


def instrument(meter: Meter) -> None:
    """Time every flow and task call and the function each runs (see the module docstring).

    The functions are timed where Prefect's engines call them (`call_with_parameters` as each engine module
    names it), so the flow and task objects and their signatures stay as they are."""
    import prefect.flow_engine
    import prefect.task_engine
    from prefect.flows import Flow
    from prefect.tasks import Task

    def timed_calls(module: Any, kind: str) -> None:
        call = module.call_with_parameters

        def run(fn: Callable[..., Any], parameters: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return call(fn, parameters)
            finally:
                took = time.perf_counter() - started
                if kind == "flow":
                    meter.flow_fn += took
                    meter.by_flow.setdefault(getattr(fn, "__name__", "?"), [0, 0.0, 0.0])[2] += took
                else:
                    meter.task_fn += took

        module.call_with_parameters = run

    timed_calls(prefect.flow_engine, "flow")
    timed_calls(prefect.task_engine, "task")
    flow_call, task_call = Flow.__call__, Task.__call__

    def flow(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return flow_call(self, *args, **kwargs)
        finally:
            took = time.perf_counter() - started
            meter.flow_call += took
            meter.flow_runs += 1
            entry = meter.by_flow.setdefault(self.fn.__name__, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += took

    def task(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return task_call(self, *args, **kwargs)
        finally:
            meter.task_call += time.perf_counter() - started
            meter.task_runs += 1

    Flow.__call__ = flow  # type: ignore[method-assign]
    Task.__call__ = task  # type: ignore[method-assign]


def national(ledger_rows: int | None, heartbeats: bool, range_sweeps: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        data = Path(tmp) / "var"
        for key in [k for k in os.environ if k.startswith(("PREFECT_", "THIDUA_"))]:
            del os.environ[key]
        os.environ["THIDUA_DATA_DIR"] = str(data)
        from thidua.deploy.demo.national import NATIONAL_LAUNCH, run_national_demo
        from thidua.deploy.prefect_env import configure_prefect, release_local_engine
        from thidua.deploy.timeparse import parse_as_of
        from thidua.models.settings import Settings

        settings = Settings()
        started = time.perf_counter()
        server = configure_prefect(settings)
        server_start = time.perf_counter() - started
        if heartbeats:  # as before flows/local.py: every direct flow call waits for its heartbeat thread
            from prefect import Flow

            from thidua.flows.local import LocalFlow

            LocalFlow.__call__ = Flow.__call__  # type: ignore[method-assign]
        meter = Meter()
        instrument(meter)
        lines: list[str] = []
        try:
            log = run_national_demo(
                settings,
                as_of=parse_as_of(NATIONAL_LAUNCH, settings.tz),
                ledger_rows=ledger_rows,
                echo=lines.append,
                range_sweeps=range_sweeps,
            )
        finally:
            release_local_engine()
            subprocess.run([str(THIDUA), "engine", "stop"], env=_env(data), cwd=tmp, capture_output=True)
    return {"server": server, "server_start": server_start, "meter": meter, "log": log}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warm", type=int, default=3, help="warm `thidua remind` runs (at most 6)")
    parser.add_argument("--no-tq", action="store_true", help="skip the command-line part")
    parser.add_argument("--no-national", action="store_true", help="skip the national demo")
    parser.add_argument(
        "--ledger-rows", type=int, default=None, help="national ledger size (default: 1,000,000)"
    )
    parser.add_argument(
        "--prefect-heartbeats",
        action="store_true",
        help="flow-run heartbeats on direct flow calls, as before flows/local.py turned them off",
    )
    parser.add_argument(
        "--daily-sweeps",
        action="store_true",
        help="one remind flow run per morning with emails, as before `remind --until` (the 'before')",
    )
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.no_tq:
        tq = tuyen_quang(max(1, min(args.warm, len(WARM_DAYS))))
        print("Tuyên Quang, `thidua` processes, no PREFECT_API_URL:")
        print(f"  first flow command (campaign launch, fresh Prefect home) {tq['first']:7.1f} s")
        print(f"  cold `thidua remind` (no server running)                 {tq['cold']:7.1f} s")
        warm = ", ".join(f"{w:.1f}" for w in tq["warm"])
        median = statistics.median(tq["warm"])
        print(f"  warm `thidua remind` (server reused), median            {median:7.1f} s  ({warm})")
    if not args.no_national:
        result = national(args.ledger_rows, args.prefect_heartbeats, not args.daily_sweeps)
        meter: Meter = result["meter"]
        log = result["log"]
        total = sum(log.seconds.values())
        share = meter.orchestration / total
        beats = "Prefect's flow-run heartbeats on" if args.prefect_heartbeats else "heartbeats off"
        beats += ", one remind flow run per morning" if args.daily_sweeps else ", range sweeps"
        print(f"national demo in-process ({log.ledger_rows} ledger rows, {beats}), {result['server']}")
        print(f"  server start before the lifecycle (not counted)          {result['server_start']:7.1f} s")
        print(f"  lifecycle wall time (the demo's stages)                  {total:7.1f} s")
        for key, seconds in log.seconds.items():
            print(f"    {key:<12} {seconds:7.1f} s")
        print(f"  flow runs {meter.flow_runs}, task runs {meter.task_runs}")
        for name, (runs, call, fn) in sorted(meter.by_flow.items()):
            print(f"    {name:<8} {int(runs):3d} runs: call {call:6.1f} s, flow function {fn:6.1f} s")
        print(
            f"  orchestration {meter.orchestration:6.1f} s = flow calls {meter.flow_call:.1f} − flow "
            f"functions {meter.flow_fn:.1f} + task calls {meter.task_call:.1f} − task functions "
            f"{meter.task_fn:.1f}"
        )
        print(
            f"  reminder sweeps: {log.sweeps} mornings, {log.remind_runs} remind flow runs, "
            f"{log.detail.get('remind', 0.0):.1f} s"
        )
        verdict = "met" if share <= GOAL else "NOT met"
        print(f"  orchestration share {share:.1%} of the lifecycle   goal ≤ {GOAL:.0%} → {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
