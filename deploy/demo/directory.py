"""Write the demo directories (deploy/demo/names.py) as the CSV files `thidua directory import` reads."""

from __future__ import annotations

from pathlib import Path

from thidua.deploy.demo.names import DEMO_NAMES, DemoDirectory, build_demo
from thidua.notifications.documents.sheets import write_csv

__all__ = ["DEMO_NAMES", "write_demo"]


def write_demo(name: str, out_dir: Path) -> list[Path]:
    """Write units.csv, people.csv, discipline.csv of a demo directory; same bytes on every run."""
    demo: DemoDirectory = build_demo(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [
        (out_dir / "units.csv", demo.unit_header, demo.units),
        (out_dir / "people.csv", demo.person_header, demo.people),
        (out_dir / "discipline.csv", demo.discipline_header, demo.discipline),
    ]
    return [write_csv(path, [header, *rows]) for path, header, rows in files]
