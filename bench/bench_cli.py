"""Time read-only `thidua` commands on the Tuyên Quang demo database against a floor measured in the same run.

    python bench/bench_cli.py [--data-dir DIR] [--runs 15]

Builds the demo database once (`thidua demo` in DIR, default bench/out/cli-demo) if it is missing, then runs
the floor and each command as subprocesses, `--runs` rounds (each round runs every one of them once, in a
shuffled order, after one warm-up run each), and prints each one's minimum and median and their ratios to the
floor's (goal ≤ 2×). The minimum is the least disturbed run, the steadiest figure on a shared machine. The
floor is a script that imports typer and SQLAlchemy, opens the same database and runs one SELECT: what any
command line over this database pays before doing anything of its own.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CAMPAIGN = "TQ-2024-GIAM-AN"

FLOOR = """
import sys
import typer
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect() as conn:
    rows = conn.execute(text("SELECT code, status, title FROM campaign ORDER BY code")).all()
print(len(rows))
"""


def _thidua() -> list[str]:
    exe = shutil.which("thidua", path=str(Path(sys.executable).parent))
    if exe is None:
        raise SystemExit("thidua is not installed in this environment (pip install -e .)")
    return [exe]


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return took


def measure(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Each command `runs` times, in rounds: one run of every command per round, in a shuffled order.

    On a shared machine the load drifts during a run; taking every command once per round spreads that
    drift over all of them (the floor included) instead of charging it to whichever ran in a busy minute."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # a warm-up run each: file caches, .pyc files
        _time(argv, env)
    order = list(commands)
    for _ in range(runs):
        random.shuffle(order)
        for name in order:
            times[name].append(_time(commands[name], env))
    return times


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "out" / "cli-demo")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    env = {**os.environ, "THIDUA_DATA_DIR": str(data_dir)}
    env.pop("THIDUA_DATABASE_URL", None)
    # Timed as installed: with its bytecode cached (the warm-up run writes it), as the floor's libraries are.
    # Without it every run would compile thidua's modules from source, a cost no installation pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    database = data_dir / "thidua.db"
    if not database.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"Building the Tuyên Quang demo in {data_dir} (once) …", flush=True)
        subprocess.run([*_thidua(), "demo"], env=env, check=True, capture_output=True)
    url = f"sqlite:///{database}"

    floor_name = "floor (typer + SQLAlchemy + one SELECT)"
    commands = {floor_name: [sys.executable, "-c", FLOOR, url]}
    for command in (
        ["campaign", "list"],
        ["campaign", "show", CAMPAIGN],
        ["campaign", "status", CAMPAIGN],
        ["outbox", "list"],
    ):
        commands["thidua " + " ".join(command)] = [*_thidua(), *command]
    times = measure(commands, env, args.runs)

    floor_min, floor_median = min(times[floor_name]), statistics.median(times[floor_name])
    print(f"{args.runs} runs each, interleaved; ratios against the floor's minimum and median")
    print(f"{'':<42} {'min':>7} {'median':>7}  {'ratio min':>9} {'ratio median':>12}")
    worst = 0.0
    for name, values in times.items():
        low, mid = min(values), statistics.median(values)
        worst = max(worst, low / floor_min)
        print(
            f"{name:<42} {low * 1000:5.0f} ms {mid * 1000:5.0f} ms  "
            f"{low / floor_min:8.2f}× {mid / floor_median:11.2f}×"
        )
    print(f"worst ratio (minimum against minimum): {worst:.2f}× (goal ≤ 2×)")
    return worst


if __name__ == "__main__":
    main()
