"""Write the demo directories (deploy/demo/names.py) as the CSV files `thidua directory import` reads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from thidua.deploy.demo.names import DEMO_NAMES, DemoDirectory, build_demo

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
    for path, header, rows in files:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        # A BOM so Excel shows the Vietnamese correctly when a clerk opens the file.
        path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return [path for path, _, _ in files]
