"""How a built MIME message leaves the system: one interface, three implementations.

- `SmtpTransport`: a real SMTP server through yagmail (one connection per batch, reused for every message);
- `FileTransport`: one `.eml` file per message in the outbox folder (the embedded default, no mail server);

Every failure is one `TransportError`. Its `scope` says whom it concerns: the message (the server's answer
to it: charged to the message; `permanent` tells whether retrying can help), the session (it died on this
message though a fresh connection was open: not charged) or the server (cannot be reached, or answers 421
"closing channel": not charged, and nothing else can be sent now).

Two ways in: `send(mime)` takes a built `email.message.EmailMessage`; `send_raw(RawMessage)` takes the
bytes the outbox rendered at enqueue time and streams them as they are (the dispatcher's path: serialising a
MIME object costs more than the SMTP exchange). A transport without `send_raw` still works: the dispatcher
parses the bytes and calls `send`.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage as MimeMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable
from uuid import uuid4

import yagmail
from yagmail.error import YagInvalidEmailAddress
from yagmail.validate import validate_email_with_regex

from thidua.errors import Unavailable
from thidua.models.files import write_atomic
from thidua.models.settings import Settings
from thidua.models.storage import ObjectStorage, StorageUnavailable, storage_for, storage_key
from thidua.notifications.message import WIRE_POLICY

Scope = Literal["message", "session", "server"]


class TransportError(Unavailable):
    """Sending failed; `permanent` means the same message will never succeed (bad address, 5xx).

    `scope`: "message" when the server answered this message (it is charged an attempt); "session" when the
    connection died on it twice, a fresh one included, without an answer; "server" when the server cannot be
    reached or refuses service (421). Only "message" costs the message an attempt.
    """

    def __init__(self, reason: str, *, permanent: bool, scope: Scope = "message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent and scope == "message"
        self.scope: Scope = scope

    def __repr__(self) -> str:
        return f"TransportError({self.reason!r}, permanent={self.permanent}, scope={self.scope!r})"


@runtime_checkable
class Transport(Protocol):
    """One session for a batch: `with transport: transport.send(mime)`; open/close may be called directly."""

    def open(self) -> None: ...

    def send(self, mime: MimeMessage) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@dataclass(frozen=True)
class RawMessage:
    """A whole message as it goes on the wire, with what a transport needs beside the bytes."""

    data: bytes  # RFC 5322, CRLF line ends, 7-bit
    recipients: tuple[str, ...]  # envelope RCPT TO: the addressee first, then the copies
    message_id: str
    date: datetime  # the Date header's moment (names the .eml file)


def parse_raw(message: RawMessage) -> MimeMessage:
    """The MIME object of rendered bytes (for transports that only take `send`)."""
    parsed = message_from_bytes(message.data, policy=WIRE_POLICY)
    assert isinstance(parsed, MimeMessage)
    return parsed


class _Session:
    """Context-manager plumbing shared by the transports."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def envelope_recipients(mime: MimeMessage) -> list[str]:
    """Addresses in To and Cc, To first (the addressee decides whether a refusal fails the message)."""
    values = [str(v) for v in (*mime.get_all("To", []), *mime.get_all("Cc", []))]
    return [addr for _name, addr in getaddresses(values) if addr]


def _primary_recipient(mime: MimeMessage) -> str:
    recipients = envelope_recipients(mime)
    if not recipients:
        raise TransportError("Thư không có người nhận", permanent=True)
    return recipients[0]


# ---------------------------------------------------------------- SMTP (yagmail)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _is_421(exc: BaseException) -> bool:
    """421 "service not available, closing channel": the server gives up the session, whatever the message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _msg in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


def _is_connection_error(exc: BaseException) -> bool:
    """The session is unusable (reconnecting may help), as opposed to a refusal of one message."""
    if isinstance(exc, smtplib.SMTPServerDisconnected) or _is_421(exc):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def translate_smtp_error(exc: BaseException, *, scope: Scope | None = None) -> TransportError:
    """smtplib/socket errors: 5xx and bad addresses are permanent; 4xx and connection trouble temporary.

    A 421 and every connection failure concern the server, not the message (scope "server"), unless the
    caller knows better (`scope`).
    """
    if isinstance(exc, TransportError):
        return exc
    error = _translated(exc)
    if scope is None:
        scope = "server" if _is_connection_error(exc) else "message"
    return TransportError(error.reason, permanent=error.permanent, scope=scope)


def _translated(exc: BaseException) -> TransportError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return TransportError(f"Máy chủ thư từ chối người nhận: {detail}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return TransportError(
            f"Đăng nhập máy chủ thư thất bại: {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return TransportError(
            f"Máy chủ thư trả lỗi {exc.smtp_code}: {_text(exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransportError(f"Máy chủ thư không hỗ trợ: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransportError(f"Máy chủ thư ngắt kết nối: {exc}", permanent=False)
    if isinstance(exc, TimeoutError):
        return TransportError("Quá thời gian chờ máy chủ thư", permanent=False)
    if isinstance(exc, ssl.SSLError):
        return TransportError(f"Lỗi TLS với máy chủ thư: {exc}", permanent=False)
    if isinstance(exc, OSError):
        return TransportError(f"Không kết nối được máy chủ thư: {exc}", permanent=False)
    return TransportError(f"Lỗi gửi thư: {exc!r}", permanent=False)


def _discard(client: Any) -> None:
    """Quit politely if possible, and always close the socket (quit can fail on a dead peer)."""
    client.is_closed = True  # keeps yagmail's __del__ from touching the socket again
    smtp = getattr(client, "smtp", None)
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


class SmtpTransport(_Session):
    """SMTP through yagmail 0.16: yagmail opens (and logs in on) the connection, we send our own MIME over it.

    yagmail's own `send()` is not used: it reconnects on every call (leaking the previous socket) and rewrites
    the text part with `<br>`. Each message goes out as bytes with MAIL, RCPT and DATA on the open session
    (`_exchange`). Credentials come only from settings: no keyring, no prompt.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        client_factory: Callable[..., Any] = yagmail.SMTP,
    ) -> None:
        self._settings = settings
        # smtplib's own default context does not verify certificates; ours does unless a test passes one.
        self._ssl_context = ssl_context
        self._client_factory = client_factory
        self._client: Any = None
        self.connections_opened = 0

    def yagmail_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `yagmail.SMTP(...)` from the settings."""
        s = self._settings
        context = self._ssl_context or ssl.create_default_context()
        username = s.smtp_username.strip()
        login = username or s.mail_from  # yagmail wants a user even without login (else it reads ~/.yagmail)
        args: dict[str, Any] = {
            # A one-entry dict {user: alias}: yagmail appends "@gmail.com" to a plain string without "@".
            "user": {login: login},
            # An explicit string (possibly empty) keeps yagmail away from keyring and getpass.
            "password": s.smtp_password.get_secret_value(),
            "host": s.smtp_host,
            "port": s.smtp_port,
            "smtp_ssl": s.smtp_security == "ssl",
            # A dict is passed to smtplib.starttls(**dict); False (not None) means no STARTTLS at all.
            "smtp_starttls": {"context": context} if s.smtp_security == "starttls" else False,
            "smtp_skip_login": not username,
            "soft_email_validation": False,
            "timeout": s.smtp_timeout_seconds,
        }
        if s.smtp_security == "ssl":
            args["context"] = context  # handed to smtplib.SMTP_SSL
        return args

    def _connect(self) -> None:
        """A logged-in session, or a "server" TransportError (whatever failed, no message is to blame)."""
        client = self._client_factory(**self.yagmail_arguments())
        try:
            client.login()
        except (smtplib.SMTPException, OSError) as exc:
            _discard(client)
            raise translate_smtp_error(exc, scope="server") from exc
        except UnicodeError as exc:  # smtplib's AUTH encodes credentials as ASCII
            _discard(client)
            raise TransportError(
                "Tên đăng nhập và mật khẩu SMTP chỉ được chứa ký tự ASCII", permanent=True, scope="server"
            ) from exc
        self._client = client
        self.connections_opened += 1

    def open(self) -> None:
        if self._client is not None:
            return
        self._connect()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _discard(client)

    def _send_once(self, data: bytes, recipients: list[str]) -> None:
        if self._client is None:
            raise smtplib.SMTPServerDisconnected("phiên SMTP chưa mở hoặc đã đóng")
        _exchange(self._client.smtp, self._settings.mail_from, recipients, data)

    def _deliver(self, data: bytes, recipients: list[str]) -> None:
        if not recipients:
            raise TransportError("Thư không có người nhận", permanent=True)
        for addr in recipients:
            try:
                validate_email_with_regex(addr)
            except YagInvalidEmailAddress as exc:
                raise TransportError(f"Địa chỉ email không hợp lệ: {addr}", permanent=True) from exc
        try:
            self._send_once(data, recipients)
            return
        except (smtplib.SMTPException, OSError) as exc:
            if not _is_connection_error(exc):
                raise translate_smtp_error(exc) from exc
            self.close()
        except UnicodeEncodeError as exc:  # smtplib writes commands in ASCII: an address it cannot write
            raise TransportError(f"Địa chỉ email không hợp lệ: “{exc.object}”", permanent=True) from exc
        # The session is gone (dropped, timed out, 421, or closed after an earlier message): one fresh
        # connection, one more try for this message. A server that cannot be reached raises here.
        self._connect()
        try:
            self._send_once(data, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            if not _is_connection_error(exc):
                raise translate_smtp_error(exc) from exc
            self.close()
            # A fresh session that died on this message without a 421 says nothing about the server (it
            # took the connection) nor about the message (no answer to it): the message waits, others go.
            raise translate_smtp_error(exc, scope="server" if _is_421(exc) else "session") from exc

    def send(self, mime: MimeMessage) -> None:
        _primary_recipient(mime)
        self._deliver(mime.as_bytes(policy=mime.policy.clone(linesep="\r\n")), envelope_recipients(mime))

    def send_raw(self, message: RawMessage) -> None:
        self._deliver(message.data, list(message.recipients))


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _exchange(smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> None:
    """MAIL, RCPT, DATA as smtplib.sendmail does, except that a refused addressee (the first recipient)
    aborts the message before DATA: the copies must not get an email recorded as failed."""
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _reset(smtp)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for addr in recipients:
        code, reply = smtp.rcpt(addr)
        if code not in (250, 251):
            refused[addr] = (code, reply)
            if code == 421:
                smtp.close()
                raise smtplib.SMTPRecipientsRefused(refused)
            if addr == recipients[0]:
                _reset(smtp)
                raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = smtp.data(data)
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _reset(smtp)
        raise smtplib.SMTPDataError(code, reply)


# ---------------------------------------------------------------- files


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileTransport(_Session):
    """Writes `<outbox_dir>/<UTC timestamp>-<message id>.eml`, atomically (temp file + rename).

    The name derives from the Date and Message-ID headers, so a retried message replaces its own file.
    """

    def __init__(self, outbox_dir: Path, storage: ObjectStorage | None = None) -> None:
        self.outbox_dir = Path(outbox_dir)
        # With a bucket as the storage, the files go to its outbox/ folder instead (no local file).
        self.storage = storage

    def open(self) -> None:
        if self.storage is not None:
            return
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(
                f"Không tạo được thư mục thư đi {self.outbox_dir}: {exc}", permanent=False
            ) from exc

    def close(self) -> None:
        return None

    def path_for(self, mime: MimeMessage) -> Path:
        date_header = mime.get("Date")
        moment = parsedate_to_datetime(str(date_header)) if date_header else None
        message_id = mime.get("Message-ID")
        return self._file_name(moment, str(message_id) if message_id else None)

    def _file_name(self, moment: datetime | None, message_id: str | None) -> Path:
        stamp = (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        ident = _UNSAFE.sub("_", str(message_id or uuid4().hex).strip("<> "))[:120]
        return self.outbox_dir / f"{stamp}-{ident}.eml"

    def send(self, mime: MimeMessage) -> None:
        _primary_recipient(mime)
        self._write(self.path_for(mime), mime.as_bytes(policy=mime.policy.clone(linesep="\r\n")))

    def send_raw(self, message: RawMessage) -> None:
        if not message.recipients:
            raise TransportError("Thư không có người nhận", permanent=True)
        self._write(self._file_name(message.date, message.message_id), message.data)

    def _write(self, target: Path, data: bytes) -> None:
        try:
            if self.storage is not None:
                self.storage.put(storage_key("outbox", target.name), data)
                return
            write_atomic(target, data)
        except (OSError, StorageUnavailable) as exc:
            raise TransportError(f"Không ghi được tệp thư {target.name}: {exc}", permanent=False) from exc


def transport_for(settings: Settings) -> Transport:
    """SMTP when a host is configured, otherwise `.eml` files in the storage's outbox folder (the data
    dir's, or the bucket's)."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    storage = storage_for(settings)
    return FileTransport(settings.outbox_dir, storage if isinstance(storage, ObjectStorage) else None)
