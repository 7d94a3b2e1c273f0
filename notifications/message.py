"""Build an email (MIME) from plain data, apart from sending it: only a transport touches the network.

`EmailMessage` is what the outbox row holds; `build_mime` turns it into a standards-conforming
`email.message.EmailMessage`: multipart/alternative (text + html) wrapped in multipart/mixed when files are
attached, UTF-8 everywhere, Vietnamese headers as RFC 2047 encoded words, file names as RFC 2231 parameters.

The outbox renders each message once, when it is queued: `render_body` gives the RFC 5322 bytes of everything
but From, Date and Message-ID (the sender is a dispatch setting, the date is the moment of sending, the
Message-ID derives from the row), and `envelope_prefix` + `message_id_line` put those three in front when it
is sent. Building MIME with email.policy.default costs more than sending it, so a dispatch only streams bytes.
"""

from __future__ import annotations

import email.policy
import mimetypes
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

# 7bit forces base64/quoted-printable bodies: an 8bit body breaks on relays without 8BITMIME.
# max_line_length 998 (the RFC 5322 hard limit) keeps headers unfolded: CPython 3.11 drops the space between
# two encoded words when it folds a long UTF-8 subject ("tiếp nhận" arrived as "tiếpnhận").
MIME_POLICY = email.policy.default.clone(cte_type="7bit", max_line_length=998)

# mimetypes' answer depends on the host's /etc/mime.types; the files we send must not.
_MIME_TYPES: dict[str, str] = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".csv": "text/csv",
    ".zip": "application/zip",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
}


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


@dataclass(frozen=True)
class Attachment:
    """A file to attach as its name and bytes (read from the storage, models/storage.py)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class EmailMessage:
    """One email as plain data (what the outbox stores); attachments are files read from the storage, or
    local paths read when the message is built."""

    to: str
    subject: str
    text: str
    to_name: str | None = None
    html: str | None = None
    attachments: tuple[Attachment | Path, ...] = ()
    reply_to: str | None = None
    cc: tuple[str, ...] = ()
    message_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients: the addressee and the copies."""
        return (self.to, *self.cc)


def mime_type_for(path: Path | str) -> tuple[str, str]:
    """(maintype, subtype) for an attachment, from our table first, the platform's second."""
    name = Path(path).name
    suffix = Path(name).suffix.lower()
    full = _MIME_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    maintype, subtype = full.split("/", 1)
    return maintype, subtype


def _address(addr: str, name: str | None) -> Address:
    addr = addr.strip()
    try:
        if "@" not in addr:
            raise ValueError(addr)
        return Address(display_name=_nfc(name or "").strip(), addr_spec=addr)
    except (ValueError, MessageError) as exc:
        raise ValueError(f"Địa chỉ email không hợp lệ: {addr}") from exc


def domain_of(addr: str) -> str:
    """The domain part of an address, used for Message-IDs ('localhost' when there is none)."""
    return addr.rsplit("@", 1)[1].strip() if "@" in addr else "localhost"


def _write_content(mime: MimeMessage, msg: EmailMessage) -> None:
    """Addressees, subject, extra headers, bodies and attachments: everything but From, Date, Message-ID."""
    mime["To"] = _address(msg.to, msg.to_name)
    if msg.cc:
        mime["Cc"] = [_address(addr, None) for addr in msg.cc]
    if msg.reply_to:
        mime["Reply-To"] = _address(msg.reply_to, None)
    mime["Subject"] = " ".join(_nfc(msg.subject).split())  # one line: a newline would end the header


def _write_body(mime: MimeMessage, msg: EmailMessage) -> None:
    for name, value in msg.headers.items():
        mime[name] = _nfc(value)
    mime.set_content(_nfc(msg.text), subtype="plain", charset="utf-8")
    if msg.html:
        mime.add_alternative(_nfc(msg.html), subtype="html", charset="utf-8")
    for item in msg.attachments:
        data = item.data if isinstance(item, Attachment) else item.read_bytes()
        name = item.name
        maintype, subtype = mime_type_for(name)
        # NFC file name: files saved on macOS arrive decomposed and show as broken glyphs in Outlook.
        filename = _nfc(name)
        # Only Content-Disposition carries the name: adding a non-ASCII `name` to a long Content-Type makes
        # the stdlib fold the type itself into encoded words, which breaks the MIME type (CPython bug).
        mime.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def build_mime(msg: EmailMessage, from_addr: str, from_name: str | None, *, now: datetime) -> MimeMessage:
    """The MIME message for `msg`, dated `now` (an aware datetime: the clock is a parameter).

    Raises ValueError for an address that cannot be written, OSError when an attachment cannot be read.
    """
    if now.tzinfo is None:
        raise ValueError("an aware datetime is required for the Date header")
    mime = MimeMessage(policy=MIME_POLICY)
    mime["From"] = _address(from_addr, from_name)
    _write_content(mime, msg)
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = msg.message_id or make_msgid(domain=domain_of(from_addr))
    _write_body(mime, msg)
    return mime


# ---------------------------------------------------------------- rendered once, sent as bytes

# On the wire (and in the outbox) lines end with CRLF: smtplib sends bytes as they are.
WIRE_POLICY = MIME_POLICY.clone(linesep="\r\n")


def render_body(msg: EmailMessage) -> bytes:
    """`msg` as RFC 5322 bytes (CRLF, 7-bit) without From, Date and Message-ID, which sending puts in front.

    `msg.message_id` is ignored. Raises ValueError for an address that cannot be written, OSError when an
    attachment cannot be read.
    """
    mime = MimeMessage(policy=MIME_POLICY)
    _write_content(mime, msg)
    _write_body(mime, msg)
    return mime.as_bytes(policy=WIRE_POLICY)


def envelope_prefix(from_addr: str, from_name: str | None, *, now: datetime) -> bytes:
    """The From and Date header lines (CRLF-terminated) for messages sent at `now` by this sender."""
    if now.tzinfo is None:
        raise ValueError("an aware datetime is required for the Date header")
    head = MimeMessage(policy=MIME_POLICY)
    head["From"] = _address(from_addr, from_name)
    head["Date"] = format_datetime(now)
    raw = head.as_bytes(policy=WIRE_POLICY)
    return raw[: raw.index(b"\r\n\r\n") + 2]


def message_id_line(message_id: str) -> bytes:
    """The Message-ID header line (CRLF-terminated)."""
    try:
        return f"Message-ID: {message_id}\r\n".encode("ascii")
    except UnicodeEncodeError:
        # A sender domain in Unicode: let the policy write what it can (never expected with real domains).
        head = MimeMessage(policy=MIME_POLICY)
        head["Message-ID"] = message_id
        raw = head.as_bytes(policy=WIRE_POLICY)
        return raw[: raw.index(b"\r\n\r\n") + 2]


def assemble(prefix: bytes, message_id: str, body: bytes) -> bytes:
    """The whole message as sent: From and Date (`envelope_prefix`), Message-ID, then the rendered body."""
    return b"".join((prefix, message_id_line(message_id), body))
