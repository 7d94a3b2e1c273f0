"""Reports sent by email: the collection sweep reads the system's own mailbox over IMAP.

A unit answers a reminder by replying with the filled template attached. Each message in THIDUA_IMAP_FOLDER is
handled on its own, inside one database transaction that records it (models/mailbox.py) and does its result:

- one .xlsx/.csv attachment from an address of the unit the file is for (the unit's contact address, a
  person of that unit, or a portal reporter granted for it) → the ingest every way in shares
  (tasks/collect/reports.py: same checks, revisions, rejection email), the answer (received, unchanged or the
  cell errors) a reply in the sender's thread;
- any other sender → not ingested, kept whole for an administrator with the reason (`thidua mail held`), the
  sender told politely that the address is not registered, never anything about the unit;
- no attachment, several reports, a zip, a file for a campaign other than the one the thread is about, a file
  that is no template → a reply saying so, nothing ingested.

Only after the commit is the message moved to the processed or rejected folder. A crash in between leaves it
in the folder; the next pass finds its row (unique Message-ID) and only moves it: the result happens once.
The same file in a second message is "unchanged" as for any other way in. One sweep reads a mailbox at a time
(IMAP lets two sessions both copy a message they both move): on PostgreSQL a second sweep finds the advisory
lock taken and leaves the mailbox to the first. Below that, a message's row decides alone: two transactions
handling the same message, the second one's insert waits for the first one's commit and then finds the row.

Automatic messages (auto-replies, bounces, mailing lists) are never answered: an answer to an out-of-office
reply would start a loop.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage as ParsedMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, func, select, text, update
from sqlmodel import Session, col

from thidua.errors import NotFound, Unavailable
from thidua.models.campaign import Campaign, EnrolledUnit
from thidua.models.db import insert_ignore, transaction
from thidua.models.directory import Person, Unit
from thidua.models.mailbox import InboundMail
from thidua.models.outbox import OutboxMessage
from thidua.models.portal import PortalRole, RoleGrant
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.models.text import nfc
from thidua.notifications.outbox import enqueue
from thidua.notifications.templating import render_email
from thidua.tasks.collect.reports import (
    MAX_REPORT_BYTES,
    REPORT_SUFFIXES,
    MailReply,
    ingest_mail,
    report_identity,
)

log = logging.getLogger(__name__)

INBOUND = cast(Table, InboundMail.__table__)  # type: ignore[attr-defined]
ARCHIVES = (".zip", ".rar", ".7z", ".gz", ".tar")
# A message with a report is tens of KB; far beyond this it is not read (its headers still are, to answer).
MAX_MESSAGE_BYTES = 4 * MAX_REPORT_BYTES
# Outcomes whose message goes to the processed folder; the others go to the rejected one.
PROCESSED = ("accepted", "unchanged")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,298}>")  # printable ASCII without < > and spaces


@dataclass(frozen=True)
class Inbound:
    """One message as the sweep needs it."""

    key: str  # Message-ID, or sha256:<digest> of the message when it has none
    message_id: str | None
    sender: str  # the From address, lower-cased ("" when there is none)
    subject: str
    references: str
    thread: tuple[str, ...]  # Message-IDs it answers (In-Reply-To, References)
    files: tuple[tuple[str, bytes], ...]  # attached reports (.xlsx / .csv)
    archives: tuple[str, ...]  # names of attached archives
    automatic: bool  # an auto-reply, a bounce, a list message: never answered
    raw: bytes


def parse_message(raw: bytes) -> Inbound:
    """The parts of a message the sweep uses (RFC 5322 bytes as the server holds them)."""
    msg = cast(ParsedMessage, email.message_from_bytes(raw, policy=email.policy.default))
    # Only well-formed ids go on: they are written back into our replies' headers.
    ids = _MESSAGE_ID.findall(_header(msg, "Message-ID"))
    message_id = ids[0] if ids and len(ids[0]) <= 300 else None
    key = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    senders = [addr for _, addr in getaddresses([_header(msg, "From")]) if _ADDRESS.fullmatch(addr.strip())]
    sender = (nfc(senders[0]) or "").strip().lower() if senders else ""
    references = " ".join(_MESSAGE_ID.findall(_header(msg, "References"))[-20:])
    thread = tuple(_MESSAGE_ID.findall(f"{_header(msg, 'In-Reply-To')} {references}"))
    files: list[tuple[str, bytes]] = []
    archives: list[str] = []
    for part in msg.iter_attachments():
        name = nfc(part.get_filename() or "") or ""
        suffix = Path(name.replace("\\", "/")).suffix.lower()
        if suffix in REPORT_SUFFIXES:
            payload = part.get_payload(decode=True)
            files.append((name, payload if isinstance(payload, bytes) else b""))
        elif suffix in ARCHIVES or part.get_content_type() in (
            "application/zip",
            "application/x-zip-compressed",
        ):
            archives.append(name or "tệp nén")
    auto = _header(msg, "Auto-Submitted").strip().lower()
    automatic = (
        (auto not in ("", "no"))
        or _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply")
        or bool(_header(msg, "List-Id") or _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"))
        or sender.startswith(("mailer-daemon@", "postmaster@"))
        or not sender
    )
    return Inbound(
        key=key,
        message_id=message_id,
        sender=sender,
        subject=" ".join(_header(msg, "Subject").split()),
        references=references,
        thread=thread,
        files=tuple(files),
        archives=tuple(archives),
        automatic=automatic,
        raw=raw,
    )


def _header(msg: ParsedMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError):  # a header the policy cannot parse counts as absent
        return ""
    return nfc(str(value)) or "" if value is not None else ""


# ---------------------------------------------------------------- the IMAP session


class MailboxUnavailable(Unavailable):
    """The server could not be reached or dropped the connection; the message says why."""


class Mailbox:
    """One IMAP session on the folder the system reads (stdlib imaplib)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        host, port, timeout = settings.imap_host, settings.imap_port, settings.imap_timeout_seconds
        try:
            if settings.imap_security == "ssl":
                self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    host, port, ssl_context=_tls_context(settings), timeout=timeout
                )
            else:
                self.imap = imaplib.IMAP4(host, port, timeout=timeout)
                if settings.imap_security == "starttls":
                    if "STARTTLS" not in self.imap.capabilities:
                        # Never fall back to plain text: the password would travel in clear.
                        raise MailboxUnavailable(
                            "máy chủ thư không hỗ trợ STARTTLS (THIDUA_IMAP_SECURITY=starttls): "
                            "không đăng nhập để khỏi gửi mật khẩu không mã hoá"
                        )
                    self.imap.starttls(_tls_context(settings))
            if settings.imap_username:
                try:
                    self.imap.login(settings.imap_username, settings.imap_password.get_secret_value())
                except imaplib.IMAP4.error as exc:
                    raise MailboxUnavailable(
                        "máy chủ thư từ chối đăng nhập: tên đăng nhập hoặc mật khẩu hộp thư không đúng "
                        "(THIDUA_IMAP_USERNAME, THIDUA_IMAP_PASSWORD)"
                    ) from exc
            self._ok(self.imap.select(_quote(settings.imap_folder)), f"mở thư mục {settings.imap_folder}")
            for folder in (settings.imap_processed_folder, settings.imap_rejected_folder):
                self.imap.create(_quote(folder))  # "already exists" is the usual answer
            caps = self.imap.capabilities
            self.can_move = "MOVE" in caps
            self.uidplus = "UIDPLUS" in caps
        except MailboxUnavailable:
            self._drop()
            raise
        except (OSError, imaplib.IMAP4.error) as exc:
            self._drop()
            raise MailboxUnavailable(_why(exc)) from exc

    def _drop(self) -> None:
        """Close the connection of a session that did not open (no socket left behind)."""
        imap = getattr(self, "imap", None)
        if imap is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.shutdown()

    @staticmethod
    def _ok(answer: tuple[str, Any], what: str) -> Any:
        status, data = answer
        if status != "OK":
            raise MailboxUnavailable(f"máy chủ thư từ chối {what}: {data!r}"[:300])
        return data

    def listing(self) -> list[Listed]:
        """Every message in the folder, oldest first: UID, size and when the server received it."""
        data = self._ok(self.imap.uid("SEARCH", "UNDELETED"), "tìm thư")
        uids = (data[0] or b"").split()
        out: list[Listed] = []
        for start in range(0, len(uids), 500):
            chunk = b",".join(uids[start : start + 500]).decode()
            rows = self._ok(self.imap.uid("FETCH", chunk, "(RFC822.SIZE INTERNALDATE)"), "đọc thư")
            for row in rows:
                line = (row if isinstance(row, bytes) else row[0]) or b""
                found = re.search(rb"UID (\d+)", line)
                size = re.search(rb"RFC822\.SIZE (\d+)", line)
                if found and size:
                    out.append(Listed(found.group(1).decode(), int(size.group(1)), _internal_date(line)))
        return sorted(out, key=lambda item: int(item.uid))

    def fetch(self, uid: str, *, headers_only: bool = False) -> bytes | None:
        """The message (PEEK: it stays unread for a person looking at the mailbox); None when it is gone."""
        part = "BODY.PEEK[HEADER]" if headers_only else "BODY.PEEK[]"
        rows = self._ok(self.imap.uid("FETCH", uid, f"({part})"), "đọc thư")
        for row in rows:
            if isinstance(row, tuple) and len(row) == 2:
                return bytes(row[1])
        return None

    def move(self, uid: str, folder: str) -> None:
        target = _quote(folder)
        if self.can_move:
            self._ok(self.imap.uid("MOVE", uid, target), f"chuyển thư sang {folder}")
            return
        self._ok(self.imap.uid("COPY", uid, target), f"chép thư sang {folder}")
        self._ok(self.imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "đánh dấu thư đã chuyển")
        if self.uidplus:
            self._ok(self.imap.uid("EXPUNGE", uid), "xoá thư đã chuyển")
        else:
            self._ok(self.imap.expunge(), "xoá thư đã chuyển")

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.imap.logout()


@dataclass(frozen=True)
class Listed:
    uid: str
    size: int
    arrived: datetime | None  # the server's INTERNALDATE: when the message reached the mailbox


def _internal_date(line: bytes) -> datetime | None:
    stamp = imaplib.Internaldate2tuple(line)
    if stamp is None:
        return None
    return datetime.fromtimestamp(time.mktime(stamp), tz=UTC)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the server's certificate and host name (Python's defaults), against THIDUA_IMAP_CA_FILE
    alone when it is set (a private CA), else against the system's trusted CAs."""
    try:
        return ssl.create_default_context(cafile=settings.imap_ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxUnavailable(
            f"không đọc được tệp chứng chỉ THIDUA_IMAP_CA_FILE ({settings.imap_ca_file})"
        ) from exc


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "chứng chỉ của máy chủ thư không được tin cậy hoặc không đúng tên máy chủ "
            f"({exc.verify_message}); đã ngắt kết nối, không gửi mật khẩu. Kiểm tra THIDUA_IMAP_HOST "
            "hoặc khai báo CA riêng ở THIDUA_IMAP_CA_FILE"
        )[:300]
    if isinstance(exc, ssl.SSLError):
        return f"không thiết lập được kết nối mã hoá với máy chủ thư ({exc.reason or exc})"[:300]
    if isinstance(exc, socket.timeout | TimeoutError):
        return "máy chủ thư không trả lời (hết thời gian chờ)"
    if isinstance(exc, ConnectionRefusedError):
        return "máy chủ thư từ chối kết nối"
    text = str(exc) or type(exc).__name__
    return f"máy chủ thư: {text}"[:300]


# ---------------------------------------------------------------- the sweep


@dataclass
class MailResult:
    """What one sweep did; `unreachable` says why it stopped early (the rest waits for the next one)."""

    enabled: bool = True
    read: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: int = 0
    refused: int = 0
    answered: int = 0
    already: int = 0  # handled by an earlier pass or another sweep: only moved
    moved: int = 0
    failed: int = 0  # not handled (an error, logged): left in the folder for the next pass
    busy: bool = False  # another sweep was reading the mailbox: this one did nothing
    unreachable: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "read": self.read,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "refused": self.refused,
            "answered": self.answered,
            "already": self.already,
            "moved": self.moved,
            "failed": self.failed,
            "busy": self.busy,
            "unreachable": self.unreachable,
            "messages": self.messages,
        }


def sweep_mailbox(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    after_commit: Callable[[str], None] | None = None,
) -> MailResult:
    """Handle every message in the mailbox's folder (nothing when THIDUA_IMAP_HOST is empty).

    `after_commit(message_key)` runs after a message's result is committed and before it is moved (the tests
    stop the server there to prove that a crash at that point changes nothing)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    result = MailResult(enabled=settings.uses_imap)
    if not settings.uses_imap:
        return result
    with _one_sweep(engine, settings) as ours:
        if not ours:
            result.busy = True  # another sweep is reading this mailbox right now: it handles its messages
            return result
        return _sweep(engine, settings, result, now, after_commit)


@contextlib.contextmanager
def _one_sweep(engine: Engine, settings: Settings) -> Iterator[bool]:
    """One sweep of a mailbox at a time, on every host: IMAP does not stop two sessions from both moving
    (copying) the same message. PostgreSQL: a session advisory lock, not waited for (the other sweep handles
    what is there); SQLite (one host): a lock file, waited for (the folder is then empty or new)."""
    name = f"{settings.imap_host}:{settings.imap_port}/{settings.imap_username}/{settings.imap_folder}"
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()  # a session lock outlives the transaction; no transaction stays open meanwhile
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    with storage_for(settings).lock(storage_key("mail", "sweep")):
        yield True


def _sweep(
    engine: Engine,
    settings: Settings,
    result: MailResult,
    now: datetime,
    after_commit: Callable[[str], None] | None,
) -> MailResult:
    try:
        box = Mailbox(settings)
    except MailboxUnavailable as exc:
        log.warning("mailbox %s: %s", settings.imap_host, exc)
        result.unreachable = str(exc)
        return result
    try:
        for listed in box.listing():
            uid, too_large = listed.uid, listed.size > MAX_MESSAGE_BYTES
            raw = box.fetch(uid, headers_only=too_large)
            if raw is None:
                continue  # moved by another sweep meanwhile
            inbound = parse_message(raw)
            result.read += 1
            # A report counts as received when it reached the mailbox, not when the next sweep read it (a
            # reply sent on the due date is on time though collection runs the morning after).
            received = min(listed.arrived, now) if listed.arrived is not None else now
            try:
                outcome = handle_message(engine, settings, inbound, now=received, too_large=too_large)
            except (OSError, imaplib.IMAP4.error, MailboxUnavailable):
                raise
            except Exception:
                # A message the code cannot handle must not hold up the others: its transaction rolled back,
                # it stays in the folder (tried again next pass) and the run counts it.
                log.exception("mailbox %s: message %s not handled", settings.imap_host, inbound.key[:120])
                result.failed += 1
                result.messages.append({"status": "failed", "message": inbound.key[:120]})
                continue
            setattr(result, outcome.counter, getattr(result, outcome.counter) + 1)
            result.messages.append(outcome.as_dict())
            if after_commit is not None:
                after_commit(inbound.key)
            box.move(uid, outcome.folder(settings))
            result.moved += 1
            _moved(engine, inbound.key, outcome.folder(settings))
    except (OSError, imaplib.IMAP4.error, MailboxUnavailable) as exc:
        # What was committed stays committed; a message not moved yet is moved by the next pass.
        log.warning("mailbox %s: %s", settings.imap_host, exc)
        result.unreachable = str(exc) if isinstance(exc, MailboxUnavailable) else _why(exc)
    finally:
        box.close()
    return result


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted / unchanged / rejected / refused / answered
    already: bool = False
    unit_code: str | None = None
    campaign: str | None = None
    reason: str | None = None

    @property
    def counter(self) -> str:
        return "already" if self.already else self.status

    def folder(self, settings: Settings) -> str:
        return settings.imap_processed_folder if self.status in PROCESSED else settings.imap_rejected_folder

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "already": self.already,
            "unit": self.unit_code,
            "campaign": self.campaign,
            "reason": self.reason,
        }


def _moved(engine: Engine, key: str, folder: str) -> None:
    with transaction(engine) as s:
        s.execute(update(INBOUND).where(INBOUND.c.message_key == key).values(folder=folder[:200]))


def handle_message(
    engine: Engine, settings: Settings, inbound: Inbound, *, now: datetime, too_large: bool = False
) -> Outcome:
    """Record one message and do its result, in one transaction; a message recorded before (a crash
    before the move, another sweep) is only looked up."""
    with transaction(engine) as s:
        row = {
            "message_key": inbound.key,
            "received_at": now,
            "sender": inbound.sender[:254],
            "subject": inbound.subject,
            "outcome": "pending",
            "held": False,
        }
        # Waits for a sweep holding the same key uncommitted, then inserts nothing: it is handled.
        if not insert_ignore(s, INBOUND, row, ["message_key"], returning=INBOUND.c.id):
            done = s.execute(
                select(INBOUND.c.outcome, INBOUND.c.unit_code).where(INBOUND.c.message_key == inbound.key)
            ).first()
            status = str(done[0]) if done else "answered"
            return Outcome(status, already=True, unit_code=done[1] if done else None)
        outcome = _decide(s, settings, inbound, now=now, too_large=too_large)
        campaign_id = (
            s.execute(select(col(Campaign.id)).where(col(Campaign.code) == outcome.campaign)).scalar()
            if outcome.campaign
            else None
        )
        s.execute(
            update(INBOUND)
            .where(INBOUND.c.message_key == inbound.key)
            .values(
                outcome=outcome.status,
                reason=outcome.reason,
                unit_code=(outcome.unit_code or "")[:40] or None,
                campaign_id=campaign_id,
            )
        )
        return outcome


def _decide(s: Session, settings: Settings, inbound: Inbound, *, now: datetime, too_large: bool) -> Outcome:
    reply = MailReply(
        sender=inbound.sender,
        message_key=inbound.key,
        subject=inbound.subject,
        message_id=inbound.message_id,
        references=inbound.references,
    )
    if too_large:
        return _answer(
            s,
            settings,
            inbound,
            reply,
            now,
            f"Thư quá lớn (hơn {MAX_MESSAGE_BYTES // (1024 * 1024)} MB); mẫu báo cáo chỉ vài chục KB.",
            "Đề nghị gửi lại thư chỉ đính kèm tệp mẫu báo cáo .xlsx đã điền.",
        )
    if not inbound.files:
        if inbound.archives:
            return _answer(
                s,
                settings,
                inbound,
                reply,
                now,
                f"Thư có tệp nén “{inbound.archives[0]}”; hệ thống không mở tệp nén.",
                "Đề nghị đính kèm trực tiếp tệp mẫu báo cáo .xlsx (hoặc .csv) đã điền, không nén.",
            )
        return _answer(
            s,
            settings,
            inbound,
            reply,
            now,
            "Thư không đính kèm tệp báo cáo (.xlsx hoặc .csv).",
            "Đề nghị trả lời lại thư nhắc báo cáo, đính kèm tệp mẫu báo cáo .xlsx đã điền.",
        )
    if len(inbound.files) > 1:
        names = ", ".join(f"“{name}”" for name, _ in inbound.files[:5])
        return _answer(
            s,
            settings,
            inbound,
            reply,
            now,
            f"Thư đính kèm {len(inbound.files)} tệp báo cáo ({names}); mỗi thư chỉ nhận một báo cáo.",
            "Đề nghị gửi mỗi báo cáo trong một thư riêng; không tệp nào trong thư này được tiếp nhận.",
        )
    name, data = inbound.files[0]
    file_campaign, unit_code = report_identity(name, data)
    thread_campaign = _thread_campaign(s, inbound.thread)
    code = file_campaign or thread_campaign
    if file_campaign and thread_campaign and file_campaign != thread_campaign:
        return _answer(
            s,
            settings,
            inbound,
            reply,
            now,
            f"Tệp “{name}” là báo cáo của phong trào {file_campaign}, còn thư này trả lời thư về phong trào "
            f"{thread_campaign}.",
            f"Đề nghị gửi báo cáo phong trào {file_campaign} bằng cách trả lời thư của phong trào đó (hoặc "
            "gửi thư mới); không có gì được tiếp nhận từ thư này.",
            campaign=thread_campaign,
        )
    campaign = s.scalars(select(Campaign).where(col(Campaign.code) == code.upper())).first() if code else None
    if campaign is None or campaign.id is None:
        return _answer(
            s,
            settings,
            inbound,
            reply,
            now,
            f"Không nhận ra tệp “{name}” là mẫu báo cáo của phong trào nào"
            + (f" (mã phong trào “{code}” không có)." if code else "."),
            "Đề nghị dùng đúng tệp mẫu gửi kèm thư nhắc báo cáo, điền vào các ô nền vàng rồi gửi lại.",
        )
    if not may_submit(s, inbound.sender, campaign.id, unit_code):
        return _refuse(s, settings, inbound, reply, now, campaign.code, unit_code)
    result = ingest_mail(s, settings, campaign.code, name, data, now=now, reply=reply)
    s.execute(
        update(INBOUND)
        .where(INBOUND.c.message_key == inbound.key)
        .values(
            period_key=(result.period_key or "")[:40] or None,
            source_name=result.source_name[:300],
            file_sha256=result.sha256 or None,
        )
    )
    reason = "\n".join(result.errors) if result.status == "rejected" else None
    return Outcome(result.status, unit_code=result.unit_code, campaign=campaign.code, reason=reason)


def _thread_campaign(s: Session, thread: tuple[str, ...]) -> str | None:
    """The campaign of our own email this message answers (a reminder, a rejection, ...), if it is one."""
    if not thread:
        return None
    found = s.execute(
        select(col(Campaign.code))
        .join(OutboxMessage, col(OutboxMessage.campaign_id) == col(Campaign.id))
        .where(col(OutboxMessage.message_id).in_(list(thread[-20:])))
        .limit(1)
    ).scalar()
    return str(found) if found else None


def may_submit(s: Session, sender: str, campaign_id: int, unit_code: str | None) -> bool:
    """The sender is an address of the unit: the unit's contact (in the campaign or the directory), an active
    person of the unit, or a portal reporter granted for it. A file naming no unit (it will be rejected) may
    come from an address of any unit of the campaign, so that its sender learns what is wrong."""
    if not sender:
        return False
    enrolled = select(col(EnrolledUnit.unit_code)).where(col(EnrolledUnit.campaign_id) == campaign_id)
    units = [unit_code] if unit_code else None

    def of(column: Any) -> Any:
        return column.in_(units) if units is not None else column.in_(enrolled)

    checks = [
        select(col(EnrolledUnit.unit_code)).where(
            col(EnrolledUnit.campaign_id) == campaign_id,
            func.lower(col(EnrolledUnit.email)) == sender,
            of(col(EnrolledUnit.unit_code)),
        ),
        select(col(Unit.code)).where(func.lower(col(Unit.email)) == sender, of(col(Unit.code))),
        select(col(Unit.code))
        .join(Person, col(Person.unit_id) == col(Unit.id))
        .where(func.lower(col(Person.email)) == sender, col(Person.active).is_(True), of(col(Unit.code))),
        select(col(RoleGrant.unit_code)).where(
            col(RoleGrant.email) == sender,
            col(RoleGrant.role) == PortalRole.REPORTER,
            of(col(RoleGrant.unit_code)),
        ),
    ]
    return any(s.execute(q.limit(1)).first() is not None for q in checks)


def _answer(
    s: Session,
    settings: Settings,
    inbound: Inbound,
    reply: MailReply,
    now: datetime,
    reason: str,
    advice: str,
    *,
    campaign: str | None = None,
) -> Outcome:
    _send_answer(s, settings, inbound, reply, now, reason, advice)
    return Outcome("answered", campaign=campaign, reason=reason)


def _refuse(
    s: Session,
    settings: Settings,
    inbound: Inbound,
    reply: MailReply,
    now: datetime,
    code: str,
    unit_code: str | None,
) -> Outcome:
    """Keep the message for an administrator; tell the sender only that the address is not registered."""
    held = storage_key("mail", "held", hashlib.sha256(inbound.key.encode("utf-8")).hexdigest()[:32] + ".eml")
    storage_for(settings).put(held, inbound.raw)
    unit = f"đơn vị {unit_code}" if unit_code else "các đơn vị"
    reason = (
        f"Địa chỉ {inbound.sender or '(không có)'} không phải địa chỉ của {unit} trong phong trào {code}."
    )
    s.execute(
        update(INBOUND)
        .where(INBOUND.c.message_key == inbound.key)
        .values(held=True, held_key=held, source_name=inbound.files[0][0][:300] if inbound.files else None)
    )
    _send_answer(
        s,
        settings,
        inbound,
        reply,
        now,
        f"Địa chỉ email gửi thư ({inbound.sender}) chưa được đăng ký là địa chỉ nộp báo cáo của đơn vị "
        "ghi trong tệp, nên báo cáo chưa được tiếp nhận.",
        "Thư đã được chuyển để quản trị viên xem xét. Đề nghị gửi báo cáo từ địa chỉ email công vụ của "
        "đơn vị (hoặc nộp trên cổng thi đua – khen thưởng); nếu cần đăng ký địa chỉ khác, xin liên hệ "
        "bộ phận thi đua – khen thưởng.",
    )
    return Outcome("refused", unit_code=unit_code, campaign=code, reason=reason)


def _send_answer(
    s: Session,
    settings: Settings,
    inbound: Inbound,
    reply: MailReply,
    now: datetime,
    reason: str,
    advice: str,
) -> bool:
    if inbound.automatic:
        return False  # never answer an automatic message (a loop with an auto-responder)
    _subject, text, html = render_email(
        "mail_answer",
        {
            "subject": inbound.subject or "(không có tiêu đề)",
            "received_at": now.astimezone(settings.tz).strftime("%H:%M ngày %d/%m/%Y"),
            "reason": reason,
            "advice": advice,
            "sender_name": settings.mail_from_name,
        },
    )
    return enqueue(
        s,
        dedupe_key=reply.dedupe_key,
        kind="mail_answer",
        recipient=inbound.sender,
        subject=reply.subject_line(),
        text=text,
        html=html,
        now=now,
        headers=reply.headers(),
    )


# ---------------------------------------------------------------- for administrators


@dataclass(frozen=True)
class HeldMail:
    id: int
    received_at: datetime
    sender: str
    subject: str
    campaign: str | None
    unit_code: str | None
    source_name: str | None
    reason: str
    held_key: str | None


def held_messages(engine: Engine) -> list[HeldMail]:
    """Messages refused because of their sender, newest first (kept whole under `held_key`)."""
    with Session(engine) as s:
        rows = s.execute(
            select(
                col(InboundMail.id),
                col(InboundMail.received_at),
                col(InboundMail.sender),
                col(InboundMail.subject),
                col(Campaign.code),
                col(InboundMail.unit_code),
                col(InboundMail.source_name),
                col(InboundMail.reason),
                col(InboundMail.held_key),
            )
            .outerjoin(Campaign, col(Campaign.id) == col(InboundMail.campaign_id))
            .where(col(InboundMail.held).is_(True))
            .order_by(col(InboundMail.received_at).desc(), col(InboundMail.id).desc())
        ).all()
    return [HeldMail(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or "", r[8]) for r in rows]


def held_original(engine: Engine, settings: Settings, mail_id: int) -> bytes:
    """The whole message kept for a held mail, by its row (NotFound for a row that is not a held mail)."""
    with Session(engine) as s:
        key = s.scalar(
            select(col(InboundMail.held_key)).where(
                col(InboundMail.id) == mail_id, col(InboundMail.held).is_(True)
            )
        )
    if not key:
        raise NotFound("Không có thư bị giữ lại với số này.")
    try:
        return storage_for(settings).get(key)
    except FileNotFoundError as exc:
        raise NotFound("Thư gốc không còn trong kho lưu trữ.") from exc


__all__ = [
    "HeldMail",
    "Inbound",
    "MailResult",
    "Mailbox",
    "handle_message",
    "held_messages",
    "held_original",
    "may_submit",
    "parse_message",
    "sweep_mailbox",
]
