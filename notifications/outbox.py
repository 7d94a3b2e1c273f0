"""The outbox: producers enqueue rows (deduplicated); a dispatcher claims due rows, sends, records results.

Enqueueing renders each email once (notifications.message.render_body: the RFC 5322 bytes without From, Date
and Message-ID) and stores the bytes in the row; the dispatcher puts those three headers in front and streams
the bytes over the transport. A row queued without them (before this existed, or whose attachment was not
there yet) is built at dispatch as before.

Claiming is one UPDATE ... RETURNING over a due subquery (on PostgreSQL with FOR UPDATE SKIP LOCKED), so two
dispatchers never hold the same row; the claim carries a lease, and a row whose lease has expired (its
dispatcher crashed) is due again. Sending happens outside any database transaction, through one transport
session and one database connection held for the run, each statement committing by itself. A batch's results
are recorded together when the batch is done (one UPDATE for the sent rows, guarded by the claim token, plus
one per failure); every CHECK_EVERY messages one query drops the rows no longer ours (cancelled, or taken over
after the lease). With a send rate, every message is checked just before it leaves and recorded just after.

Delivery is at least once: a crash after the server accepted messages and before their batch is recorded
sends those (at most one batch, `mail_batch_size`) again after the lease; the Message-ID is derived from the
row, so receivers can recognise the duplicate. A cancellation that commits before the check covering a row
keeps it from being sent; one that lands after it (at most CHECK_EVERY messages before the send, none with a
send rate) is too late, and the row is then recorded as sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import Engine, String, Table, and_, func, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from thidua.models.db import insert_ignore
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.settings import Settings
from thidua.models.text import nfc
from thidua.notifications.message import (
    EmailMessage,
    domain_of,
    envelope_prefix,
    message_id_line,
    render_body,
)
from thidua.notifications.transports import RawMessage, Transport, TransportError, parse_raw, transport_for

log = logging.getLogger(__name__)

OUTBOX = cast(Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
C = OUTBOX.c

# Minutes to wait after the n-th temporary failure (the last value repeats).
BACKOFF_MINUTES: tuple[int, ...] = (1, 5, 15, 60, 180, 360, 720, 1440)
DEFAULT_LEASE = timedelta(minutes=15)
DEFAULT_MAX_BATCHES = 100
# Multi-row VALUES stay well under SQLite's bound-parameter limit (32766) with 16 columns.
_INSERT_CHUNK = 500
# Attachments up to this size (in total) are rendered into the row; beyond it each claim and result would
# rewrite megabytes per message (and the table would hold every copy), so such a message is built at dispatch.
RENDER_ATTACHMENTS_UP_TO = 1024 * 1024
# Messages sent between two looks for rows cancelled after the claim: a cancellation is seen at most this
# many messages late. One query per this many messages instead of one per message.
CHECK_EVERY = 50


@dataclass(frozen=True)
class DispatchResult:
    """What one dispatch run did.

    `skipped`: claimed rows not sent or not recorded by this run: cancelled after the claim, or taken over
    by another dispatcher after the lease expired.
    """

    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0

    def __add__(self, other: DispatchResult) -> DispatchResult:
        return DispatchResult(
            self.sent + other.sent,
            self.failed + other.failed,
            self.retried + other.retried,
            self.skipped + other.skipped,
        )


def _aware_utc(moment: datetime) -> datetime:
    # The outbox columns are UTCDateTime (sqlmodel): they take aware values and store naive UTC themselves.
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required (the clock must carry its zone)")
    return moment.astimezone(UTC)


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` temporary failures (1, 5, 15, 60 minutes, ...)."""
    index = min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


# ---------------------------------------------------------------- enqueue


def _relative_attachment(path: Path | str, data_dir: Path | None) -> str:
    p = Path(path)
    if p.is_absolute():
        if data_dir is None:
            raise ValueError(f"tệp đính kèm {p} phải là đường dẫn tương đối trong thư mục dữ liệu")
        try:
            p = p.resolve().relative_to(Path(data_dir).resolve())
        except ValueError as exc:
            raise ValueError(f"tệp đính kèm {p} nằm ngoài thư mục dữ liệu {data_dir}") from exc
    if ".." in p.parts:
        raise ValueError(f"tệp đính kèm {p} không được trỏ ra ngoài thư mục dữ liệu")
    return p.as_posix()


def _row_values(
    *,
    dedupe_key: str,
    kind: str,
    recipient: str,
    recipient_name: str | None,
    subject: str,
    text: str,
    html: str | None,
    attachments: Iterable[Path | str],
    reply_to: str | None,
    cc: Iterable[str],
    campaign_id: int | None,
    created_at: datetime,
    data_dir: Path | None,
) -> dict[str, Any]:
    key = nfc(dedupe_key)
    if not key:
        raise ValueError("dedupe_key trống")
    values: dict[str, Any] = {
        "dedupe_key": key,
        "kind": kind,
        "recipient": nfc(recipient),
        "recipient_name": nfc(recipient_name) or None,
        "subject": nfc(subject),
        "body_text": nfc(text),
        "body_html": nfc(html) if html else None,
        "attachments_json": json.dumps(
            [_relative_attachment(a, data_dir) for a in attachments], ensure_ascii=False
        ),
        "reply_to": nfc(reply_to) or None,
        "cc_json": json.dumps([nfc(a) for a in cc if nfc(a)], ensure_ascii=False),
        "campaign_id": campaign_id,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": created_at,
        "next_attempt_at": None,
    }
    values["mime"] = _render(values, data_dir)
    return values


def _message(values: Mapping[str, Any] | RowMapping, data_dir: Path, message_id: str | None) -> EmailMessage:
    """The plain message of an outbox row (or of the values about to become one)."""
    attachments = tuple(data_dir / rel for rel in json.loads(values["attachments_json"] or "[]"))
    return EmailMessage(
        to=values["recipient"],
        to_name=values["recipient_name"],
        subject=values["subject"],
        text=values["body_text"],
        html=values["body_html"],
        attachments=attachments,
        reply_to=values["reply_to"],
        cc=tuple(json.loads(values["cc_json"] or "[]")),
        message_id=message_id,
        headers={"X-Thidua-Kind": values["kind"]},
    )


def _render(values: Mapping[str, Any], data_dir: Path | None) -> bytes | None:
    """The rendered message, or None when it is not rendered now; the dispatcher then builds it itself
    and records why it fails, if it still does (an attachment not written yet, an unwritable address)."""
    if data_dir is None and values["attachments_json"] != "[]":
        return None  # relative paths with no data dir to read them from
    try:
        message = _message(values, Path(data_dir or "."), None)
        if sum(path.stat().st_size for path in message.attachments) > RENDER_ATTACHMENTS_UP_TO:
            return None
        return render_body(message)
    except (OSError, ValueError, MessageError):
        return None


def _insert_ignoring_duplicates(session: Session, values: list[dict[str, Any]]) -> int:
    inserted = 0
    for start in range(0, len(values), _INSERT_CHUNK):
        chunk = values[start : start + _INSERT_CHUNK]
        inserted += len(insert_ignore(session, OUTBOX, chunk, ["dedupe_key"], returning=C.id))
    return inserted


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    recipient: str,
    recipient_name: str | None = None,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Path | str] = (),
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    campaign_id: int | None = None,
    now: datetime,
    data_dir: Path | None = None,
) -> bool:
    """Queue one email; False when an email with this dedupe_key was already queued (nothing changes).

    Attachments are stored relative to the data dir: pass relative paths, or absolute ones with `data_dir`.
    The message is rendered here and stored with the row (attachments included, read from `data_dir`;
    without it a message with attachments is built at dispatch instead). The caller owns the transaction
    (this only executes one INSERT ... ON CONFLICT DO NOTHING).
    """
    values = _row_values(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=recipient,
        recipient_name=recipient_name,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        reply_to=reply_to,
        cc=cc,
        campaign_id=campaign_id,
        created_at=_aware_utc(now),
        data_dir=data_dir,
    )
    return _insert_ignoring_duplicates(session, [values]) == 1


_ROW_KEYS = {
    "dedupe_key",
    "kind",
    "recipient",
    "recipient_name",
    "subject",
    "text",
    "html",
    "attachments",
    "reply_to",
    "cc",
    "campaign_id",
}


def queued_keys(target: Session | Connection, keys: list[str]) -> set[str]:
    """Which of these dedupe keys are already in the outbox, whatever their status."""
    found: set[str] = set()
    for start in range(0, len(keys), _INSERT_CHUNK):
        chunk = keys[start : start + _INSERT_CHUNK]
        found.update(target.scalars(select(C.dedupe_key).where(C.dedupe_key.in_(chunk))))
    return found


# Not sent yet: waiting, or claimed by a dispatcher that has not sent it (it checks before sending).
UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def unsent(session: Session, campaign_id: int, kinds: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, kind, dedupe key) of a campaign's messages of these kinds that have not gone out."""
    rows = session.execute(
        select(C.id, C.kind, C.dedupe_key).where(
            C.campaign_id == campaign_id, C.kind.in_(list(kinds)), C.status.in_(UNSENT)
        )
    ).tuples()
    return [(int(i), str(k), str(d)) for i, k, d in rows]


def cancel_unsent(
    session: Session,
    campaign_id: int,
    *,
    kind: str | None = None,
    key_prefix: str | None = None,
    ids: Sequence[int] | None = None,
) -> int:
    """Mark a campaign's unsent messages CANCELLED (by kind and dedupe-key prefix, or by id); the count.

    Claimed rows too: a dispatcher looks at each row again right before it sends it.
    """
    query = update(OUTBOX).where(C.campaign_id == campaign_id, C.status.in_(UNSENT))
    if kind is not None:
        query = query.where(C.kind == kind)
    if key_prefix is not None:
        query = query.where(C.dedupe_key.startswith(key_prefix, autoescape=True))
    if ids is not None:
        query = query.where(C.id.in_(list(ids)))
    result = session.execute(query.values(status=OutboxStatus.CANCELLED, next_attempt_at=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def enqueue_many(
    session: Session, rows: list[dict[str, Any]], now: datetime, *, data_dir: Path | None = None
) -> int:
    """Queue many emails in one statement (per 500 rows); returns how many were new.

    Each row has the keyword arguments of `enqueue` (dedupe_key, kind, recipient, subject, text, and
    optionally recipient_name, html, attachments, reply_to, cc, campaign_id). Each new email is rendered
    here, once; pass `data_dir` when rows have attachments, or they are built at dispatch instead.
    """
    created_at = _aware_utc(now)
    for row in rows:
        unknown = set(row) - _ROW_KEYS
        if unknown:
            raise ValueError(f"unknown outbox fields: {sorted(unknown)}")
    # Rendering costs milliseconds a message: none for emails already queued (a re-run queues nothing).
    # INSERT ... ON CONFLICT below still settles a race with another producer.
    queued = queued_keys(session, [nfc(row["dedupe_key"]) for row in rows])
    values = []
    for row in rows:
        if nfc(row["dedupe_key"]) in queued:
            continue
        values.append(
            _row_values(
                dedupe_key=row["dedupe_key"],
                kind=row["kind"],
                recipient=row["recipient"],
                recipient_name=row.get("recipient_name"),
                subject=row["subject"],
                text=row["text"],
                html=row.get("html"),
                attachments=row.get("attachments") or (),
                reply_to=row.get("reply_to"),
                cc=row.get("cc") or (),
                campaign_id=row.get("campaign_id"),
                created_at=created_at,
                data_dir=data_dir,
            )
        )
    if not values:
        return 0
    return _insert_ignoring_duplicates(session, values)


# ---------------------------------------------------------------- dispatch


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            C.status == OutboxStatus.PENDING,
            or_(C.next_attempt_at.is_(None), C.next_attempt_at <= now),
        ),
        # A claim whose lease ran out: its dispatcher died between claim and record.
        and_(C.status == OutboxStatus.SENDING, C.lease_until <= now),
    )


# What sending a row needs when its message was rendered at enqueue (the rest stays in the table).
_CLAIM_COLUMNS = [C.id, C.dedupe_key, C.recipient, C.cc_json, C.attempts, C.message_id, C.mime]


def _claim_in(
    conn: Connection, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta
) -> tuple[str, list[RowMapping]]:
    """Claim due rows inside the caller's transaction: one UPDATE ... RETURNING."""
    token = f"{worker_id[:80]}:{uuid4().hex[:12]}"
    # No ORDER BY: sorting every due row to keep the first ones made each claim cost as much as the whole
    # queue (the rows come in index or table order anyway, oldest first in practice).
    due = select(C.id).where(_due(now)).limit(batch_size)
    target: list[ColumnElement[bool]] = [C.id.in_(due)]
    if conn.dialect.name == "postgresql":
        # Rows another dispatcher is claiming right now are skipped, not waited for. MATERIALIZED: as a
        # plain IN (subquery) the planner may run the subquery again per row and claim past the LIMIT. The
        # due condition again on the row as locked: a row claimed meanwhile is not ours.
        locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        target = [C.id.in_(select(locked.c.id)), _due(now)]
    # SQLite has one writer at a time: the subquery and the UPDATE run under the same write lock (and a
    # second due condition here would make SQLite scan the status index instead of the primary key).
    rows = list(
        conn.execute(
            update(OUTBOX)
            .where(*target)
            .values(status=OutboxStatus.SENDING, lease_until=now + lease, claimed_by=token)
            .returning(*_CLAIM_COLUMNS)
        ).mappings()
    )
    unrendered = [int(r["id"]) for r in rows if r["mime"] is None]
    if unrendered:
        # Queued without a rendering: the dispatcher builds these from the bodies.
        full = {int(r["id"]): r for r in conn.execute(select(OUTBOX).where(C.id.in_(unrendered))).mappings()}
        rows = [full.get(int(r["id"]), r) for r in rows]
    return token, sorted(rows, key=lambda r: int(r["id"]))


def _claim(
    conn: Connection, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta
) -> tuple[str, list[RowMapping]]:
    with conn.begin():
        return _claim_in(conn, now=now, worker_id=worker_id, batch_size=batch_size, lease=lease)


def claim(
    engine: Engine, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta = DEFAULT_LEASE
) -> tuple[str, list[RowMapping]]:
    """Claim up to batch_size due rows for this worker; returns (claim token, claimed rows by id)."""
    with engine.connect() as conn:
        return _claim(conn, now=_aware_utc(now), worker_id=worker_id, batch_size=batch_size, lease=lease)


def _digest16(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]


def message_id_for(row: RowMapping, from_addr: str) -> str:
    """Stable across retries: a receiver (and our tests) can recognise a duplicate delivery.

    The row id in it leads back to the row; `_message_id_sql` computes the same value in SQL.
    """
    return f"<thidua.{row['id']}.{_digest16(str(row['dedupe_key']))}@{domain_of(from_addr)}>"


def _message_id_sql(conn: Connection, from_addr: str) -> ColumnElement[str]:
    """`message_id_for` as an SQL expression, so a chunk's sent rows are recorded by one short statement."""
    if conn.dialect.name == "postgresql":
        digest: ColumnElement[str] = func.substr(
            func.encode(func.sha256(func.convert_to(C.dedupe_key, literal("UTF8"))), literal("hex")), 1, 16
        )
    else:
        # SQLite has no hash function: this connection gets ours (the same Python function).
        conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
            "thidua_digest16", 1, _digest16, deterministic=True
        )
        digest = func.thidua_digest16(C.dedupe_key, type_=String)
    return (
        literal("<thidua.")
        + sql_cast(C.id, String)
        + literal(".")
        + digest
        + literal(f"@{domain_of(from_addr)}>")
    )


def message_from_row(row: RowMapping, data_dir: Path, from_addr: str) -> EmailMessage:
    """The plain message of a row, attachments resolved in `data_dir`, with the row's Message-ID."""
    return _message(row, data_dir, row["message_id"] or message_id_for(row, from_addr))


@dataclass(frozen=True)
class _Outcome:
    """What one claimed row came to: "sent", "failed", "retried" (with the columns to write) or "skipped"
    (no longer ours when its chunk started: not sent)."""

    row_id: int
    kind: str
    values: dict[str, Any]


@dataclass(frozen=True)
class _Run:
    """What every send of one dispatch run shares."""

    settings: Settings
    transport: Transport
    send_raw: Callable[[RawMessage], None] | None
    now: datetime  # UTC
    local_now: datetime
    prefix: bytes  # From and Date


def _failure(row: RowMapping, now: datetime, reason: str, *, permanent: bool, max_attempts: int) -> _Outcome:
    attempts = int(row["attempts"]) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": reason[:2000]}
    if permanent or attempts >= max_attempts:
        values.update(status=OutboxStatus.FAILED, next_attempt_at=None)
        return _Outcome(int(row["id"]), "failed", values)
    values.update(status=OutboxStatus.PENDING, next_attempt_at=now + backoff(attempts))
    return _Outcome(int(row["id"]), "retried", values)


def _deliver(run: _Run, row: RowMapping) -> _Outcome:
    """Send one claimed row (the stored bytes, or the message built now for a row queued without them)."""
    settings = run.settings
    max_attempts = settings.mail_max_attempts
    message_id = row["message_id"] or message_id_for(row, settings.mail_from)
    try:
        body = row["mime"]
        if body is None:
            body = render_body(_message(row, settings.data_dir, None))
    except FileNotFoundError as exc:
        reason = f"Không tìm thấy tệp đính kèm: {exc.filename}"
        return _failure(row, run.now, reason, permanent=True, max_attempts=max_attempts)
    except (ValueError, MessageError) as exc:
        return _failure(row, run.now, str(exc), permanent=True, max_attempts=max_attempts)
    except OSError as exc:  # an attachment that cannot be read right now (permissions, I/O): later
        return _failure(
            row, run.now, f"Không đọc được tệp đính kèm: {exc}", permanent=False, max_attempts=max_attempts
        )
    cc_json = row["cc_json"]
    recipients = (row["recipient"], *(json.loads(cc_json) if cc_json and cc_json != "[]" else ()))
    raw = RawMessage(
        data=b"".join((run.prefix, message_id_line(message_id), bytes(body))),
        recipients=recipients,
        message_id=message_id,
        date=run.local_now,
    )
    try:
        if run.send_raw is not None:
            run.send_raw(raw)
        else:
            run.transport.send(parse_raw(raw))
    except TransportError as exc:
        log.warning("outbox #%s to %s: %s", row["id"], row["recipient"], exc.reason)
        return _failure(row, run.now, exc.reason, permanent=exc.permanent, max_attempts=max_attempts)
    except Exception as exc:
        # The loop edge: one unexpected error must not strand the rest of the batch; retried, then failed.
        log.exception("outbox #%s: unexpected error while sending", row["id"])
        return _failure(row, run.now, repr(exc), permanent=False, max_attempts=max_attempts)
    return _Outcome(int(row["id"]), "sent", {"message_id": message_id})


def _record(
    conn: Connection, token: str, now: datetime, outcomes: list[_Outcome], message_id: ColumnElement[str]
) -> DispatchResult:
    """Write a chunk's results (the caller's transaction): one statement for the sent rows, one per failure.

    Only rows still claimed by `token` are written. A chunk is a run of consecutive claimed ids, so the sent
    rows are addressed by their id range minus the chunk's other rows (few or none). A sent row is recorded
    as sent even if it was cancelled meanwhile: it did leave.
    """
    result = DispatchResult()
    for outcome in outcomes:
        if outcome.kind in ("sent", "skipped"):
            continue
        done = conn.execute(
            update(OUTBOX)
            .where(C.id == outcome.row_id, C.claimed_by == token, C.status == OutboxStatus.SENDING)
            .values(lease_until=None, **outcome.values)
        ).rowcount
        if done != 1:
            result += DispatchResult(skipped=1)
        elif outcome.kind == "failed":
            result += DispatchResult(failed=1)
        else:
            result += DispatchResult(retried=1)
    sent = [o.row_id for o in outcomes if o.kind == "sent"]
    if sent:
        low, high = min(sent), max(sent)
        others = [o.row_id for o in outcomes if o.kind != "sent" and low < o.row_id < high]
        where = [
            C.id.between(low, high),
            C.claimed_by == token,
            C.status.in_([OutboxStatus.SENDING, OutboxStatus.CANCELLED]),
        ]
        if others:
            where.append(C.id.not_in(others))
        recorded = conn.execute(
            update(OUTBOX)
            .where(*where)
            .values(
                status=OutboxStatus.SENT,
                sent_at=now,
                last_error=None,
                lease_until=None,
                message_id=func.coalesce(C.message_id, message_id),
            )
        ).rowcount
        result += DispatchResult(sent=recorded, skipped=len(sent) - recorded)
    return result


def _still_claimed(conn: Connection, token: str, ids: list[int]) -> set[int]:
    """The rows of `ids` (consecutive claimed ids) that are still ours: not cancelled, not taken over."""
    return set(
        conn.scalars(
            select(C.id).where(
                C.id.between(min(ids), max(ids)), C.claimed_by == token, C.status == OutboxStatus.SENDING
            )
        )
    ) & set(ids)


def dispatch(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    worker_id: str,
    batch_size: int | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_batches: int = DEFAULT_MAX_BATCHES,
    lease: timedelta = DEFAULT_LEASE,
    check_every: int = CHECK_EVERY,
) -> DispatchResult:
    """Send every due outbox row (batch after batch, up to max_batches) through one transport session.

    Temporary failures go back to pending with a backoff; permanent ones (and exhausted attempts) become
    failed. When the transport cannot be opened at all (server down), the claimed batch goes back to pending
    and the run stops: nothing is lost, the next run retries after the backoff.

    One connection is held for the run, each statement committing by itself: a batch is claimed by one
    statement, its results are recorded by one more (plus one per failure), and every `check_every`
    messages one query drops the rows no longer ours (cancelled, or taken over after the lease). With a send
    rate, each message is checked right before it leaves (after the pause) and recorded right after.
    """
    now_utc = _aware_utc(now)
    size = batch_size or settings.mail_batch_size
    interval = 1.0 / settings.mail_rate_per_second if settings.mail_rate_per_second > 0 else 0.0
    step = 1 if interval else max(1, check_every)
    result = DispatchResult()

    def claim_next(conn: Connection) -> tuple[str, list[RowMapping]]:
        return _claim_in(conn, now=now_utc, worker_id=worker_id, batch_size=size, lease=lease)

    with engine.connect() as conn:
        # Every statement below stands alone (a claim, a batch's results, a check), so each commits by
        # itself: no BEGIN/COMMIT round trips between the sends.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        token, rows = claim_next(conn)
        if not rows:
            return result
        message_id = _message_id_sql(conn, settings.mail_from)
        session = transport if transport is not None else transport_for(settings)
        try:
            session.open()
        except TransportError as exc:
            log.warning(
                "outbox: cannot open transport (%s); %d message(s) back to pending", exc.reason, len(rows)
            )
            # Even a permanent open error (bad credentials) is a property of the server, not of the message.
            back = [
                _failure(row, now_utc, exc.reason, permanent=False, max_attempts=settings.mail_max_attempts)
                for row in rows
            ]
            return _record(conn, token, now_utc, back, message_id)

        local_now = now_utc.astimezone(settings.tz)
        run = _Run(
            settings=settings,
            transport=session,
            send_raw=getattr(session, "send_raw", None),
            now=now_utc,
            local_now=local_now,
            prefix=envelope_prefix(settings.mail_from, settings.mail_from_name, now=local_now),
        )
        done: list[_Outcome] = []
        first = True
        claims = 1
        try:
            while rows:
                for start in range(0, len(rows), step):
                    part = rows[start : start + step]
                    if interval and not first:
                        sleep(interval)
                    if interval and done:
                        result += _record(conn, token, now_utc, done, message_id)
                        done = []
                    # The batch's first rows were claimed a moment ago (unless a pause came between).
                    live = None if not (start or interval) else _still_claimed(conn, token, _ids(part))
                    for row in part:
                        if live is not None and row["id"] not in live:
                            result += DispatchResult(skipped=1)
                            done.append(_Outcome(int(row["id"]), "skipped", {}))
                            continue
                        first = False
                        done.append(_deliver(run, row))
                result += _record(conn, token, now_utc, done, message_id)
                done = []
                if claims >= max_batches:
                    break
                token, rows = claim_next(conn)
                claims += 1
        finally:
            session.close()
            if done:
                # Interrupted: record what did leave, or the lease sends it again.
                try:
                    _record(conn, token, now_utc, done, message_id)
                except Exception:
                    log.exception("outbox: could not record %d result(s) after an error", len(done))
    log.info("outbox dispatch by %s: %s", worker_id, result)
    return result


def _ids(rows: list[RowMapping]) -> list[int]:
    return [int(r["id"]) for r in rows]
