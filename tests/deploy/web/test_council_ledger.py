"""The council's meeting papers with a real imported case ledger, on SQLite and PostgreSQL: a nominated unit
whose final report differs from the ledger shows the difference (reported beside the ledger's figure) on the
member's meeting page and in the meeting API, computed by the close's `final_ledger_checks` — not from what
the screening recorded; a unit whose report agrees reads “Khớp với sổ thụ lý”."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from tests.deploy.web.council_helpers import EMAILS, council_campaign, http_sign_in
from tests.deploy.web.portal_helpers import Clock, client_for
from tests.factories import at
from tests.tasks.builders_council import CODE
from tests.tasks.collect.test_ledger import ROWS, submit_final, write_csv
from thidua.models.review import EligibilityResult, FinalResult
from thidua.models.settings import Settings
from thidua.tasks.close.closing import final_ledger_checks
from thidua.tasks.collect.ledger import import_ledger

# The hand-computed ledger of tests/tasks/collect/test_ledger.py moved onto the two nominated units (no
# officer, so the individual nominees have nothing in it): at 30/06/2024 TQ-NH has carried 3, arising 1,
# finished 2; TQ-TP carried 2, arising 2, finished 2.
UNIT_OF = {"TQ-YS": "TQ-NH", "TQ-SD": "TQ-TP"}
LEDGER = [[case, UNIT_OF[unit], "", *rest] for case, unit, _officer, *rest in ROWS]
NH_REPORTED = {"carried_over": 3, "arising": 1, "finished": 5}  # finished inflated by 3
TP_REPORTED = {"carried_over": 2, "arising": 2, "finished": 2}  # as the ledger says
FINISHED = "Số việc có điều kiện trên một năm đã thi hành xong"


def test_the_papers_show_a_nominees_ledger_difference_from_the_real_check(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    ids, meeting_id = council_campaign(engine, tmp_path)
    assert meeting_id is not None
    import_ledger(
        engine, CODE, write_csv(tmp_path / "so.csv", LEDGER), as_of=date(2024, 6, 30), now=at("01/07/2024", 9)
    )
    with Session(engine) as s, s.begin():
        campaign_id = s.execute(select(col(FinalResult.campaign_id))).scalars().first()
        assert campaign_id is not None
        for unit, values in (("TQ-NH", NH_REPORTED), ("TQ-TP", TP_REPORTED)):
            s.execute(
                update(FinalResult)
                .where(col(FinalResult.subject_kind) == "unit", col(FinalResult.subject_code) == unit)
                .values(values_json=json.dumps(values))
            )
        # The screening recorded nothing about the ledger: whatever the papers say of it comes from the check.
        assert not any(
            "sổ thụ lý" in r for r in s.execute(select(col(EligibilityResult.reasons_json))).scalars()
        )
    for unit, values in (("TQ-NH", NH_REPORTED), ("TQ-TP", TP_REPORTED)):
        submit_final(engine, campaign_id, unit, values)

    checks = final_ledger_checks(engine, CODE)
    nh, tp = checks[("unit", "TQ-NH")], checks[("unit", "TQ-TP")]
    assert [(f.key, f.reported, f.ledger) for f in nh.differences] == [("finished", 5, 2)]
    assert not tp.differences
    expected = f"{FINISHED}: báo cáo 5, sổ thụ lý 2 (chênh lệch +3 việc)"
    assert [f.text() for f in nh.differences] == [expected]

    client = client_for(settings, engine, Clock(at("10/07/2024", 9)))
    http_sign_in(client, settings, EMAILS["TQ-02"])
    page = client.get(f"/hoi-dong/hop/{meeting_id}")
    assert page.status_code == 200, page.text
    card = page.text.split(f'id="de-nghi-{ids["TQ-NH"]}"')[1].split("</details>")[0]
    assert "Cần xác minh số liệu" in card and f"<li>{expected}</li>" in card
    assert "Không có sổ thụ lý để đối chiếu" not in card
    agreeing = page.text.split(f'id="de-nghi-{ids["TQ-TP"]}"')[1].split("</details>")[0]
    assert "Khớp với sổ thụ lý." in agreeing and "Cần xác minh số liệu" not in agreeing

    api = client.get(f"/api/v1/council/meetings/{meeting_id}")
    assert api.status_code == 200, api.text
    by_id = {n["nomination_id"]: n for n in api.json()["ballot"]}
    assert by_id[ids["TQ-NH"]]["ledger"] == "Cần xác minh"
    assert by_id[ids["TQ-NH"]]["ledger_differences"] == [expected]
    assert by_id[ids["TQ-TP"]]["ledger"] == "Khớp" and by_id[ids["TQ-TP"]]["ledger_differences"] == []
