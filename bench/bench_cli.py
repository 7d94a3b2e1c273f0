"""Time read-only `thidua` commands on the Tuyên Quang demo database against a floor measured in the same run.

    python bench/bench_cli.py [--data-dir DIR] [--runs 15]

Builds the demo database once (`thidua demo` in DIR, default bench/out/cli-demo) if it is missing, then runs
each command as a subprocess `--runs` times (after one warm-up run each), every run paired with a run of the
floor right before or after it, and prints each command's minimum and median, its minimum against the floor's
minimum, and the median of its per-pair ratios (goal ≤ 2×), the figure a drifting load disturbs least. The
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
from dataclasses import dataclass, field
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


@dataclass
class Timings:
    """One command's runs, each beside a run of the floor taken right before or after it."""

    times: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)

    @property
    def paired_ratio(self) -> float:
        """The median of the per-pair ratios: each run against the floor run next to it (the same load)."""
        return statistics.median(t / f for t, f in zip(self.times, self.floors, strict=True))


def measure(
    commands: dict[str, list[str]], floor: list[str], env: dict[str, str], runs: int
) -> dict[str, Timings]:
    """Each command `runs` times, each run paired with a run of the floor (in random order within the pair);
    one pair per command per round, the commands in a shuffled order.

    On a shared machine the load drifts from second to second: a ratio taken within a pair compares two runs
    made under the same load, and the median of those ratios ignores the pairs a burst of load disturbed."""
    timings = {name: Timings() for name in commands}
    for argv in [floor, *commands.values()]:  # a warm-up run each: file caches, .pyc files
        _time(argv, env)
    order = list(commands)
    for _ in range(runs):
        random.shuffle(order)
        for name in order:
            if random.random() < 0.5:
                floor_took, took = _time(floor, env), _time(commands[name], env)
            else:
                took, floor_took = _time(commands[name], env), _time(floor, env)
            timings[name].times.append(took)
            timings[name].floors.append(floor_took)
    return timings


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

    commands = {
        "thidua " + " ".join(command): [*_thidua(), *command]
        for command in (
            ["campaign", "list"],
            ["campaign", "show", CAMPAIGN],
            ["campaign", "status", CAMPAIGN],
            ["outbox", "list"],
        )
    }
    timings = measure(commands, [sys.executable, "-c", FLOOR, url], env, args.runs)

    floors = [f for t in timings.values() for f in t.floors]
    floor_min = min(floors)
    print(f"{args.runs} runs of each command, each paired with a run of the floor")
    print(f"{'':<40} {'min':>8} {'median':>8}  {'min/min':>7}  {'paired ratio':>12}")
    print(
        f"{'floor (typer + SQLAlchemy + one SELECT)':<40} {floor_min * 1000:5.0f} ms "
        f"{statistics.median(floors) * 1000:5.0f} ms"
    )
    worst = 0.0
    for name, t in timings.items():
        low, mid = min(t.times), statistics.median(t.times)
        worst = max(worst, t.paired_ratio)
        print(
            f"{name:<40} {low * 1000:5.0f} ms {mid * 1000:5.0f} ms  {low / floor_min:6.2f}×  "
            f"{t.paired_ratio:11.2f}×"
        )
    print(f"worst paired ratio: {worst:.2f}× (goal ≤ 2×)")
    return worst


if __name__ == "__main__":
    main()
