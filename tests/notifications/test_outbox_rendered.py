"""The outbox renders each email once at enqueue and the dispatcher streams the stored bytes (SQLite and
PostgreSQL): what arrives, rows queued without a rendering, recording per batch, cancellation after the claim,
a dispatcher killed mid-batch."""

from __future__ import annotations

import email
import email.policy
import multiprocessing as mp
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SmtpRecorder
from sqlalchemy import Engine, event, select, update

from tests.memory_transport import MemoryTransport
from tests.notifications.test_outbox import NOW, make_settings, queue, received_ids, rows
from thidua.models.db import make_engine, transaction
from thidua.models.outbox import OutboxStatus
from thidua.models.settings import Settings
from thidua.notifications.message import EmailMessage, build_mime
from thidua.notifications.outbox import (
    OUTBOX,
    RECORD_EVERY,
    DispatchResult,
    dispatch,
    enqueue,
    enqueue_many,
    message_id_for,
)
from thidua.notifications.transports import RawMessage, Transport

C = OUTBOX.c
FROM = "thidua@thads.tuyenquang.gov.vn"
SUBJECT = "[Thi đua] Nhắc hạn: Báo cáo tháng 01/2024 – hạn 07/02/2024 (còn 5 ngày làm việc)"
TEXT = "Kính gửi: Chi cục Thi hành án dân sự huyện Yên Sơn\n\nHạn gửi: chậm nhất ngày 07/02/2024.\n"


def _queue_with_attachment(engine: Engine, data_dir: Path | None) -> None:
    with transaction(engine) as s:
        enqueue(
            s,
            dedupe_key="remind:TQ:2024-01:TQ-YS:before-5",
            kind="reminder",
            recipient="yenson@thads.tuyenquang.gov.vn",
            recipient_name="Chi cục Thi hành án dân sự huyện Yên Sơn",
            subject=SUBJECT,
            text=TEXT,
            html="<p>Kính gửi: <b>Chi cục Thi hành án dân sự huyện Yên Sơn</b></p>",
            attachments=["documents/TQ/templates/TQ-YS-2024-01.xlsx"],
            reply_to="tccb@thads.tuyenquang.gov.vn",
            cc=["vanphong@thads.tuyenquang.gov.vn"],
            now=NOW,
            data_dir=data_dir,
        )


def _template(settings: Settings) -> Path:
    path = settings.data_dir / "documents" / "TQ" / "templates" / "TQ-YS-2024-01.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 xlsx of Y\xc3\xaan S\xc6\xa1n")
    return path


def _parsed(data: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def _content(msg: email.message.EmailMessage) -> tuple[Any, ...]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return (
        str(msg["Subject"]),
        msg["To"].addresses[0].addr_spec,
        str(msg["Cc"]),
        str(msg["Reply-To"]),
        str(msg["X-Thidua-Kind"]),
        text.get_content(),
        html.get_content(),
        [(a.get_filename(), a.get_content_type(), a.get_content()) for a in msg.iter_attachments()],
    )


# ---------------------------------------------------------------- rendered once


def test_enqueue_stores_the_rendered_message_and_the_server_receives_it_with_from_date_and_message_id(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    _template(settings)
    _queue_with_attachment(engine, settings.data_dir)
    [row] = rows(engine)
    stored = bytes(row["mime"])
    assert (
        b"\r\nFrom:" not in b"\r\n" + stored and b"Message-ID:" not in stored and b"\r\nDate:" not in stored
    )
    stored.decode("ascii")  # 7-bit: Vietnamese as encoded words, base64 or quoted-printable bodies

    assert dispatch(
        engine, settings, clock=lambda: NOW + timedelta(hours=2), worker_id="a"
    ) == DispatchResult(sent=1)
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["yenson@thads.tuyenquang.gov.vn", "vanphong@thads.tuyenquang.gov.vn"]
    assert mail.data.replace(b"\r\n", b"\n").endswith(stored.replace(b"\r\n", b"\n"))  # the stored bytes
    got = _parsed(mail.data)
    assert got["Date"] == "Fri, 05 Jan 2024 10:00:00 +0700"  # the moment it was sent, in Vietnam
    assert got["From"].addresses[0].addr_spec == FROM
    assert str(got["Message-ID"]) == message_id_for(row, FROM) == rows(engine)[0]["message_id"]
    assert _content(got) == (
        SUBJECT,
        "yenson@thads.tuyenquang.gov.vn",
        "vanphong@thads.tuyenquang.gov.vn",
        "tccb@thads.tuyenquang.gov.vn",
        "reminder",
        TEXT,
        "<p>Kính gửi: <b>Chi cục Thi hành án dân sự huyện Yên Sơn</b></p>\n",
        [("TQ-YS-2024-01.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          b"PK\x03\x04 xlsx of Y\xc3\xaan S\xc6\xa1n")],
    )  # fmt: skip


def test_a_row_queued_without_a_rendering_is_built_at_dispatch_and_arrives_the_same(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    _template(settings)
    # Without a data dir the attachment cannot be read at enqueue: stored unrendered, as rows queued before.
    _queue_with_attachment(engine, None)
    assert rows(engine)[0]["mime"] is None
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a") == DispatchResult(sent=1)
    [mail] = smtp_server.received
    row = rows(engine)[0]
    message = EmailMessage(
        to=row["recipient"],
        to_name=row["recipient_name"],
        subject=SUBJECT,
        text=TEXT,
        html=row["body_html"],
        attachments=(_template(settings),),
        reply_to=row["reply_to"],
        cc=("vanphong@thads.tuyenquang.gov.vn",),
        headers={"X-Thidua-Kind": "reminder"},
    )
    expected = build_mime(message, FROM, settings.mail_from_name, now=NOW)
    assert _content(_parsed(mail.data)) == _content(_parsed(expected.as_bytes()))
    assert str(_parsed(mail.data)["Message-ID"]) == message_id_for(row, FROM)


def test_a_message_with_large_attachments_is_left_to_the_dispatcher(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import thidua.notifications.outbox as outbox

    settings = make_settings(tmp_path, engine)
    _template(settings)
    monkeypatch.setattr(outbox, "RENDER_ATTACHMENTS_UP_TO", 10)  # the template is larger than 10 bytes
    _queue_with_attachment(engine, settings.data_dir)
    assert rows(engine)[0]["mime"] is None  # not copied into the row
    fake = MemoryTransport()
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a", transport=fake) == DispatchResult(
        sent=1
    )
    assert [a.get_filename() for a in fake.sent[0].iter_attachments()] == ["TQ-YS-2024-01.xlsx"]


def test_a_vietnamese_dedupe_key_gets_the_same_message_id_in_sql_as_in_python(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine)
    with transaction(engine) as s:
        enqueue(
            s, dedupe_key="thông báo:Yên Sơn:kỳ 1", kind="launch", recipient="a@thads.vn", subject="s",
            text="t", now=NOW,
        )  # fmt: skip
    fake = MemoryTransport()
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a", transport=fake) == DispatchResult(
        sent=1
    )
    [row] = rows(engine)
    assert row["message_id"] == message_id_for(row, FROM) == str(fake.sent[0]["Message-ID"])


def test_queueing_again_renders_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import thidua.notifications.outbox as outbox

    calls: list[object] = []
    real = outbox.render_body
    monkeypatch.setattr(outbox, "render_body", lambda msg: calls.append(msg) or real(msg))
    assert queue(engine, 30) == 30 and len(calls) == 30
    assert queue(engine, 30) == 0 and len(calls) == 30


def test_enqueueing_many_rows_reads_each_attachment_once(engine: Engine, tmp_path: Path) -> None:
    """A closing report goes to hundreds of units: its files are read from the storage (a bucket, over the
    network) once per enqueue call, not once per row, and every row is rendered with them."""
    from thidua.models.storage import LocalStorage

    class CountingStorage(LocalStorage):
        def __init__(self, root: Path) -> None:
            super().__init__(root)
            self.reads: Counter[str] = Counter()

        def size(self, k: str) -> int:
            self.reads[f"size {k}"] += 1
            return super().size(k)

        def get(self, k: str) -> bytes:
            self.reads[f"get {k}"] += 1
            return super().get(k)

    storage = CountingStorage(tmp_path / "data")
    files = {"documents/TQ/bao-cao.docx": b"PK docx", "documents/TQ/tong-ket.xlsx": b"PK xlsx"}
    for k, data in files.items():
        storage.put(k, data)
    batch = [
        {"dedupe_key": f"close:TQ:{i}", "kind": "closing_report", "recipient": f"u{i}@thads.vn",
         "subject": "Báo cáo tổng kết", "text": "Kính gửi", "attachments": list(files)}
        for i in range(40)
    ]  # fmt: skip
    with transaction(engine) as s:
        assert enqueue_many(s, batch, NOW, storage=storage) == 40
    assert storage.reads == Counter({f"{op} {k}": 1 for op in ("size", "get") for k in files})
    for row in rows(engine):
        parts = _parsed(row["mime"]).iter_attachments()
        assert {a.get_filename(): a.get_content() for a in parts} == {
            k.rsplit("/", 1)[1]: data for k, data in files.items()
        }


def test_a_transport_without_send_raw_gets_the_parsed_message(engine: Engine, tmp_path: Path) -> None:
    class OnlySend:
        def __init__(self) -> None:
            self.inner = MemoryTransport()

        def open(self) -> None:
            self.inner.open()

        def send(self, mime: email.message.EmailMessage) -> None:
            self.inner.send(mime)

        def close(self) -> None:
            self.inner.close()

        def __enter__(self) -> OnlySend:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    queue(engine, 3)
    plain = OnlySend()
    assert isinstance(plain, Transport) and not hasattr(plain, "send_raw")
    result = dispatch(
        engine, make_settings(tmp_path, engine), clock=lambda: NOW, worker_id="a", transport=plain
    )
    assert result == DispatchResult(sent=3)
    assert [str(m["Subject"]) for m in plain.inner.sent] == [
        "[Thi đua] Phát động phong trào thi đua: Giảm án có điều kiện"
    ] * 3


# ---------------------------------------------------------------- recording


def _count_outbox_updates(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "UPDATE OUTBOX_MESSAGE" in statement.upper():
            seen.append(statement)

    return seen


def test_results_are_recorded_per_group_of_ten_not_once_per_message(engine: Engine, tmp_path: Path) -> None:
    queue(engine, 90)
    updates = _count_outbox_updates(engine)
    fake = MemoryTransport()
    fake.fail_for("unit7@thads.tuyenquang.gov.vn", permanent=True)
    result = dispatch(
        engine,
        make_settings(tmp_path, engine),
        clock=lambda: NOW,
        worker_id="a",
        transport=fake,
        batch_size=40,
    )
    assert result == DispatchResult(sent=89, failed=1)
    # Batches of 40, 40, 10 in groups of RECORD_EVERY (10): four claims (the last finds nothing), nine
    # recordings of the sent rows, one failure.
    assert RECORD_EVERY == 10
    assert len(updates) == 4 + 9 + 1
    stored = rows(engine)
    assert Counter(r["status"] for r in stored) == {OutboxStatus.SENT: 89, OutboxStatus.FAILED: 1}
    assert all(r["lease_until"] is None and r["message_id"] for r in stored if r["status"] == "sent")
    assert {r["message_id"] for r in stored if r["message_id"]} == {str(m["Message-ID"]) for m in fake.sent}


def _durability(engine: Engine) -> str:
    with engine.connect() as conn:
        query = "SHOW synchronous_commit" if engine.dialect.name == "postgresql" else "PRAGMA synchronous"
        return str(conn.exec_driver_sql(query).scalar_one())


def test_the_dispatchers_quick_commits_stay_on_its_own_connection(engine: Engine, tmp_path: Path) -> None:
    before = _durability(engine)
    queue(engine, 3)
    assert dispatch(
        engine, make_settings(tmp_path, engine), clock=lambda: NOW, worker_id="a", transport=MemoryTransport()
    ) == DispatchResult(sent=3)
    assert _durability(engine) == before  # the pooled connection went back as it came


# ---------------------------------------------------------------- cancellation after the claim


def _cancel(engine: Engine, *indexes: int) -> None:
    # What tasks.remind.reminders does for a report or an exemption: unsent rows, claimed ones included.
    with engine.begin() as conn:
        conn.execute(
            update(OUTBOX)
            .where(
                C.dedupe_key.in_([f"launch:TQ-2024:{i}" for i in indexes]),
                C.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            )
            .values(status=OutboxStatus.CANCELLED)
        )


class CancellingTransport(MemoryTransport):
    """Cancels rows while a given message is on the wire (a report accepted at that moment)."""

    def __init__(self, engine: Engine, at: str, cancel: tuple[int, ...]) -> None:
        super().__init__()
        self.engine, self.at, self.cancel = engine, at, cancel

    def send_raw(self, message: RawMessage) -> None:
        if message.recipients[0] == self.at:
            _cancel(self.engine, *self.cancel)
        super().send_raw(message)


def _sent_to(fake: MemoryTransport) -> list[str]:
    return [m["To"].addresses[0].addr_spec.removesuffix("@thads.tuyenquang.gov.vn") for m in fake.sent]


def test_rows_cancelled_after_the_claim_are_not_sent(engine: Engine, tmp_path: Path) -> None:
    queue(engine, 30)
    # All 30 claimed in one batch; while the first is sent, two later rows are cancelled.
    fake = CancellingTransport(engine, "unit0@thads.tuyenquang.gov.vn", (14, 25))
    result = dispatch(
        engine,
        make_settings(tmp_path, engine),
        clock=lambda: NOW,
        worker_id="a",
        transport=fake,
        record_every=10,
    )
    assert result == DispatchResult(sent=28, skipped=2)
    assert "unit14" not in _sent_to(fake) and "unit25" not in _sent_to(fake) and len(fake.sent) == 28
    statuses = {r["dedupe_key"]: r["status"] for r in rows(engine)}
    assert statuses["launch:TQ-2024:14"] == statuses["launch:TQ-2024:25"] == OutboxStatus.CANCELLED
    assert Counter(statuses.values())[OutboxStatus.SENT] == 28


def test_with_a_send_rate_each_message_is_checked_right_before_it_leaves(
    engine: Engine, tmp_path: Path
) -> None:
    queue(engine, 4)
    settings = make_settings(tmp_path, engine, mail_rate_per_second=10)
    fake = CancellingTransport(engine, "unit1@thads.tuyenquang.gov.vn", (2,))  # the very next one
    result = dispatch(
        engine, settings, clock=lambda: NOW, worker_id="a", transport=fake, sleep=lambda _s: None
    )
    assert result == DispatchResult(sent=3, skipped=1)
    assert _sent_to(fake) == ["unit0", "unit1", "unit3"]


def test_a_row_cancelled_while_it_is_on_the_wire_is_recorded_as_sent(engine: Engine, tmp_path: Path) -> None:
    queue(engine, 3)
    fake = CancellingTransport(engine, "unit1@thads.tuyenquang.gov.vn", (1,))  # too late: it is leaving
    result = dispatch(
        engine, make_settings(tmp_path, engine), clock=lambda: NOW, worker_id="a", transport=fake
    )
    assert result == DispatchResult(sent=3)
    assert {r["status"] for r in rows(engine)} == {OutboxStatus.SENT}


# ---------------------------------------------------------------- a dispatcher killed mid-batch


def _dispatch_and_die(url: str, settings_json: str, die_after: int) -> None:
    """Child process: send `die_after` messages of a batch, then die at once (kill -9: no finally)."""
    import os

    from thidua.notifications.transports import SmtpTransport

    settings = Settings.model_validate_json(settings_json)

    class Dying(SmtpTransport):
        sent = 0

        def send_raw(self, message: RawMessage) -> None:
            if Dying.sent == die_after:
                os._exit(9)
            super().send_raw(message)
            Dying.sent += 1

    engine = make_engine(url)
    dispatch(engine, settings, clock=lambda: NOW, worker_id="dying", transport=Dying(settings))


@pytest.mark.parametrize("die_after", [5, 27])
def test_a_dispatcher_killed_mid_batch_is_taken_over_at_once_and_resends_at_most_a_group(
    engine: Engine, db_url: str, smtp_server: SmtpRecorder, tmp_path: Path, die_after: int
) -> None:
    # Issue 11 item 9: a kill -9 used to resend the whole batch (recorded at its end) after 15 minutes.
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 40)
    child = mp.get_context("spawn").Process(
        target=_dispatch_and_die, args=(db_url, settings.model_dump_json(), die_after)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert len(smtp_server.received) == die_after
    recorded = die_after // RECORD_EVERY * RECORD_EVERY
    with engine.connect() as conn:
        statuses = Counter(conn.scalars(select(C.status)))
    assert statuses == Counter({OutboxStatus.SENT: recorded, OutboxStatus.SENDING: 40 - recorded})

    # Its process is gone (same host): no wait for the lease.
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="b") == DispatchResult(sent=40 - recorded)
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(hours=1), worker_id="b") == DispatchResult()
    )
    counts = received_ids(smtp_server)
    assert len(counts) == 40
    # Those accepted but not recorded when it died went again, with their Message-ID (at most a group).
    again = sum(n - 1 for n in counts.values())
    assert again == die_after - recorded <= RECORD_EVERY
    assert {r["status"] for r in rows(engine)} == {OutboxStatus.SENT}
