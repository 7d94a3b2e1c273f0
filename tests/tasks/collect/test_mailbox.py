"""Reports sent by email, read from a real IMAP server (Debian's Dovecot, started here on free ports).

Messages reach the mailbox through LMTP, Dovecot's own delivery protocol (the last hop of SMTP delivery), so
they are filed exactly as a mail server files them; the answers leave through the outbox to a real SMTP
server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.conftest import IN_CI, SmtpRecorder
from tests.deploy.web.portal_helpers import client_for, sign_in
from tests.factories import VN, at, at_once, launch_campaign_rows, load_demo_directory
from tests.tasks.collect.test_reports import CODE, GOOD, fill, submissions, template
from thidua.deploy.imap_local import LocalImapServer, dovecot_binary, has_lmtp, make_test_ca
from thidua.deploy.imap_local import process_alive as alive
from thidua.models.db import make_engine
from thidua.models.mailbox import InboundMail
from thidua.models.outbox import OutboxMessage
from thidua.models.reporting import Submission
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.notifications.outbox import dispatch
from thidua.tasks.collect.mailbox import MailResult, handle_message, parse_message, sweep_mailbox

MAILBOX = "tccb@thads-tuyenquang.example.vn"
YEN_SON = "yenson@thads-tuyenquang.example.vn"  # TQ-YS's contact address in the demo directory
IN_APRIL = at("02/04/2024", 9)


@pytest.fixture
def imap() -> Iterator[LocalImapServer]:
    if dovecot_binary() is None or not has_lmtp():
        message = "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the mailbox tests must run)", pytrace=False)
        pytest.skip(message)
    server = LocalImapServer({MAILBOX: "mat-khau-hop-thu"})
    server.start()
    yield server
    server.close()


@pytest.fixture
def launched(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


def mail_settings(tmp_path: Path, db_url: str, imap: LocalImapServer, **extra: Any) -> Settings:
    values: dict[str, Any] = {"smtp_host": "", **imap.settings_overrides(MAILBOX), **extra}
    return Settings(data_dir=tmp_path / "data", database_url=db_url, **values)


def reply(
    sender: str,
    files: list[tuple[str, bytes]],
    *,
    number: int = 1,
    subject: str = "[Thi đua] Nhắc hạn báo cáo tháng 03/2024",
    answers: str | None = "<nhac-han-1@thads-tuyenquang.example.vn>",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A unit's reply as a mail program writes it; returns (bytes, its Message-ID)."""
    message = EmailMessage()
    message_id = f"<tra-loi-{number}@{sender.split('@')[1]}>"
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = f"Re: {subject}"
    message["Message-ID"] = message_id
    if answers:
        message["In-Reply-To"] = answers
        message["References"] = answers
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content("Kính gửi Phòng TCCB, đơn vị gửi báo cáo kèm theo.")
    for name, data in files:
        maintype, subtype = (
            ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            if name.endswith(".xlsx")
            else ("application", "zip")
            if name.endswith(".zip")
            else ("text", "csv")
        )
        if maintype == "text":
            message.add_attachment(data.decode("utf-8"), subtype=subtype, filename=name)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(), message_id


def report(
    engine: Engine, tmp_path: Path, unit: str = "TQ-YS", values: dict[str, Any] = GOOD, **kw: Any
) -> bytes:
    return fill(template(engine, tmp_path, unit), tmp_path / "in" / f"{unit}.xlsx", values, **kw).read_bytes()


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def inbound(engine: Engine) -> list[InboundMail]:
    with Session(engine) as s:
        return list(s.scalars(select(InboundMail).order_by(col(InboundMail.id))))


def body(message: OutboxMessage) -> str:
    return message.body_text + (message.body_html or "")


def counts(imap: LocalImapServer) -> tuple[int, int, int]:
    return tuple(len(imap.messages(MAILBOX, f)) for f in ("INBOX", "Processed", "Rejected"))  # type: ignore[return-value]


# ---------------------------------------------------------------- the cases


def test_a_reply_from_the_unit_is_accepted_and_answered_in_its_thread(
    engine: Engine,
    db_url: str,
    launched: int,
    tmp_path: Path,
    imap: LocalImapServer,
    smtp_server: SmtpRecorder,
) -> None:
    settings = mail_settings(tmp_path, db_url, imap, **smtp_server.settings_overrides())
    data = report(engine, tmp_path)
    raw, message_id = reply(YEN_SON.upper(), [("Báo cáo tháng 3.xlsx", data)])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert (result.read, result.accepted, result.moved, result.unreachable) == (1, 1, 1, None)
    [sub] = submissions(engine)
    assert sub[1:5] == ("TQ-YS", "2024-03", 1, True) and json.loads(sub[5]) == GOOD
    [row] = inbound(engine)
    assert (row.message_key, row.outcome, row.unit_code, row.held, row.folder) == (
        message_id,
        "accepted",
        "TQ-YS",
        False,
        "Processed",
    )
    assert counts(imap) == (0, 1, 0)

    assert dispatch(engine, settings, worker_id="test").sent == 1
    [mail] = smtp_server.received
    answer = mail.message
    assert mail.rcpt_tos == [YEN_SON]
    assert answer["Subject"] == "Re: [Thi đua] Nhắc hạn báo cáo tháng 03/2024"
    assert answer["In-Reply-To"] == message_id
    assert answer["References"].split() == ["<nhac-han-1@thads-tuyenquang.example.vn>", message_id]
    text = answer.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "đã được tiếp nhận (lần nộp thứ 1" in text and "đúng hạn" in text

    # The same file again in a new message: nothing changes, the sender is told so, once.
    again, _ = reply(YEN_SON, [("Báo cáo tháng 3.xlsx", data)], number=2)
    imap.deliver(again, MAILBOX, sender=YEN_SON)
    second = sweep_mailbox(engine, settings, now=at("03/04/2024", 9))
    assert (second.unchanged, second.accepted) == (1, 0)
    assert len(submissions(engine)) == 1
    replies = [m for m in outbox(engine) if m.kind == "report_accepted"]
    assert len(replies) == 2 and "không thay đổi" in body(replies[1])


def test_a_stranger_is_refused_politely_and_the_message_kept_for_an_administrator(
    engine: Engine,
    db_url: str,
    launched: int,
    tmp_path: Path,
    imap: LocalImapServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = mail_settings(tmp_path, db_url, imap)
    stranger = "nguoi.la@gmail.example.com"
    raw, message_id = reply(stranger, [("bao-cao.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=stranger)

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert (result.refused, result.accepted) == (1, 0)
    assert submissions(engine) == []
    [row] = inbound(engine)
    assert row.held and row.outcome == "refused" and row.unit_code == "TQ-YS"
    assert row.reason is not None and stranger in row.reason and "TQ-YS" in row.reason
    assert row.held_key is not None
    kept = parse_message(storage_for(settings).get(row.held_key))  # whole, as delivered (Received: added)
    assert kept.key == message_id and kept.files == parse_message(raw).files
    assert counts(imap) == (0, 0, 1)

    [answer] = outbox(engine)
    assert answer.recipient == stranger and answer.kind == "mail_answer"
    assert json.loads(answer.attachments_json) == []
    assert json.loads(answer.headers_json or "{}")["In-Reply-To"] == message_id
    text = body(answer)
    assert "chưa được đăng ký" in text and "quản trị viên" in text
    # Nothing of the unit: not its code, its name, its figures, nor the file.
    for secret in ("TQ-YS", "Yên Sơn", "yenson", "120", "bao-cao.xlsx"):
        assert secret not in text and secret not in answer.subject

    # The administrator's list.
    for key, value in {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url}.items():
        monkeypatch.setenv(key, value)
    from thidua.deploy.cli import app

    out = CliRunner().invoke(app, ["mail", "held"])
    assert out.exit_code == 0, out.output
    assert stranger in out.output and "không phải địa chỉ của đơn vị TQ-YS" in out.output

    # The administrators' desk: the list with the reason, and the message as it arrived.
    admin = "minh.ban@thads-tuyenquang.example.vn"
    desk_settings = settings.model_copy(update={"admin_emails": admin})
    client = client_for(desk_settings, engine, lambda: IN_APRIL)
    sign_in(client, desk_settings, admin)
    page = client.get("/quan-tri")
    assert page.status_code == 200 and "Thư trả lời bị giữ lại" in page.text and stranger in page.text
    [held] = client.get("/api/v1/admin/held-mail").json()
    assert (held["sender"], held["unit_code"], held["attachment"]) == (stranger, "TQ-YS", "bao-cao.xlsx")
    assert held["reason"] == row.reason
    original = client.get(f"/quan-tri/thu-bi-giu/{held['id']}/thu-goc.eml")
    assert original.status_code == 200 and original.headers["content-type"] == "message/rfc822"
    assert parse_message(original.content).key == message_id
    assert client.get(f"/api/v1/admin/held-mail/{held['id'] + 1}/original").status_code == 404


@pytest.mark.parametrize("who", ["person", "reporter"])
def test_a_person_of_the_unit_or_a_granted_reporter_may_send_it(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer, who: str
) -> None:
    from thidua.models.directory import Person, Unit
    from thidua.tasks.portal.identity import grant_reporter

    settings = mail_settings(tmp_path, db_url, imap)
    # A person of Yên Sơn; or a person of the Cục's office, granted to report for Yên Sơn on the portal.
    home = "TQ-YS" if who == "person" else "TQ-VP"
    with Session(engine) as s:
        unit_id = s.scalars(select(col(Unit.id)).where(col(Unit.code) == home)).one()
        sender = s.scalars(
            select(col(Person.email)).where(col(Person.unit_id) == unit_id, col(Person.email).is_not(None))
        ).first()
    assert sender
    if who == "reporter":
        grant_reporter(engine, sender, "TQ-YS", by="admin@example.vn", now=IN_APRIL)
    raw, _ = reply(sender, [("bc.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=sender)
    assert sweep_mailbox(engine, settings, now=IN_APRIL).accepted == 1
    # ... but not for another unit.
    raw, _ = reply(sender, [("bc.xlsx", report(engine, tmp_path, "TQ-SD"))], number=2)
    imap.deliver(raw, MAILBOX, sender=sender)
    assert sweep_mailbox(engine, settings, now=IN_APRIL).refused == 1
    assert [s[1] for s in submissions(engine)] == ["TQ-YS"]


def test_the_csv_form_sent_by_email_is_accepted_too(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    import csv
    import io

    from thidua.tasks.collect.reports import write_template

    blank = write_template(engine, CODE, "TQ-YS", "2024-03", tmp_path / "mau.csv")
    rows = list(csv.reader(blank.read_text(encoding="utf-8-sig").splitlines()))
    rows[1][5:8] = ["80", "10", "9"]
    text = io.StringIO()
    csv.writer(text, delimiter=";").writerows(rows)  # Excel in a Vietnamese locale
    raw, _ = reply(YEN_SON, [("yen-son.csv", ("\ufeff" + text.getvalue()).encode("utf-8"))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)

    assert sweep_mailbox(engine, mail_settings(tmp_path, db_url, imap), now=IN_APRIL).accepted == 1
    assert json.loads(submissions(engine)[0][5]) == {"carried_over": 80, "arising": 10, "finished": 9}


def test_a_broken_file_is_rejected_and_the_reply_lists_the_cell_errors(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    settings = mail_settings(tmp_path, db_url, imap)
    broken = report(engine, tmp_path, values={"carried_over": 10, "arising": 5, "finished": "mười sáu"})
    raw, message_id = reply(YEN_SON, [("Báo cáo Yên Sơn.xlsx", broken)])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert result.rejected == 1 and submissions(engine) == []
    assert counts(imap) == (0, 0, 1)
    [answer] = outbox(engine)
    assert answer.kind == "report_rejected" and answer.recipient == YEN_SON
    assert answer.subject == "Re: [Thi đua] Nhắc hạn báo cáo tháng 03/2024"
    assert json.loads(answer.headers_json or "{}")["In-Reply-To"] == message_id
    assert "ô D23" in answer.body_text and "nhận được “mười sáu”" in answer.body_text
    [row] = inbound(engine)
    assert row.outcome == "rejected" and row.reason is not None and "ô D23" in row.reason


def test_messages_without_exactly_one_report_of_the_thread_s_campaign_each_get_their_answer(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    settings = mail_settings(tmp_path, db_url, imap)
    good = report(engine, tmp_path)
    reminder = "<nhac-han-TQ@thads-tuyenquang.example.vn>"
    with Session(engine) as s:  # the reminder the unit answers, as the outbox recorded it when sent
        s.add(
            OutboxMessage(
                dedupe_key="reminder:test", campaign_id=launched, kind="reminder", recipient=YEN_SON,
                subject="Nhắc hạn", body_text=".", created_at=IN_APRIL, message_id=reminder,
            )
        )  # fmt: skip
        s.commit()
    other = fill(
        template(engine, tmp_path),
        tmp_path / "in" / "khac.xlsx",
        GOOD,
        meta_edits={"campaign_code": "HN-2024-KHAC"},
    ).read_bytes()
    cases = {
        "none": reply(YEN_SON, [], number=1),
        "two": reply(YEN_SON, [("a.xlsx", good), ("b.xlsx", good)], number=2),
        "zip": reply(YEN_SON, [("bao-cao.zip", b"PK\x03\x04 not really")], number=3),
        "other": reply(YEN_SON, [("khac.xlsx", other)], number=4, answers=reminder),
        "auto": reply(YEN_SON, [], number=5, headers={"Auto-Submitted": "auto-replied"}),
    }
    for raw, _ in cases.values():
        imap.deliver(raw, MAILBOX, sender=YEN_SON)

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert (result.answered, result.accepted, result.rejected) == (5, 0, 0)
    assert submissions(engine) == []
    assert counts(imap) == (0, 0, 5)
    answers = {m.dedupe_key: body(m) for m in outbox(engine) if m.kind == "mail_answer"}
    by_case = {
        name: next((text for key, text in answers.items() if _key_of(mid) == key), None)
        for name, (_, mid) in cases.items()
    }
    assert "không đính kèm tệp báo cáo" in (by_case["none"] or "")
    assert "2 tệp báo cáo" in (by_case["two"] or "") and "mỗi thư chỉ nhận một báo cáo" in (
        by_case["two"] or ""
    )
    assert "tệp nén" in (by_case["zip"] or "")
    assert "phong trào HN-2024-KHAC" in (by_case["other"] or "") and f"phong trào {CODE}" in (
        by_case["other"] or ""
    )
    assert by_case["auto"] is None  # an automatic message is never answered (no loop with an auto-responder)


def _key_of(message_id: str) -> str:
    from thidua.tasks.collect.reports import MailReply

    return MailReply(sender="", message_key=message_id, subject="").dedupe_key


def test_a_crash_between_the_commit_and_the_move_gives_the_same_result_once(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    settings = mail_settings(tmp_path, db_url, imap)
    raw, message_id = reply(YEN_SON, [("bc.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)
    committed: list[str] = []

    def server_dies(key: str) -> None:
        committed.append(key)
        imap.stop()  # the connection drops after the commit, before the message is moved

    first = sweep_mailbox(engine, settings, now=IN_APRIL, after_commit=server_dies)

    assert committed == [message_id] and first.accepted == 1 and first.moved == 0
    assert first.unreachable is not None
    [row] = inbound(engine)
    assert row.outcome == "accepted" and row.folder is None  # committed, not moved
    imap.start()
    assert counts(imap) == (1, 0, 0)  # still in the folder

    second = sweep_mailbox(engine, settings, now=at("02/04/2024", 10))

    assert (second.read, second.already, second.accepted, second.moved) == (1, 1, 0, 1)
    assert len(submissions(engine)) == 1 and len(inbound(engine)) == 1
    assert [m.kind for m in outbox(engine)] == ["report_accepted"]
    assert counts(imap) == (0, 1, 0)
    imap.stop()  # the restarted server stops whole too: nothing is left running
    assert len(set(imap.pids_stopped)) == 2 and not any(alive(pid) for pid in imap.pids_stopped)


def test_an_unreachable_mailbox_does_not_stop_the_sweep_s_caller(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    imap.stop()
    result = sweep_mailbox(engine, mail_settings(tmp_path, db_url, imap), now=IN_APRIL)
    assert result.read == 0 and result.unreachable is not None
    assert sweep_mailbox(
        engine, Settings(data_dir=tmp_path / "d", database_url=db_url), now=IN_APRIL
    ) == MailResult(enabled=False)


@pytest.mark.postgres
def test_two_sweeps_at_once_handle_each_message_once(
    pg_url: str, tmp_path: Path, imap: LocalImapServer
) -> None:
    engine = make_engine(pg_url)
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
        launch_campaign_rows(engine)
        settings = mail_settings(tmp_path, pg_url, imap)
        from thidua.models.campaign import EnrolledUnit

        with engine.connect() as conn:
            units = {
                str(code): str(email)
                for code, email in conn.execute(
                    select(col(EnrolledUnit.unit_code), col(EnrolledUnit.email)).where(
                        col(EnrolledUnit.unit_code).in_(
                            ["TQ-YS", "TQ-SD", "TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH"]
                        )
                    )
                )
            }
        assert len(units) == 6
        for number, (unit, address) in enumerate(sorted(units.items())):
            raw, _ = reply(address, [(f"{unit}.xlsx", report(engine, tmp_path, unit))], number=number)
            imap.deliver(raw, MAILBOX, sender=address)

        results = at_once(lambda i: sweep_mailbox(engine, settings, now=IN_APRIL), 2)

        assert [r.unreachable for r in results] == [None, None]
        # One reads the mailbox; the other finds it being read (or, later, empty) and leaves it.
        assert sorted(r.accepted for r in results) == [0, 6]
        assert sum(r.read for r in results) == 6
        assert sorted((s[1], s[3]) for s in submissions(engine)) == [(u, 1) for u in sorted(units)]
        assert len(inbound(engine)) == 6
        assert len([m for m in outbox(engine) if m.kind == "report_accepted"]) == 6
        assert counts(imap) == (0, 6, 0)
    finally:
        engine.dispose()


def test_the_collect_flow_reads_the_mailbox_in_a_fixed_number_of_tasks(
    engine: Engine,
    db_url: str,
    launched: int,
    tmp_path: Path,
    imap: LocalImapServer,
    prefect_harness: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.factories import task_runs
    from thidua.deploy.cli_collect import print_collect_summary
    from thidua.flows.collect import collect_flow

    settings = mail_settings(tmp_path, db_url, imap)
    raw, _ = reply(YEN_SON, [("bc.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)
    first = collect_flow(CODE, IN_APRIL, settings, return_state=True)
    summary = first.result()
    assert summary["mail"]["accepted"] == 1 and summary["emails"]["sent"] == 1
    print_collect_summary(summary)  # what `thidua collect` prints
    assert "Hộp thư nhận báo cáo: 1 thư; 1 báo cáo được tiếp nhận" in capsys.readouterr().out
    assert [s[1] for s in submissions(engine)] == ["TQ-YS"]
    assert counts(imap) == (0, 1, 0)

    # Four more messages: the same number of task runs (the loop over messages is inside one task).
    for number, unit in enumerate(["TQ-SD", "TQ-CH", "TQ-HY", "TQ-NH"], start=2):
        with Session(engine) as s:
            from thidua.models.campaign import EnrolledUnit

            address = s.scalars(
                select(col(EnrolledUnit.email)).where(col(EnrolledUnit.unit_code) == unit)
            ).one()
        raw, _ = reply(str(address), [(f"{unit}.xlsx", report(engine, tmp_path, unit))], number=number)
        imap.deliver(raw, MAILBOX, sender=str(address))
    second = collect_flow(CODE, at("02/04/2024", 10), settings, return_state=True)
    assert second.result()["mail"]["accepted"] == 4
    assert task_runs(second.state_details.flow_run_id) == task_runs(first.state_details.flow_run_id)


def test_a_reply_counts_as_received_when_it_reached_the_mailbox_not_when_it_was_read(
    sqlite_url: str, tmp_path: Path, imap: LocalImapServer
) -> None:
    """Sent on the due date at 16:00, read by the collection run the next morning: on time. (Filed by IMAP
    APPEND with that date: LMTP would stamp it with today's clock.)"""
    from datetime import time, timedelta

    from thidua.models.campaign import Deadline

    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    with Session(engine) as s:
        due = s.scalars(select(col(Deadline.due_date)).where(col(Deadline.key) == "2024-03")).one()
    sent = datetime.combine(due, time(16), VN)
    raw, _ = reply(YEN_SON, [("bc.xlsx", report(engine, tmp_path))])
    imap.append(MAILBOX, raw, when=sent)

    result = sweep_mailbox(engine, mail_settings(tmp_path, sqlite_url, imap), now=sent + timedelta(hours=15))

    assert result.accepted == 1
    with Session(engine) as s:
        [sub] = s.scalars(select(Submission)).all()
    assert sub.on_time and sub.received_at.replace(tzinfo=UTC) == sent.astimezone(UTC)
    engine.dispose()


@pytest.mark.postgres
def test_one_message_handled_by_two_workers_at_once_is_ingested_and_answered_once(
    pg_url: str, tmp_path: Path
) -> None:
    """Below the sweep's lock: the message's row alone keeps two transactions from both doing its result
    (the second insert waits for the first commit, then finds the row)."""
    engine = make_engine(pg_url)
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
        launch_campaign_rows(engine)
        settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, smtp_host="")
        raw, _ = reply(YEN_SON, [("bc.xlsx", report(engine, tmp_path))])
        message = parse_message(raw)

        outcomes = at_once(lambda i: handle_message(engine, settings, message, now=IN_APRIL), 4)

        assert (
            sorted((o.status, o.already) for o in outcomes)
            == [("accepted", False)] + [("accepted", True)] * 3
        )
        assert len(submissions(engine)) == 1 and len(inbound(engine)) == 1
        assert [m.kind for m in outbox(engine)] == ["report_accepted"]
    finally:
        engine.dispose()


def test_thidua_serve_reads_the_mailbox_between_collections(
    sqlite_url: str, tmp_path: Path, imap: LocalImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded scheduler's mail-read job (every 10 minutes; deploy/jobs.py), called as the scheduler
    calls it: settings from the environment, the clock's now."""
    from thidua.deploy import jobs
    from thidua.deploy.scheduler import MAIL_EVERY_MINUTES, mail_job_spec

    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    raw, message_id = reply(YEN_SON, [("bc.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)
    env = {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": sqlite_url}
    env.update({f"THIDUA_{k.upper()}": str(v) for k, v in imap.settings_overrides(MAILBOX).items()})
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    jobs.read_mailbox()

    [row] = inbound(engine)
    assert (
        row.message_key == message_id
        and row.folder == "Processed"
        and row.outcome in ("accepted", "rejected")
    )
    assert counts(imap)[0] == 0
    spec = mail_job_spec()
    assert spec.id == "mail-read" and spec.executor == "mail"
    assert spec.trigger.interval.total_seconds() == MAIL_EVERY_MINUTES * 60  # type: ignore[attr-defined]
    engine.dispose()


# ---------------------------------------------------------------- TLS and login


@pytest.fixture
def tls_imap(tmp_path: Path) -> Iterator[tuple[LocalImapServer, Path]]:
    """Dovecot as in `imap`, serving a certificate signed by a throwaway CA: STARTTLS on its IMAP port,
    implicit TLS on its imaps port. Yields (server, the CA's certificate)."""
    if dovecot_binary() is None or not has_lmtp():
        pytest.fail("Dovecot is not installed", pytrace=False) if IN_CI else pytest.skip("no Dovecot")
    ca, cert, key = make_test_ca(tmp_path / "tls")
    server = LocalImapServer({MAILBOX: "mat-khau-hop-thu"}, tls=(cert, key))
    server.start()
    yield server, ca
    server.close()


def tls_settings(
    tmp_path: Path, db_url: str, server: LocalImapServer, security: str, **extra: Any
) -> Settings:
    values: dict[str, Any] = {"smtp_host": "", **server.settings_overrides(MAILBOX, security), **extra}
    return Settings(data_dir=tmp_path / "data", database_url=db_url, **values)


def logins(server: LocalImapServer) -> int:
    """Successful IMAP logins of MAILBOX the server logged (the sweep's and the test's own sessions)."""
    return server.log().count(f"Login: user=<{MAILBOX}>")


def refused_handshakes(server: LocalImapServer, times: int) -> list[str]:
    """The log lines of connections the client ended at the TLS handshake (unknown CA) before any login,
    once there are `times` of them (Dovecot's log lags a little)."""

    def lines() -> list[str]:
        return [
            line
            for line in server.log().splitlines()
            if "unknown ca" in line and "no auth attempts" in line and "user=<>" in line
        ]

    deadline = time.monotonic() + 5
    while len(lines()) < times and time.monotonic() < deadline:
        time.sleep(0.02)
    return lines()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_reply_is_read_over_tls_when_the_server_s_ca_is_trusted(
    engine: Engine,
    db_url: str,
    launched: int,
    tmp_path: Path,
    tls_imap: tuple[LocalImapServer, Path],
    security: str,
) -> None:
    server, ca = tls_imap
    settings = tls_settings(tmp_path, db_url, server, security, imap_ca_file=str(ca))
    raw, _ = reply(YEN_SON, [("Báo cáo tháng 3.xlsx", report(engine, tmp_path))])
    server.deliver(raw, MAILBOX, sender=YEN_SON)
    before = logins(server)

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert (result.read, result.accepted, result.moved, result.unreachable) == (1, 1, 1, None)
    assert len(submissions(engine)) == 1
    assert logins(server) == before + 1
    # The session was encrypted: Dovecot logs the TLS of each login.
    assert "TLS" in [line for line in server.log().splitlines() if "Login: user=" in line][-1]
    assert counts(server) == (0, 1, 0)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_an_untrusted_server_gets_no_password_and_nothing_is_ingested(
    engine: Engine,
    db_url: str,
    launched: int,
    tmp_path: Path,
    tls_imap: tuple[LocalImapServer, Path],
    security: str,
) -> None:
    server, _ca = tls_imap
    # Neither the system's CAs nor another private CA vouch for the test CA's certificate.
    other_ca, _, _ = make_test_ca(tmp_path / "other")
    raw, _ = reply(YEN_SON, [("Báo cáo tháng 3.xlsx", report(engine, tmp_path))])
    server.deliver(raw, MAILBOX, sender=YEN_SON)
    for extra in ({}, {"imap_ca_file": str(other_ca)}):
        before = logins(server)
        settings = tls_settings(tmp_path, db_url, server, security, **extra)

        result = sweep_mailbox(engine, settings, now=IN_APRIL)

        assert result.read == 0 and result.unreachable is not None
        assert "chứng chỉ của máy chủ thư không được tin cậy" in result.unreachable
        assert "không gửi mật khẩu" in result.unreachable
        assert logins(server) == before  # no login reached the server
    # Both connections ended at the TLS handshake, the client refusing the certificate, before any login.
    assert len(refused_handshakes(server, 2)) == 2, server.log()
    assert "auth failed" not in server.log() and "Aborted login (auth" not in server.log()
    assert submissions(engine) == [] and inbound(engine) == []
    assert counts(server) == (1, 0, 0)


def test_a_wrong_password_is_reported_and_the_messages_stay_in_the_folder(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    raw, _ = reply(YEN_SON, [("Báo cáo tháng 3.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)
    settings = mail_settings(tmp_path, db_url, imap, imap_password="sai-mat-khau")

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert result.read == 0
    assert result.unreachable == (
        "máy chủ thư từ chối đăng nhập: tên đăng nhập hoặc mật khẩu hộp thư không đúng "
        "(THIDUA_IMAP_USERNAME, THIDUA_IMAP_PASSWORD)"
    )
    assert "mat-khau" not in result.unreachable
    assert submissions(engine) == [] and inbound(engine) == [] and outbox(engine) == []
    assert counts(imap) == (1, 0, 0)


def test_starttls_never_falls_back_to_plain_text(
    engine: Engine, db_url: str, launched: int, tmp_path: Path, imap: LocalImapServer
) -> None:
    raw, _ = reply(YEN_SON, [("Báo cáo tháng 3.xlsx", report(engine, tmp_path))])
    imap.deliver(raw, MAILBOX, sender=YEN_SON)
    before = logins(imap)
    settings = mail_settings(tmp_path, db_url, imap, imap_security="starttls")  # this server has no TLS

    result = sweep_mailbox(engine, settings, now=IN_APRIL)

    assert result.read == 0 and result.unreachable is not None
    assert "không hỗ trợ STARTTLS" in result.unreachable
    assert logins(imap) == before and inbound(engine) == [] and submissions(engine) == []
    assert counts(imap) == (1, 0, 0)
