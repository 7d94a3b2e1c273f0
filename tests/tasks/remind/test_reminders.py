"""The reminder sweep against a real database (SQLite and PostgreSQL) and a real SMTP server.

Time travels with an injected clock through January–February 2024 of the Tuyên Quang campaign (Tết 08–14/02).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from tests.conftest import SmtpRecorder
from tests.factories import at, at_once, launch_campaign_rows, load_demo_directory
from thidua.deploy.demo.months import fill_template
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.collect.reports import ingest_files
from thidua.tasks.remind.reminders import (
    RemindError,
    cancel_pending_reminders,
    grant_exemption,
    plan_reminders,
    queue_reminders,
)

CODE = "TQ-2024-GIAM-AN"
DOMAIN = "@thads-tuyenquang.example.vn"
REPORTING = ["chiemhoa", "hamyen", "lambinh", "nahang", "nghiepvu", "sonduong", "thanhpho", "yenson"]
ADMIN = "tccb" + DOMAIN
HEAD_OF_PROVINCE = "minh.ban" + DOMAIN


def _addr(*names: str) -> set[str]:
    return {n + DOMAIN for n in names}


ALL = _addr(*REPORTING)


@pytest.fixture
def campaign(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


def _settings(tmp_path: Path, engine: Engine, smtp: SmtpRecorder | None = None) -> Settings:
    extra = smtp.settings_overrides() if smtp else {"smtp_host": ""}
    return Settings(data_dir=tmp_path / "data", database_url=str(engine.url.render_as_string(False)), **extra)


def _sweep(engine: Engine, settings: Settings, now: datetime, *, send: bool = True) -> dict[str, int]:
    queued = queue_reminders(engine, settings, plan_reminders(engine, CODE, now), now=now)
    if send:
        dispatch(engine, settings, worker_id="test")
    return queued


def _submit(engine: Engine, settings: Settings, unit: str, period: str, now: datetime, tmp: Path) -> None:
    path = fill_template(
        engine,
        CODE,
        unit,
        period,
        tmp / f"{unit}-{period}.xlsx",
        {"carried_over": 40, "arising": 10, "finished": 6},
        {},
    )
    [result] = ingest_files(engine, settings, CODE, [path], now=now)
    assert result.status == "accepted", result


def _kind_of(subject: str) -> str:
    for marker, kind in (("Nhắc hạn", "before"), ("Hôm nay hết hạn", "on-day"), ("Quá hạn", "overdue")):
        if subject.startswith(f"[Thi đua] {marker}"):
            return kind
    if "trực thuộc" in subject:
        return "escalate"
    if "tổng hợp" in subject:
        return "digest"
    raise AssertionError(subject)


def _received(smtp: SmtpRecorder, start: int) -> set[tuple[str, str]]:
    out = []
    for mail in smtp.received[start:]:
        msg = mail.message
        out.append((_kind_of(str(msg["Subject"])), str(msg["To"]).split("<")[-1].rstrip(">")))
    assert len(out) == len(set(out)), f"duplicate emails: {out}"
    return set(out)


def _expected_january_february() -> dict[date, set[tuple[str, str]]]:
    without_ys = ALL - _addr("yenson")
    without_ys_sd = without_ys - _addr("sonduong")
    digest = {("digest", ADMIN)}
    d = date
    exp: dict[date, set[tuple[str, str]]] = {
        d(2024, 1, 31): {("before", a) for a in ALL},
        d(2024, 2, 5): {("before", a) for a in without_ys},
        d(2024, 2, 6): {("before", a) for a in without_ys},
        d(2024, 2, 7): {("on-day", a) for a in without_ys},
        d(2024, 2, 15): digest,
        d(2024, 2, 16): {("overdue", a) for a in without_ys} | digest,
        d(2024, 2, 19): digest,
        d(2024, 2, 20): {("overdue", a) for a in without_ys_sd} | digest,
        d(2024, 2, 21): {("escalate", HEAD_OF_PROVINCE)} | digest,
        d(2024, 2, 22): {("overdue", a) for a in without_ys_sd} | digest,
        d(2024, 2, 23): digest,
        d(2024, 2, 26): digest,
        d(2024, 2, 27): digest,
        d(2024, 2, 28): digest,
        # The February report's first reminder (07/03 minus five working days) goes to everyone again.
        d(2024, 2, 29): {("before", a) for a in ALL} | digest,
    }
    return exp


def test_time_travel_through_january_and_february_sends_exactly_the_expected_emails_each_day(
    engine: Engine, campaign: int, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, engine, smtp_server)
    expected = _expected_january_february()
    day = date(2024, 1, 5)
    while day <= date(2024, 2, 29):
        stamp = day.strftime("%d/%m/%Y")
        if day == date(2024, 2, 1):
            _submit(engine, settings, "TQ-YS", "2024-01", at(stamp, 7), tmp_path)
        if day == date(2024, 2, 19):
            _submit(engine, settings, "TQ-SD", "2024-01", at(stamp, 7), tmp_path)
        start = len(smtp_server.received)
        _sweep(engine, settings, at(stamp, 8))
        _sweep(engine, settings, at(stamp, 15))  # a second sweep the same day adds nothing
        assert _received(smtp_server, start) == expected.get(day, set()), stamp
        day += timedelta(days=1)

    escalation = next(m.message for m in smtp_server.received if HEAD_OF_PROVINCE in str(m.message["To"]))
    body = escalation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Chi cục Thi hành án dân sự huyện Hàm Yên" in body and "07/02/2024" in body
    assert "Yên Sơn" not in body and "Sơn Dương" not in body  # they reported
    first = smtp_server.received[0].message
    assert first["Reply-To"] == ADMIN
    names = [p.get_filename() for p in first.iter_attachments()]
    assert len(names) == 1 and str(names[0]).endswith("-2024-01.xlsx")
    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hạn gửi: chậm nhất ngày 07/02/2024" in text and "Thời gian còn lại: 5 ngày làm việc." in text
    templates = sorted(p.name for p in (settings.documents_dir / CODE / "templates").iterdir())
    assert len(templates) == 16  # one per unit and period, reused by every later step


def test_after_downtime_one_catch_up_email_per_owed_step_and_no_stale_before(
    engine: Engine, campaign: int, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, engine, smtp_server)
    # The before-5 reminders were queued on 31/01, but the mail server was down: they never left.
    assert _sweep(engine, settings, at("31/01/2024"), send=False)["queued"] == len(ALL)

    _sweep(engine, settings, at("20/02/2024"))  # the first sweep after three weeks of downtime

    assert _received(smtp_server, 0) == {("overdue", a) for a in ALL} | {("digest", ADMIN)}
    with engine.connect() as conn:
        statuses: dict[str, str] = dict(
            conn.execute(
                select(col(OutboxMessage.dedupe_key), col(OutboxMessage.status)).where(
                    col(OutboxMessage.dedupe_key).like(f"remind:{CODE}:2024-01:%")
                )
            ).all()
        )
    assert {k.split(":")[-1] for k, s in statuses.items() if s == OutboxStatus.SENT} == {"overdue-2"}
    assert {k.split(":")[-1] for k, s in statuses.items() if s == OutboxStatus.CANCELLED} == {"before-5"}

    start = len(smtp_server.received)
    _sweep(engine, settings, at("21/02/2024"))
    assert _received(smtp_server, start) == {("escalate", HEAD_OF_PROVINCE), ("digest", ADMIN)}


def test_a_submission_cancels_the_units_pending_reminders(
    engine: Engine, campaign: int, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, engine, smtp_server)
    _sweep(engine, settings, at("06/02/2024"), send=False)
    # Accepting a report cancels that unit's reminders still waiting in the outbox, at once.
    _submit(engine, settings, "TQ-YS", "2024-01", at("06/02/2024", 8, 30), tmp_path)
    with Session(engine) as s, s.begin():
        assert cancel_pending_reminders(s, campaign, "TQ-YS", "2024-01") == 0  # nothing left to cancel
    _submit(engine, settings, "TQ-SD", "2024-01", at("06/02/2024", 8, 40), tmp_path)
    assert _sweep(engine, settings, at("06/02/2024", 9))["cancelled"] == 0  # the sweep finds nothing stale

    assert _received(smtp_server, 0) == {("before", a) for a in ALL - _addr("yenson", "sonduong")}
    with engine.connect() as conn:
        cancelled = conn.execute(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.CANCELLED)  # type: ignore[arg-type]
        ).scalar_one()
    assert cancelled == 2


def test_an_exemption_cancels_pending_reminders_and_stops_later_ones(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, engine)
    _sweep(engine, settings, at("05/02/2024"), send=False)
    assert grant_exemption(
        engine,
        CODE,
        "TQ-NV",
        "2024-01",
        "Phòng nghiệp vụ không có số liệu riêng",
        granted_by="admin",
        now=at("05/02/2024", 10),
    ) == (True, 1)
    assert grant_exemption(
        engine, CODE, "TQ-NV", "2024-01", "lần nữa", granted_by="admin", now=at("05/02/2024", 11)
    ) == (
        False,
        0,
    )
    plan = plan_reminders(engine, CODE, at("06/02/2024"))
    assert {e.recipient for e in plan.emails} == ALL - _addr("nghiepvu")
    with pytest.raises(RemindError, match="2024-13"):
        grant_exemption(engine, CODE, "TQ-NV", "2024-13", "sai", granted_by="admin", now=at("05/02/2024"))
    with pytest.raises(RemindError, match="TQ-XX"):
        grant_exemption(engine, CODE, "TQ-XX", "2024-01", "sai", granted_by="admin", now=at("05/02/2024"))


def test_the_dossier_is_owed_by_every_reporting_unit_and_carries_no_template(
    engine: Engine, campaign: int
) -> None:
    plan = plan_reminders(engine, CODE, at("03/07/2024"))
    by_deadline: dict[str | None, set[str]] = {}
    for e in plan.emails:
        by_deadline.setdefault(e.deadline_key, set()).add(e.recipient)
    assert by_deadline["dossier"] == ALL and by_deadline["final"] == ALL and by_deadline["2024-06"] == ALL
    assert all(e.attach_period is None for e in plan.emails if e.deadline_key == "dossier")
    assert all(
        e.step_id == "on-day" for e in plan.emails if e.deadline_key in ("dossier", "final", "2024-06")
    )


def test_a_dry_run_plan_changes_nothing(engine: Engine, campaign: int) -> None:
    plan = plan_reminders(engine, CODE, at("31/01/2024"))
    assert len(plan.emails) == len(ALL)
    assert any("nhắc trước hạn 5 ngày làm việc" in line for line in plan.lines())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0


@pytest.mark.postgres
def test_two_concurrent_sweeps_on_postgresql_queue_each_email_once(
    pg_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    engine = make_engine(pg_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, **smtp_server.settings_overrides())
    now = at("16/02/2024")
    plans = [plan_reminders(engine, CODE, now) for _ in range(2)]
    results = at_once(lambda i: queue_reminders(engine, settings, plans[i], now=now), 2)
    assert sum(r["queued"] for r in results) == len(ALL) + 1  # the overdue reminders and the digest, once
    dispatch(engine, settings, worker_id="a")
    dispatch(engine, settings, worker_id="b")
    got = [m for m in smtp_server.received if "Quá hạn" in str(m.message["Subject"])]
    assert len(got) == len(ALL)
    engine.dispose()


def test_the_national_enrolment_is_decided_in_one_plan_from_a_few_queries(
    sqlite_url: str, tmp_path: Path
) -> None:
    from tests.factories import NATIONAL_DEFINITION
    from thidua.models.campaign import Campaign, EnrolledUnit

    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "national-2026", tmp_path, now=at("02/01/2026"))
    launch_campaign_rows(engine, NATIONAL_DEFINITION, at("26/02/2026", 9))
    with engine.connect() as conn:
        reporting = conn.execute(
            select(func.count()).where(col(EnrolledUnit.reports), col(EnrolledUnit.email).is_not(None))
        ).scalar_one()
        code = conn.execute(select(col(Campaign.code))).scalar_one()
    plan = plan_reminders(engine, code, at("06/03/2026", 9))  # the February report's due date
    reminders = [e for e in plan.emails if e.kind == "reminder"]
    assert len(reminders) == reporting and {e.step_id for e in reminders} == {"on-day"}
    engine.dispose()
