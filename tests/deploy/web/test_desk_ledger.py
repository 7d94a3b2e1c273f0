"""The desk's reconciliation with a real imported case ledger, on SQLite and PostgreSQL: a unit whose reported
figures differ from its ledger is listed on the dashboard page and in the status API with the same figures as
`thidua ledger reconcile` gives on the same database; units whose figures agree are not listed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.deploy.web.portal_helpers import Clock, client_for, sign_in
from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.collect.test_ledger import CODE, ROWS, submit_final, write_csv
from thidua.deploy.cli import app as cli_app
from thidua.models.settings import Settings
from thidua.tasks.collect.ledger import import_ledger, reconcile

ADMIN = "minh.ban@thads-tuyenquang.example.vn"


def cli_reconcile(tmp_path: Path, db_url: str) -> list[list[str]]:
    """The rows `thidua ledger reconcile` prints (unit, field, reported, ledger, difference)."""
    result = CliRunner().invoke(
        cli_app,
        ["ledger", "reconcile", CODE, "--period", "final"],
        env={
            "THIDUA_DATA_DIR": str(tmp_path / "data"),
            "THIDUA_DATABASE_URL": db_url,
            "THIDUA_SMTP_HOST": "",
        },
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = lines.index("Đơn vị\tChỉ số\tBáo cáo\tTheo sổ\tChênh lệch")
    return [line.split("\t") for line in lines[header + 1 :] if line.strip()]


def test_the_dashboard_lists_the_ledger_differences_the_cli_gives(
    engine: Engine, tmp_path: Path, db_url: str
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_campaign_rows(engine)
    import_ledger(
        engine, CODE, write_csv(tmp_path / "so.csv", ROWS), as_of=date(2024, 6, 30), now=at("01/07/2024", 9)
    )
    submit_final(
        engine, campaign_id, "TQ-YS", {"carried_over": 3, "arising": 1, "finished": 2}
    )  # as the ledger
    submit_final(engine, campaign_id, "TQ-SD", {"carried_over": 2, "arising": 4, "finished": 5})  # inflated

    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="", admin_emails=ADMIN)
    client = client_for(settings, engine, Clock(at("05/07/2024", 9)))
    sign_in(client, settings, ADMIN)

    board = client.get(f"/api/v1/admin/campaigns/{CODE}/status", params={"period": "final"})
    assert board.status_code == 200, board.text
    listed = {(r["unit"], r["field"]): r for r in board.json()["reconciliation"]}
    assert set(listed) == {
        ("TQ-SD", "arising"),
        ("TQ-SD", "finished"),
    }  # TQ-YS agrees; the rest did not report
    assert (listed[("TQ-SD", "finished")]["reported"], listed[("TQ-SD", "finished")]["computed"]) == (5, 2)
    assert listed[("TQ-SD", "finished")]["difference"] == 3
    assert (listed[("TQ-SD", "arising")]["reported"], listed[("TQ-SD", "arising")]["difference"]) == (4, 2)

    # The same figures as the CLI's reconciliation on the same database, and as its function.
    cli_rows = [row for row in cli_reconcile(tmp_path, db_url) if row[4] != "chưa báo cáo"]
    assert {(u, f): (int(rep), int(led), int(d)) for u, f, rep, led, d in cli_rows} == {
        k: (r["reported"], r["computed"], r["difference"]) for k, r in listed.items()
    }
    assert {
        (r.unit_code, r.field): (r.reported, r.computed, r.difference)
        for r in reconcile(engine, CODE, "final")
        if r.reported is not None and not r.matches
    } == {k: (r["reported"], r["computed"], r["difference"]) for k, r in listed.items()}

    page = client.get(f"/quan-tri/phong-trao/{CODE}/tinh-hinh", params={"ky": "final"})
    assert page.status_code == 200, page.text
    section = page.text.split("Đối chiếu với sổ thụ lý", 1)[1].split("</section>", 1)[0]
    assert "TQ-SD" in section and "TQ-YS" not in section and "TQ-HY" not in section
    assert '<td data-label="Báo cáo">5</td>' in section and '<td data-label="Theo sổ">2</td>' in section
    assert "+3" in section and "+2" in section
    assert "Chưa nhập sổ thụ lý" not in section
    # The field by the definition's label, not its internal key.
    assert "Số việc có điều kiện trên một năm đã thi hành xong" in section
    assert ">finished<" not in section and ">arising<" not in section
