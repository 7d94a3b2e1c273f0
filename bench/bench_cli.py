"""Time read-only `thidua` commands on the Tuyên Quang demo database against a floor measured in the same run.

    python bench/bench_cli.py [--data-dir DIR] [--runs 9]

Builds the demo database once (`thidua demo` in DIR, default bench/out/cli-demo) if it is missing, then runs
each command as a subprocess `--runs` times and prints its median, the floor's median and the ratio (goal ≤
2×). The floor is a script that imports typer and SQLAlchemy, opens the same database and runs one SELECT:
what any command line over this database pays before doing anything of its own.
"""

from __future__ import annotations

import argparse
import os
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


def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "out" / "cli-demo")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    data_dir: Path = args.data_dir.resolve()
    env = {**os.environ, "THIDUA_DATA_DIR": str(data_dir)}
    env.pop("THIDUA_DATABASE_URL", None)
    database = data_dir / "thidua.db"
    if not database.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        print(f"Building the Tuyên Quang demo in {data_dir} (once) …", flush=True)
        subprocess.run([*_thidua(), "demo"], env=env, check=True, capture_output=True)
    url = f"sqlite:///{database}"

    floor = _median([sys.executable, "-c", FLOOR, url], env, args.runs)
    print(f"{'floor (typer + SQLAlchemy + one SELECT)':<42} {floor * 1000:7.0f} ms")
    commands = [
        ["campaign", "list"],
        ["campaign", "show", CAMPAIGN],
        ["campaign", "status", CAMPAIGN],
        ["outbox", "list"],
    ]
    worst = 0.0
    for command in commands:
        took = _median([*_thidua(), *command], env, args.runs)
        ratio = took / floor
        worst = max(worst, ratio)
        print(f"{'thidua ' + ' '.join(command):<42} {took * 1000:7.0f} ms  {ratio:5.2f}×")
    print(f"worst ratio: {worst:.2f}× (goal ≤ 2×)")


if __name__ == "__main__":
    main()
