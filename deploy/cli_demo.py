"""`thidua demo [--national]`: the main job, a whole campaign from launch to awards on demo data."""

from __future__ import annotations

from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, current_settings, parse_now

app = typer.Typer(cls=ThiduaGroup)


@app.command()
def demo(
    as_of: AsOf = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="Phong trào toàn quốc năm 2026 của Bộ Tư pháp (534 đơn vị, ~10.000 cán bộ, 1.000.000 việc).",
        ),
    ] = False,
) -> None:
    """Chạy thử trọn vòng đời: phong trào của Cục THADS tỉnh Tuyên Quang (2024), phát động đến khen thưởng."""
    settings = current_settings()
    if national:
        from thidua.deploy.demo.national import NATIONAL_LAUNCH, run_national_demo

        run_national_demo(settings, as_of=parse_now(settings, as_of or NATIONAL_LAUNCH))
        return
    from thidua.deploy.demo.tuyen_quang import run_demo

    run_demo(settings, as_of=parse_now(settings, as_of or "05/01/2024"))
