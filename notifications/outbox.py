"""The outbox: producers enqueue rows (deduplicated); a dispatcher claims due rows, sends, records results.

Enqueueing renders each email once (notifications.message.render_body: the RFC 5322 bytes without From, Date
and Message-ID) and stores the bytes in the row; the dispatcher puts those three headers in front and streams
the bytes over the transport. A row queued without them (before this existed, or whose attachment was not
there yet) is built at dispatch as before.

Time: leases, backoffs, retry times, sent_at and the Date header run on the machinery's clock (the real one,
injected as `clock`); a campaign's `--as-of` never reaches them, so a command run "as of" a past day beside a
running service cannot make the service's claims look expired.

Claiming is one UPDATE ... RETURNING over a due subquery (on PostgreSQL with FOR UPDATE SKIP LOCKED), so two
dispatchers never hold the same row; the claim carries a lease and names its holder (worker@host#pid). A row
whose lease has expired is due again; so is, at once, a row claimed by a process on this host that no longer
runs (`thidua outbox release` frees the others). Sending happens outside any database transaction, through
one transport session and one database connection held for the run, each statement committing by itself.
Messages go in groups of RECORD_EVERY (one with a send rate): right before a group, the last group's sent
rows are recorded and the group's rows no longer ours (cancelled, or taken over) are dropped (one round trip
on PostgreSQL, two statements on SQLite; plus one per other result). A batch that takes long (a slow
server, a send rate) renews its lease as it goes.

Delivery is at least once: a crash after the server accepted messages and before their group is recorded
sends those (at most RECORD_EVERY) again; the Message-ID is derived from the row, so receivers can recognise
the duplicate. A cancellation that commits before the check covering a row keeps it from being sent; one
that lands after it (at most RECORD_EVERY - 1 messages before the send, none with a send rate) is too late,
and the row is then recorded as sent.

Only the server's answer to a message costs it an attempt. A server that cannot be reached, or answers 421,
stops the run and leaves every claimed message pending as it was (the result's `unreachable` says why).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import (
    CompoundSelect,
    Engine,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from thidua.models.db import insert_ignore
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.settings import Settings
from thidua.models.storage import InvalidKey, LocalStorage, Storage, check_key, storage_for
from thidua.models.text import nfc
from thidua.notifications.claims import holder_label, holder_of, holder_state
from thidua.notifications.message import (
    Attachment,
    EmailMessage,
    assemble,
    domain_of,
    envelope_prefix,
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
# Messages per group: sent ones are recorded after each group, so a dispatcher killed mid-batch has at most
# this many accepted and not recorded (sent again, same Message-ID); a cancellation is seen at most this many
# messages late. One round trip per group instead of two per message (bench/bench_dispatch.py).
RECORD_EVERY = 10


@dataclass(frozen=True)
class DispatchResult:
    """What one dispatch run did.

    `skipped`: claimed rows not sent by this run: cancelled after the claim, or taken over by another
    dispatcher. `waiting`: claimed rows given back to pending without an attempt charged (the server could
    not be reached, or the session died on them). `unreachable`: why the server could not be reached (the
    run stopped there), None when it could.
    """

    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    waiting: int = 0
    unreachable: str | None = None

    def __add__(self, other: DispatchResult) -> DispatchResult:
        return DispatchResult(
            self.sent + other.sent,
            self.failed + other.failed,
            self.retried + other.retried,
            self.skipped + other.skipped,
            self.waiting + other.waiting,
            other.unreachable or self.unreachable,
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
    """The storage key of an attachment: a key as it is, or a local path inside the data dir made relative
    to it (old callers and tests pass paths)."""
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
    try:
        return check_key(p.as_posix())
    except InvalidKey as exc:
        raise ValueError(f"tệp đính kèm {p}: {exc}") from exc


def _storage_of(storage: Storage | None, data_dir: Path | None) -> Storage | None:
    if storage is not None:
        return storage
    return LocalStorage(data_dir) if data_dir is not None else None


def _local_base(storage: Storage | None, data_dir: Path | None) -> Path | None:
    # Absolute attachment paths are accepted inside the local data dir only.
    if data_dir is not None:
        return data_dir
    return storage.base if isinstance(storage, LocalStorage) else None


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
    storage: Storage | None = None,
    reads: _Reads | None = None,
    headers: Mapping[str, str] | None = None,
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
            [_relative_attachment(a, _local_base(storage, data_dir)) for a in attachments], ensure_ascii=False
        ),
        "reply_to": nfc(reply_to) or None,
        "cc_json": json.dumps([nfc(a) for a in cc if nfc(a)], ensure_ascii=False),
        "campaign_id": campaign_id,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": created_at,
        "next_attempt_at": None,
        "headers_json": json.dumps({k: nfc(v) for k, v in headers.items()}, ensure_ascii=False)
        if headers
        else None,
    }
    base = _storage_of(storage, data_dir)
    values["mime"] = _render(values, reads or (_Reads(base) if base is not None else None))
    return values


def row_message(
    values: Mapping[str, Any] | RowMapping, storage: Storage | Callable[[str], bytes], message_id: str | None
) -> EmailMessage:
    """The plain message of an outbox row (or of the values about to become one), its attachments read
    from the storage by key (FileNotFoundError naming the key when one is not there)."""
    read = storage.get if isinstance(storage, Storage) else storage
    keys: list[str] = json.loads(values["attachments_json"] or "[]")
    attachments = tuple(Attachment(rel.rsplit("/", 1)[-1], read(rel)) for rel in keys)
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
        headers={"X-Thidua-Kind": values["kind"], **json.loads(values.get("headers_json") or "{}")},
    )


class _Reads:
    """Attachments as one enqueue call reads them: each key's size and bytes once (a closing report goes to
    hundreds of units, and a bucket answers each read over the network); the bytes kept only up to
    RENDER_ATTACHMENTS_UP_TO in all, as no message with more is rendered here."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.sizes: dict[str, int] = {}
        self.data: dict[str, bytes] = {}

    def size(self, k: str) -> int:
        if k not in self.sizes:
            self.sizes[k] = self.storage.size(k)
        return self.sizes[k]

    def get(self, k: str) -> bytes:
        if k not in self.data:
            if sum(map(len, self.data.values())) > RENDER_ATTACHMENTS_UP_TO:
                self.data.clear()
            self.data[k] = self.storage.get(k)
        return self.data[k]


def _nothing_to_read(k: str) -> bytes:
    raise FileNotFoundError(k)  # never called: a message without storage has no attachment keys


def _render(values: Mapping[str, Any], reads: _Reads | None) -> bytes | None:
    """The rendered message, or None when it is not rendered now; the dispatcher then builds it itself
    and records why it fails, if it still does (an attachment not written yet, an unwritable address)."""
    keys = json.loads(values["attachments_json"] or "[]")
    if reads is None and keys:
        return None  # keys with no storage to read them from
    try:
        if reads is not None and sum(reads.size(k) for k in keys) > RENDER_ATTACHMENTS_UP_TO:
            return None
        return render_body(row_message(values, reads.get if reads is not None else _nothing_to_read, None))
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
    storage: Storage | None = None,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Queue one email; False when an email with this dedupe_key was already queued (nothing changes).

    `headers`: extra header lines (a reply's In-Reply-To and References), kept with the row.

    Attachments are stored as storage keys (models/storage.py): pass keys, or absolute paths inside
    `data_dir`. The message is rendered here and stored with the row (attachments included, read from
    `storage`, or the local `data_dir`; without either a message with attachments is built at dispatch).
    The caller owns the transaction (this only executes one INSERT ... ON CONFLICT DO NOTHING).
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
        storage=storage,
        headers=headers,
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
    session: Session,
    rows: list[dict[str, Any]],
    now: datetime,
    *,
    data_dir: Path | None = None,
    storage: Storage | None = None,
) -> int:
    """Queue many emails in one statement (per 500 rows); returns how many were new.

    Each row has the keyword arguments of `enqueue` (dedupe_key, kind, recipient, subject, text, and
    optionally recipient_name, html, attachments, reply_to, cc, campaign_id). Each new email is rendered
    here, once; pass `storage` (or a local `data_dir`) when rows have attachments, or they are built at
    dispatch instead.
    """
    created_at = _aware_utc(now)
    for row in rows:
        unknown = set(row) - _ROW_KEYS
        if unknown:
            raise ValueError(f"unknown outbox fields: {sorted(unknown)}")
    # Rendering costs milliseconds a message: none for emails already queued (a re-run queues nothing).
    # INSERT ... ON CONFLICT below still settles a race with another producer.
    queued = queued_keys(session, [nfc(row["dedupe_key"]) for row in rows])
    base = _storage_of(storage, data_dir)
    reads = _Reads(base) if base is not None else None  # each attachment read once for all the rows
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
                storage=storage,
                reads=reads,
            )
        )
    if not values:
        return 0
    return _insert_ignoring_duplicates(session, values)


# ---------------------------------------------------------------- who holds a claim

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The machinery's clock (leases, backoffs, retry times, sent_at, the Date header): the real one."""
    return datetime.now(UTC)


# ---------------------------------------------------------------- dispatch


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            C.status == OutboxStatus.PENDING,
            or_(C.next_attempt_at.is_(None), C.next_attempt_at <= now),
        ),
        # A claim whose lease ran out: its dispatcher died between claim and record (on another host).
        and_(C.status == OutboxStatus.SENDING, C.lease_until <= now),
    )


# What sending a row needs when its message was rendered at enqueue (the rest stays in the table).
_CLAIM_COLUMNS = [C.id, C.dedupe_key, C.recipient, C.cc_json, C.attempts, C.message_id, C.mime]


def _claim_in(
    conn: Connection, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta
) -> tuple[str, list[RowMapping]]:
    """Claim due rows inside the caller's transaction: one UPDATE ... RETURNING."""
    token = f"{holder_of(worker_id)}:{uuid4().hex[:12]}"
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


def claim(
    engine: Engine, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta = DEFAULT_LEASE
) -> tuple[str, list[RowMapping]]:
    """Claim up to batch_size rows due at `now` (the real clock's time); returns (token, claimed rows)."""
    with engine.connect() as conn, conn.begin():
        return _claim_in(conn, now=_aware_utc(now), worker_id=worker_id, batch_size=batch_size, lease=lease)


def _digest16(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]


def message_id_for(row: RowMapping, from_addr: str) -> str:
    """Stable across retries: a receiver (and our tests) can recognise a duplicate delivery.

    The row id in it leads back to the row; `_message_id_sql` computes the same value in SQL.
    """
    return f"<thidua.{row['id']}.{_digest16(str(row['dedupe_key']))}@{domain_of(from_addr)}>"


def _message_id_sql(conn: Connection, from_addr: str) -> ColumnElement[str]:
    """`message_id_for` as an SQL expression, so a group's sent rows are recorded by one short statement."""
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


@dataclass(frozen=True)
class _Outcome:
    """What one claimed row came to: "sent", "failed", "retried" (with the columns to write), "skipped"
    (no longer ours: not sent), "waiting" (the session died on it: back to pending, no attempt charged) or
    "unreachable" (the server cannot be reached: nothing more is sent now)."""

    row_id: int
    kind: str
    values: dict[str, Any]


def _failure(row: RowMapping, now: datetime, reason: str, *, permanent: bool, max_attempts: int) -> _Outcome:
    attempts = int(row["attempts"]) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": reason[:2000]}
    if permanent or attempts >= max_attempts:
        values.update(status=OutboxStatus.FAILED, next_attempt_at=None)
        return _Outcome(int(row["id"]), "failed", values)
    values.update(status=OutboxStatus.PENDING, next_attempt_at=now + backoff(attempts))
    return _Outcome(int(row["id"]), "retried", values)


def _not_charged(row: RowMapping, now: datetime, error: TransportError) -> _Outcome:
    if error.scope == "server":
        return _Outcome(int(row["id"]), "unreachable", {"last_error": error.reason[:2000]})
    # The session died on this message although the server took a fresh connection: it waits a little
    # (others go first) and is not charged, as no answer about it came.
    values = {
        "status": OutboxStatus.PENDING,
        "last_error": error.reason[:2000],
        "next_attempt_at": now + backoff(1),
    }
    return _Outcome(int(row["id"]), "waiting", values)


@dataclass(frozen=True)
class _GroupStatements:
    """What runs between two groups, built once per run (building a statement costs SQLAlchemy several
    times what running it costs the database): `sent` records the last group's sent rows (parameters low,
    high, token, at), `live` finds the next group's rows still ours (next_low, next_high, token) and, on
    PostgreSQL, `both` does the two in one round trip (rows: id, whether it was just recorded)."""

    sent: Update
    live: Select[Any]
    both: CompoundSelect | None

    @classmethod
    def build(cls, conn: Connection, message_id: ColumnElement[str]) -> _GroupStatements:
        token = C.claimed_by == bindparam("token")
        sent = (
            update(OUTBOX)
            .where(
                C.id.between(bindparam("low"), bindparam("high")),
                token,
                C.status.in_([OutboxStatus.SENDING, OutboxStatus.CANCELLED]),
            )
            .values(
                status=OutboxStatus.SENT,
                sent_at=bindparam("at"),
                last_error=None,
                lease_until=None,
                message_id=func.coalesce(C.message_id, message_id),
            )
        )
        ours = [C.id.between(bindparam("next_low"), bindparam("next_high")), token]
        live = select(C.id).where(*ours, C.status == OutboxStatus.SENDING)
        both = None
        if conn.dialect.name == "postgresql":
            recorded = sent.returning(C.id).cte("recorded")
            both = union_all(
                select(recorded.c.id, true().label("sent")),
                select(C.id, false()).where(*ours, C.status == OutboxStatus.SENDING),
            )
        return cls(sent, live, both)


@dataclass
class _Run:
    """One dispatch run: the held connection, the open transport and what every send shares."""

    conn: Connection
    settings: Settings
    transport: Transport
    clock: Clock
    lease: timedelta
    step: int  # messages per group: checked right before, recorded right after
    interval: float  # seconds between two messages; 0 without a send rate
    sleep: Callable[[float], None]
    statements: _GroupStatements
    send_raw: Callable[[RawMessage], None] | None
    prefix: bytes = b""  # From and Date
    local_now: datetime = datetime.min  # the Date header's moment
    stamped_at: datetime = datetime.min
    paced: bool = False  # a message has gone: the next one waits `interval`
    renew_at: datetime = datetime.min  # when the batch's lease is renewed (set per batch)
    # Attachments read once per run for the rows built here (a bucket answers each read over the network;
    # a closing report goes to hundreds of units). Only rows without stored bytes come here.
    attachments: dict[str, bytes] = field(default_factory=dict)

    def read_attachment(self, k: str) -> bytes:
        if k not in self.attachments:
            if sum(map(len, self.attachments.values())) > RENDER_ATTACHMENTS_UP_TO:
                self.attachments.clear()
            self.attachments[k] = storage_for(self.settings).get(k)
        return self.attachments[k]

    def now(self) -> datetime:
        return _aware_utc(self.clock())

    def stamp(self) -> None:
        """From and Date for the next batch: the Date moves on once a minute (formatting the header costs
        more than a batch's bookkeeping)."""
        now = self.now()
        if self.prefix and now - self.stamped_at < timedelta(minutes=1):
            return
        self.stamped_at, self.local_now = now, now.astimezone(self.settings.tz)
        self.prefix = envelope_prefix(
            self.settings.mail_from, self.settings.mail_from_name, now=self.local_now
        )


def _deliver(run: _Run, row: RowMapping) -> _Outcome:
    """Send one claimed row (the stored bytes, or the message built now for a row queued without them)."""
    settings = run.settings
    max_attempts = settings.mail_max_attempts
    message_id = row["message_id"] or message_id_for(row, settings.mail_from)
    try:
        body = row["mime"]
        if body is None:
            body = render_body(row_message(row, run.read_attachment, None))
    except FileNotFoundError as exc:
        reason = f"Không tìm thấy tệp đính kèm: {exc.filename}"
        return _failure(row, run.now(), reason, permanent=True, max_attempts=max_attempts)
    except (ValueError, MessageError) as exc:
        return _failure(row, run.now(), str(exc), permanent=True, max_attempts=max_attempts)
    except OSError as exc:  # an attachment that cannot be read right now (permissions, I/O): later
        reason = f"Không đọc được tệp đính kèm: {exc}"
        return _failure(row, run.now(), reason, permanent=False, max_attempts=max_attempts)
    cc_json = row["cc_json"]
    recipients = (row["recipient"], *(json.loads(cc_json) if cc_json and cc_json != "[]" else ()))
    raw = RawMessage(
        data=assemble(run.prefix, message_id, bytes(body)),
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
        if exc.scope != "message":
            return _not_charged(row, run.now(), exc)
        return _failure(row, run.now(), exc.reason, permanent=exc.permanent, max_attempts=max_attempts)
    except Exception as exc:
        # The loop edge: one unexpected error must not strand the rest of the batch; retried, then failed.
        log.exception("outbox #%s: unexpected error while sending", row["id"])
        return _failure(row, run.now(), repr(exc), permanent=False, max_attempts=max_attempts)
    return _Outcome(int(row["id"]), "sent", {"message_id": message_id})


_ONE = {
    "failed": DispatchResult(failed=1),
    "retried": DispatchResult(retried=1),
    "waiting": DispatchResult(waiting=1),
}


def _record_others(run: _Run, token: str, outcomes: list[_Outcome]) -> DispatchResult:
    """Write a group's results other than "sent": one statement each (they are few), for rows still ours."""
    result = DispatchResult(skipped=sum(o.kind == "skipped" for o in outcomes))
    for outcome in outcomes:
        if outcome.kind not in _ONE:
            continue
        done = run.conn.execute(
            update(OUTBOX)
            .where(C.id == outcome.row_id, C.claimed_by == token, C.status == OutboxStatus.SENDING)
            .values(lease_until=None, **outcome.values)
        ).rowcount
        result += _ONE[outcome.kind] if done == 1 else DispatchResult(skipped=1)
    return result


def _renew_if_due(run: _Run, token: str) -> None:
    """Once a third of the lease has gone by (a slow server, a send rate), the batch's lease is renewed,
    so that no other dispatcher takes a row this one is still working through."""
    now = run.now()
    if now >= run.renew_at:
        run.conn.execute(
            update(OUTBOX)
            .where(C.claimed_by == token, C.status == OutboxStatus.SENDING)
            .values(lease_until=now + run.lease)
        )
        run.renew_at = now + run.lease / 3


def _settle(
    run: _Run, token: str, done: list[_Outcome], part: list[RowMapping]
) -> tuple[set[int], DispatchResult]:
    """Record the last group's results (`done`) and find which rows of the next group (`part`) are still
    ours: not cancelled after the claim, not taken over.

    Groups are runs of consecutive claimed ids: the sent rows are addressed by their id range minus the
    group's other rows (few or none), only while still claimed by `token`; a sent row is recorded as sent
    even if it was cancelled meanwhile (it did leave).
    """
    result = _record_others(run, token, done)
    _renew_if_due(run, token)
    sent = [o.row_id for o in done if o.kind == "sent"]
    ids = _ids(part)
    low, high = (min(sent), max(sent)) if sent else (0, -1)
    others = [o.row_id for o in done if o.kind != "sent" and low < o.row_id < high]
    params = {
        "low": low, "high": high, "token": token, "at": run.now(),
        "next_low": min(ids, default=0), "next_high": max(ids, default=-1),
    }  # fmt: skip
    recorded = 0
    live: set[int] = set()
    if sent and ids and not others and run.statements.both is not None:
        for row_id, was_sent in run.conn.execute(run.statements.both, params).tuples():
            if was_sent:
                recorded += 1
            else:
                live.add(int(row_id))
    else:
        if sent:
            statement = run.statements.sent
            recorded = run.conn.execute(
                statement.where(C.id.not_in(others)) if others else statement, params
            ).rowcount
        if ids:
            live = {int(i) for i in run.conn.scalars(run.statements.live, params)}
    return live & set(ids), result + DispatchResult(sent=recorded, skipped=len(sent) - recorded)


def _give_back(conn: Connection, token: str, reason: str | None) -> DispatchResult:
    """Rows of this claim not sent go back to pending as they were (no attempt charged)."""
    values: dict[str, Any] = {"status": OutboxStatus.PENDING, "lease_until": None, "claimed_by": None}
    if reason:
        values["last_error"] = reason[:2000]
    back = conn.execute(
        update(OUTBOX).where(C.claimed_by == token, C.status == OutboxStatus.SENDING).values(**values)
    ).rowcount
    return DispatchResult(waiting=int(back or 0))


def _send_batch(run: _Run, token: str, rows: list[RowMapping]) -> DispatchResult:
    """Send one claimed batch, group by group (`run.step` messages): right before a group, the last one's
    results are recorded and the group's rows still ours are found. When the server cannot be reached,
    the rest of the batch goes back to pending and the result says why."""
    run.stamp()
    run.renew_at = run.now() + run.lease / 3
    result = DispatchResult()
    done: list[_Outcome] = []
    try:
        for start in range(0, len(rows), run.step):
            part = rows[start : start + run.step]
            if run.interval and run.paced:
                run.sleep(run.interval)
            live, settled = _settle(run, token, done, part)
            result, done = result + settled, []
            for row in part:
                if int(row["id"]) not in live:
                    done.append(_Outcome(int(row["id"]), "skipped", {}))
                    continue
                outcome = _deliver(run, row)
                if outcome.kind == "unreachable":
                    reason = str(outcome.values["last_error"])
                    result += _settle(run, token, done, [])[1] + _give_back(run.conn, token, reason)
                    return result + DispatchResult(unreachable=reason)
                run.paced = True
                done.append(outcome)
        result += _settle(run, token, done, [])[1]
    except BaseException:
        _salvage(run, token, done)
        raise
    return result


def _salvage(run: _Run, token: str, done: list[_Outcome]) -> None:
    """After an error in the loop: record what did leave (or the next run sends it again), return the rest."""
    try:
        _settle(run, token, done, [])
        _give_back(run.conn, token, None)
    except Exception:
        log.exception("outbox: could not record %d result(s) after an error", len(done))


def _free(conn: Connection, tokens: Sequence[str | None], where: Sequence[ColumnElement[bool]] = ()) -> int:
    """Claims of these holders back to pending (none of their messages was recorded as sent)."""
    named = [t for t in tokens if t is not None]
    held: ColumnElement[bool] = C.claimed_by.in_(named)
    if None in tokens:
        held = or_(held, C.claimed_by.is_(None))
    result = conn.execute(
        update(OUTBOX)
        .where(C.status == OutboxStatus.SENDING, held, *where)
        .values(status=OutboxStatus.PENDING, lease_until=None, claimed_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _free_abandoned(conn: Connection) -> int:
    """Claims of a dispatcher on this host whose process is gone (killed mid-batch) are due now, not
    after their lease: its messages not recorded (at most a group) go again, with their Message-ID."""
    holders = conn.scalars(select(C.claimed_by).where(C.status == OutboxStatus.SENDING).distinct())
    gone = [token for token in holders if holder_state(token) == "gone"]
    return _free(conn, gone) if gone else 0


@contextmanager
def _quick_commits(conn: Connection) -> Iterator[None]:
    """Commits that do not wait for the disk, on this connection only (every other one keeps the default).

    The dispatcher commits two statements per group of messages, and waiting for each flush of the log cost
    more than sending the emails. This is durable against a crash of our process; only a power loss of the
    database host can undo the last recordings (about a second's worth), and those messages then go again
    with their Message-ID: the at-least-once delivery the outbox promises anyway.
    """
    postgres = conn.dialect.name == "postgresql"
    before = None if postgres else int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    conn.exec_driver_sql("SET synchronous_commit TO off" if postgres else "PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        try:
            conn.exec_driver_sql("RESET synchronous_commit" if postgres else f"PRAGMA synchronous={before}")
        except Exception:
            conn.invalidate()  # a broken connection must not go back to the pool with the setting


def dispatch(
    engine: Engine,
    settings: Settings,
    *,
    worker_id: str,
    clock: Clock = utc_now,
    batch_size: int | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_batches: int = DEFAULT_MAX_BATCHES,
    lease: timedelta = DEFAULT_LEASE,
    record_every: int = RECORD_EVERY,
) -> DispatchResult:
    """Send every due outbox row (batch after batch, up to max_batches) through one transport session.

    `clock` is the machinery's (leases, backoffs, sent_at, the Date header), never a campaign's `--as-of`.
    The server's answer to a message decides it: temporary failures go back to pending with a backoff,
    permanent ones (and exhausted attempts) become failed. A server that cannot be reached (or answers
    421) costs no message an attempt: the claimed rows go back to pending, the run stops and the result's
    `unreachable` says why. A session that dies on one message even after reconnecting leaves that message
    pending for a minute, uncharged, and the run goes on.

    One connection is held for the run, each statement committing by itself: a batch is claimed by one
    statement; every `record_every` messages (every message with a send rate) the sent ones are recorded
    and the next ones no longer ours (cancelled, or taken over) dropped, in one round trip on PostgreSQL
    and two statements on SQLite; each other result is one more, and one renews the batch's lease when a
    third of it has gone by. A claim of a dispatcher on this host that no longer runs is freed first.
    """
    size = batch_size or settings.mail_batch_size
    interval = 1.0 / settings.mail_rate_per_second if settings.mail_rate_per_second > 0 else 0.0
    with engine.connect() as conn:
        # Every statement below stands alone (a claim, a group's check or results), so each commits by
        # itself: no BEGIN/COMMIT round trips between the sends.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with _quick_commits(conn):
            _free_abandoned(conn)
            token, rows = _claim_in(
                conn, now=_aware_utc(clock()), worker_id=worker_id, batch_size=size, lease=lease
            )
            if not rows:
                return DispatchResult()
            session = transport if transport is not None else transport_for(settings)
            try:
                session.open()
            except TransportError as exc:
                # Even a permanent open error (bad credentials) is the server's, not a message's.
                log.warning("outbox: cannot open transport (%s); %d message(s) wait", exc.reason, len(rows))
                return _give_back(conn, token, exc.reason) + DispatchResult(unreachable=exc.reason)
            run = _Run(
                conn=conn,
                settings=settings,
                transport=session,
                clock=clock,
                lease=lease,
                step=1 if interval else max(1, record_every),
                interval=interval,
                sleep=sleep,
                statements=_GroupStatements.build(conn, _message_id_sql(conn, settings.mail_from)),
                send_raw=getattr(session, "send_raw", None),
            )
            try:
                result = _send_all(run, token, rows, worker_id=worker_id, size=size, max_batches=max_batches)
            finally:
                session.close()
    log.info("outbox dispatch by %s: %s", worker_id, result)
    return result


def _send_all(
    run: _Run, token: str, rows: list[RowMapping], *, worker_id: str, size: int, max_batches: int
) -> DispatchResult:
    """The claimed batch, then batch after batch until none is due, max_batches are done or the server
    cannot be reached."""
    result = DispatchResult()
    for claims in range(max_batches):
        if claims:
            token, rows = _claim_in(
                run.conn, now=run.now(), worker_id=worker_id, batch_size=size, lease=run.lease
            )
            if not rows:
                break
        result += _send_batch(run, token, rows)
        if result.unreachable:
            break
    return result


def _ids(rows: list[RowMapping]) -> list[int]:
    return [int(r["id"]) for r in rows]


# ---------------------------------------------------------------- what an operator does


def _selection(ids: Sequence[int] | None, campaign_id: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if ids is not None:
        where.append(C.id.in_(list(ids)))
    if campaign_id is not None:
        where.append(C.campaign_id == campaign_id)
    return where


def retry_failed(engine: Engine, *, ids: Sequence[int] | None = None, campaign_id: int | None = None) -> int:
    """Failed emails (all, these ids, or one campaign's) back to pending with a fresh count of attempts;
    their last reason stays until the next try. Returns how many."""
    with engine.begin() as conn:
        result = conn.execute(
            update(OUTBOX)
            .where(C.status == OutboxStatus.FAILED, *_selection(ids, campaign_id))
            .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Released:
    """What `release_claims` did: `freed` rows back to pending; `running` the holders (worker@host#pid)
    whose claims were kept because their process still runs on this host."""

    freed: int = 0
    running: tuple[str, ...] = ()


def release_claims(
    engine: Engine, *, ids: Sequence[int] | None = None, campaign_id: int | None = None
) -> Released:
    """Free the claims (all, on these ids, or on one campaign's emails) held by dispatchers that died.

    A claim whose process still runs on this host is kept. One held on another host is freed: only the
    operator knows that dispatcher is gone (if it is not, the messages of its current group may go twice).
    """
    where = [C.status == OutboxStatus.SENDING, *_selection(ids, campaign_id)]
    with engine.begin() as conn:
        holders = set(conn.scalars(select(C.claimed_by).where(*where).distinct()))
        running = {token for token in holders if holder_state(token) == "running"}
        freed = (
            _free(conn, [token for token in holders if token not in running], where)
            if holders - running
            else 0
        )
    return Released(freed, tuple(sorted(holder_label(str(t)) for t in running)))


def unsent_count(engine: Engine) -> int:
    """Emails waiting to go (pending, or claimed and not sent yet)."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(OUTBOX).where(C.status.in_(UNSENT))) or 0)
