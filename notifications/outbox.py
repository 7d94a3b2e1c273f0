"""The outbox: producers enqueue rows (deduplicated); a dispatcher claims due rows, sends, records results.

Claiming is a conditional UPDATE (on PostgreSQL after SELECT ... FOR UPDATE SKIP LOCKED), so two dispatchers
never hold the same row; the claim carries a lease, and a row whose lease has expired (its dispatcher crashed)
is due again. Sending happens outside any database transaction, through one transport session per run; each
result is recorded in its own short transaction, guarded by the claim token.

Delivery is at least once: a crash after the server accepted a message and before the result is recorded
sends it again after the lease; the Message-ID is derived from the row, so receivers can recognise
the duplicate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import Engine, Table, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from models.outbox import OutboxMessage, OutboxStatus
from models.settings import Settings
from models.text import nfc
from notifications.message import EmailMessage, build_mime, domain_of
from notifications.transports import Transport, TransportError, transport_for

log = logging.getLogger(__name__)

OUTBOX = cast(Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
C = OUTBOX.c

# Minutes to wait after the n-th temporary failure (the last value repeats).
BACKOFF_MINUTES: tuple[int, ...] = (1, 5, 15, 60, 180, 360, 720, 1440)
DEFAULT_LEASE = timedelta(minutes=15)
DEFAULT_MAX_BATCHES = 100
# Multi-row VALUES stay well under SQLite's bound-parameter limit (32766) with 15 columns.
_INSERT_CHUNK = 500


@dataclass(frozen=True)
class DispatchResult:
    """What one dispatch run did.

    `skipped`: claimed rows whose claim was taken over (lease expired) before the result was recorded.
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
    return {
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


def _insert_ignoring_duplicates(session: Session, values: list[dict[str, Any]]) -> int:
    dialect = session.get_bind().dialect.name
    insert_fn: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"outbox enqueue supports PostgreSQL and SQLite, not {dialect}")
    inserted = 0
    for start in range(0, len(values), _INSERT_CHUNK):
        chunk = values[start : start + _INSERT_CHUNK]
        stmt = (
            insert_fn(OUTBOX)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=[C.dedupe_key])
            .returning(C.id)
        )
        inserted += len(session.execute(stmt).all())
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


def enqueue_many(
    session: Session, rows: list[dict[str, Any]], now: datetime, *, data_dir: Path | None = None
) -> int:
    """Queue many emails in one statement (per 500 rows); returns how many were new.

    Each row has the keyword arguments of `enqueue` (dedupe_key, kind, recipient, subject, text, and
    optionally recipient_name, html, attachments, reply_to, cc, campaign_id).
    """
    created_at = _aware_utc(now)
    values = []
    for row in rows:
        unknown = set(row) - _ROW_KEYS
        if unknown:
            raise ValueError(f"unknown outbox fields: {sorted(unknown)}")
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


def claim(
    engine: Engine, *, now: datetime, worker_id: str, batch_size: int, lease: timedelta = DEFAULT_LEASE
) -> tuple[str, list[RowMapping]]:
    """Claim up to batch_size due rows for this worker; returns (claim token, claimed rows by id)."""
    now_utc = _aware_utc(now)
    token = f"{worker_id[:80]}:{uuid4().hex[:12]}"
    claim_values = {
        "status": OutboxStatus.SENDING,
        "lease_until": now_utc + lease,
        "claimed_by": token,
    }
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            ids = list(
                conn.scalars(
                    select(C.id)
                    .where(_due(now_utc))
                    .order_by(C.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return token, []
            target: ColumnElement[bool] = C.id.in_(ids)
        else:
            # SQLite has one writer at a time: the UPDATE below re-checks the due condition under that lock.
            target = C.id.in_(select(C.id).where(_due(now_utc)).order_by(C.id).limit(batch_size))
        # The due condition again: a row someone else claimed meanwhile is not ours.
        conn.execute(update(OUTBOX).where(target, _due(now_utc)).values(**claim_values))
        rows = list(
            conn.execute(
                select(OUTBOX).where(C.claimed_by == token, C.status == OutboxStatus.SENDING).order_by(C.id)
            ).mappings()
        )
    return token, rows


def message_id_for(row: RowMapping, from_addr: str) -> str:
    """Stable across retries: a receiver (and our tests) can recognise a duplicate delivery."""
    digest = hashlib.sha256(str(row["dedupe_key"]).encode()).hexdigest()[:16]
    return f"<thidua.{row['id']}.{digest}@{domain_of(from_addr)}>"


def message_from_row(row: RowMapping, data_dir: Path, from_addr: str) -> EmailMessage:
    attachments = tuple(data_dir / rel for rel in json.loads(row["attachments_json"] or "[]"))
    return EmailMessage(
        to=row["recipient"],
        to_name=row["recipient_name"],
        subject=row["subject"],
        text=row["body_text"],
        html=row["body_html"],
        attachments=attachments,
        reply_to=row["reply_to"],
        cc=tuple(json.loads(row["cc_json"] or "[]")),
        message_id=row["message_id"] or message_id_for(row, from_addr),
        headers={"X-Thidua-Kind": row["kind"]},
    )


def _record(conn: Connection, row_id: int, token: str, values: dict[str, Any]) -> bool:
    result = conn.execute(
        update(OUTBOX)
        .where(C.id == row_id, C.claimed_by == token, C.status == OutboxStatus.SENDING)
        .values(lease_until=None, **values)
    )
    return result.rowcount == 1


def _record_sent(engine: Engine, row_id: int, token: str, now: datetime, message_id: str) -> bool:
    with engine.begin() as conn:
        return _record(
            conn,
            row_id,
            token,
            {"status": OutboxStatus.SENT, "sent_at": now, "message_id": message_id, "last_error": None},
        )


def _record_failure(
    engine: Engine,
    row: RowMapping,
    token: str,
    now: datetime,
    reason: str,
    *,
    permanent: bool,
    max_attempts: int,
) -> tuple[str, bool]:
    """Returns ("failed" | "retried", recorded)."""
    attempts = int(row["attempts"]) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": reason[:2000]}
    if permanent or attempts >= max_attempts:
        values["status"] = OutboxStatus.FAILED
        values["next_attempt_at"] = None
        outcome = "failed"
    else:
        values["status"] = OutboxStatus.PENDING
        values["next_attempt_at"] = now + backoff(attempts)
        outcome = "retried"
    with engine.begin() as conn:
        return outcome, _record(conn, int(row["id"]), token, values)


def _tally(result: DispatchResult, outcome: str, recorded: bool) -> DispatchResult:
    if not recorded:
        return result + DispatchResult(skipped=1)
    return result + DispatchResult(
        sent=int(outcome == "sent"), failed=int(outcome == "failed"), retried=int(outcome == "retried")
    )


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
) -> DispatchResult:
    """Send every due outbox row (batch after batch, up to max_batches) through one transport session.

    Temporary failures go back to pending with a backoff; permanent ones (and exhausted attempts) become
    failed. When the transport cannot be opened at all (server down), the claimed batch goes back to pending
    and the run stops: nothing is lost, the next run retries after the backoff.
    """
    now_utc = _aware_utc(now)
    size = batch_size or settings.mail_batch_size
    interval = 1.0 / settings.mail_rate_per_second if settings.mail_rate_per_second > 0 else 0.0
    data_dir = settings.data_dir
    result = DispatchResult()

    token, rows = claim(engine, now=now_utc, worker_id=worker_id, batch_size=size, lease=lease)
    if not rows:
        return result
    session = transport if transport is not None else transport_for(settings)
    try:
        session.open()
    except TransportError as exc:
        log.warning(
            "outbox: cannot open transport (%s); %d message(s) back to pending", exc.reason, len(rows)
        )
        for row in rows:
            # Even a permanent open error (bad credentials) is a property of the server, not of the message.
            outcome, recorded = _record_failure(
                engine,
                row,
                token,
                now_utc,
                exc.reason,
                permanent=False,
                max_attempts=settings.mail_max_attempts,
            )
            result = _tally(result, outcome, recorded)
        return result

    first = True
    try:
        for batch_number in range(max_batches):
            if batch_number:
                token, rows = claim(engine, now=now_utc, worker_id=worker_id, batch_size=size, lease=lease)
                if not rows:
                    break
            for row in rows:
                if interval and not first:
                    sleep(interval)
                first = False
                outcome, recorded = _send_row(engine, settings, session, row, token, now_utc, data_dir)
                result = _tally(result, outcome, recorded)
    finally:
        session.close()
    log.info("outbox dispatch by %s: %s", worker_id, result)
    return result


def _send_row(
    engine: Engine,
    settings: Settings,
    transport: Transport,
    row: RowMapping,
    token: str,
    now: datetime,
    data_dir: Path,
) -> tuple[str, bool]:
    max_attempts = settings.mail_max_attempts
    try:
        message = message_from_row(row, data_dir, settings.mail_from)
        mime = build_mime(
            message, settings.mail_from, settings.mail_from_name, now=now.astimezone(settings.tz)
        )
    except FileNotFoundError as exc:
        return _record_failure(
            engine,
            row,
            token,
            now,
            f"Không tìm thấy tệp đính kèm: {exc.filename}",
            permanent=True,
            max_attempts=max_attempts,
        )
    except ValueError as exc:
        return _record_failure(engine, row, token, now, str(exc), permanent=True, max_attempts=max_attempts)
    try:
        transport.send(mime)
    except TransportError as exc:
        log.warning("outbox #%s to %s: %s", row["id"], row["recipient"], exc.reason)
        return _record_failure(
            engine, row, token, now, exc.reason, permanent=exc.permanent, max_attempts=max_attempts
        )
    except Exception as exc:
        # The loop edge: one unexpected error must not strand the rest of the batch; retried, then failed.
        log.exception("outbox #%s: unexpected error while sending", row["id"])
        return _record_failure(engine, row, token, now, repr(exc), permanent=False, max_attempts=max_attempts)
    return "sent", _record_sent(engine, int(row["id"]), token, now, str(message.message_id))
