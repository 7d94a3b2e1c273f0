"""A transport that keeps messages in memory, for tests of the outbox's bookkeeping around a session.

It is not a stand-in for a mail server: the fault tests talk to a real aiosmtpd server. It records what the
dispatcher handed over and fails chosen addresses, so tests can count sessions and see every message.
"""

from __future__ import annotations

from collections.abc import Mapping

from thidua.notifications.transports import (
    MimeMessage,
    RawMessage,
    TransportError,
    _primary_recipient,
    _Session,
    parse_raw,
)


class MemoryTransport(_Session):
    """The fake: records what was sent; `fail_for(addr, permanent=...)` makes sends to that address fail.

    `send_raw` parses the bytes and goes through `send`, so `sent` holds every message either way.
    """

    def __init__(
        self, *, failures: Mapping[str, bool] | None = None, fail_open: TransportError | None = None
    ) -> None:
        self.sent: list[MimeMessage] = []
        self.raw: list[RawMessage] = []  # what came through send_raw (also parsed into `sent`)
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

    def send_raw(self, message: RawMessage) -> None:
        self.raw.append(message)
        self.send(parse_raw(message))
