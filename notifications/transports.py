"""How a built MIME message leaves the system: one interface, three implementations.

- `SmtpTransport`: a real SMTP server through yagmail (one connection per batch, reused for every message);
- `FileTransport`: one `.eml` file per message in the outbox folder (the embedded default, no mail server);
- `MemoryTransport`: the fake shipped beside them (records messages, fails on demand) for callers' tests.

Every failure is one `TransportError` whose `permanent` flag tells the dispatcher whether retrying can help.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable
from uuid import uuid4

import yagmail
from yagmail.error import YagInvalidEmailAddress
from yagmail.validate import validate_email_with_regex

from models.settings import Settings


class TransportError(Exception):
    """Sending failed; `permanent` means the same message will never succeed (bad address, 5xx)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def __repr__(self) -> str:
        return f"TransportError({self.reason!r}, permanent={self.permanent})"


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


def _is_connection_error(exc: BaseException) -> bool:
    """The session is unusable (reconnecting may help), as opposed to a refusal of one message."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "service not available, closing channel"
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def translate_smtp_error(exc: BaseException) -> TransportError:
    """smtplib/socket errors: 5xx and bad addresses are permanent; 4xx and connection trouble temporary."""
    if isinstance(exc, TransportError):
        return exc
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
    the text part with `<br>`. Credentials come only from settings: no keyring, no prompt.
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
        self._reconnected = False
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
        client = self._client_factory(**self.yagmail_arguments())
        try:
            client.login()
        except (smtplib.SMTPException, OSError) as exc:
            _discard(client)
            raise translate_smtp_error(exc) from exc
        except UnicodeError as exc:  # smtplib's AUTH encodes credentials as ASCII
            _discard(client)
            raise TransportError(
                "Tên đăng nhập và mật khẩu SMTP chỉ được chứa ký tự ASCII", permanent=True
            ) from exc
        self._client = client
        self.connections_opened += 1

    def open(self) -> None:
        if self._client is not None:
            return
        self._reconnected = False
        self._connect()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _discard(client)

    def _send_once(self, mime: MimeMessage, recipients: list[str]) -> None:
        if self._client is None:
            raise smtplib.SMTPServerDisconnected("phiên SMTP chưa mở hoặc đã đóng")
        refused = self._client.smtp.send_message(
            mime, from_addr=self._settings.mail_from, to_addrs=recipients
        )
        # smtplib raises only when every recipient is refused; a refused addressee still fails the message.
        if recipients[0] in refused:
            raise smtplib.SMTPRecipientsRefused({recipients[0]: refused[recipients[0]]})

    def send(self, mime: MimeMessage) -> None:
        _primary_recipient(mime)
        recipients = envelope_recipients(mime)
        for addr in recipients:
            try:
                validate_email_with_regex(addr)
            except YagInvalidEmailAddress as exc:
                raise TransportError(f"Địa chỉ email không hợp lệ: {addr}", permanent=True) from exc
        try:
            self._send_once(mime, recipients)
            return
        except (smtplib.SMTPException, OSError) as exc:
            if not _is_connection_error(exc) or self._reconnected:
                if _is_connection_error(exc):
                    self.close()
                raise translate_smtp_error(exc) from exc
        # The connection dropped mid-batch: one fresh connection, one more try for this message.
        self._reconnected = True
        self.close()
        self._connect()
        try:
            self._send_once(mime, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            if _is_connection_error(exc):
                self.close()
            raise translate_smtp_error(exc) from exc


# ---------------------------------------------------------------- files


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileTransport(_Session):
    """Writes `<outbox_dir>/<UTC timestamp>-<message id>.eml`, atomically (temp file + rename).

    The name derives from the Date and Message-ID headers, so a retried message replaces its own file.
    """

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)

    def open(self) -> None:
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
        stamp = (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        ident = _UNSAFE.sub("_", str(mime.get("Message-ID") or uuid4().hex).strip("<> "))[:120]
        return self.outbox_dir / f"{stamp}-{ident}.eml"

    def send(self, mime: MimeMessage) -> None:
        _primary_recipient(mime)
        target = self.path_for(mime)
        data = mime.as_bytes(policy=mime.policy.clone(linesep="\r\n"))
        tmp_name: str | None = None
        try:
            with tempfile.NamedTemporaryFile(
                dir=self.outbox_dir, prefix=".tmp-", suffix=".eml", delete=False
            ) as fh:
                tmp_name = fh.name
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            raise TransportError(f"Không ghi được tệp thư {target.name}: {exc}", permanent=False) from exc


# ---------------------------------------------------------------- in memory


class MemoryTransport(_Session):
    """The fake: records what was sent; `fail_for(addr, permanent=...)` makes sends to that address fail."""

    def __init__(
        self, *, failures: Mapping[str, bool] | None = None, fail_open: TransportError | None = None
    ) -> None:
        self.sent: list[MimeMessage] = []
        self.failures: dict[str, bool] = dict(failures or {})
        self.fail_open = fail_open
        self.sessions = 0
        self.is_open = False

    def fail_for(self, address: str, *, permanent: bool) -> None:
        self.failures[address] = permanent

    def open(self) -> None:
        if self.fail_open is not None:
            raise self.fail_open
        self.sessions += 1
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def send(self, mime: MimeMessage) -> None:
        if not self.is_open:
            raise TransportError("phiên gửi chưa mở", permanent=False)
        addressee = _primary_recipient(mime)
        if addressee in self.failures:
            permanent = self.failures[addressee]
            kind = "550 không có hộp thư" if permanent else "451 tạm thời không nhận"
            raise TransportError(f"{addressee}: {kind}", permanent=permanent)
        self.sent.append(mime)


def transport_for(settings: Settings) -> Transport:
    """SMTP when a host is configured, otherwise `.eml` files in the data dir's outbox folder."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return FileTransport(settings.outbox_dir)
