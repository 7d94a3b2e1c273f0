"""The demo's months with the local Dovecot: Yên Sơn answers February's reminder by email, the collection flow
reads it from the mailbox, and the month's line says so in words (the period's name, not its key)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.conftest import IN_CI
from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.demo.mailbox import demo_mailbox
from thidua.deploy.demo.months import run_months
from thidua.deploy.demo.tuyen_quang import launch_contact
from thidua.deploy.imap_local import dovecot_binary, has_lmtp
from thidua.models.mailbox import InboundMail
from thidua.models.reporting import Submission
from thidua.models.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

CODE = "TQ-2024-GIAM-AN"


def test_the_demo_unit_answers_by_email_and_the_collection_reads_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    if dovecot_binary() is None or not has_lmtp():
        message = "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the demo's mailbox must run)", pytrace=False)
        pytest.skip(message)
    from thidua.flows.collect import collect_flow

    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    lines: list[str] = []
    with demo_mailbox(settings, launch_contact(engine, CODE), lines.append) as (mail_settings, mailbox):
        assert mailbox is not None, lines

        def collect(moment: datetime) -> dict[str, Any]:
            return collect_flow(CODE, moment, mail_settings)

        run_months(settings, engine, CODE, collect, lines.append, None, mailbox)

    [february] = [line for line in lines if "Báo cáo tháng 02/2024" in line]
    assert "(hạn 07/03/2024)" in february
    assert "trả lời thư nhắc kèm báo cáo (IMAP): TQ-YS, đọc khi thu thập: 1 tiếp nhận" in february
    assert not any(line.lstrip().startswith("2024-") for line in lines)  # no period shown by its key
    with Session(engine) as s:
        [mail] = s.scalars(select(InboundMail)).all()
        submitted = s.scalars(
            select(Submission).where(
                col(Submission.unit_code) == "TQ-YS", col(Submission.period_key) == "2024-02"
            )
        ).all()
    assert mail.outcome == "accepted" and mail.unit_code == "TQ-YS"
    assert len(submitted) == 1 and submitted[0].on_time
