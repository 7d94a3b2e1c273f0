"""Building emails and sending them: real aiosmtpd servers (plain, STARTTLS, SSL), .eml files, the fake."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SmtpRecorder, free_port
from jinja2 import UndefinedError

from tests.memory_transport import MemoryTransport
from thidua.models.settings import Settings
from thidua.notifications.message import EmailMessage, build_mime
from thidua.notifications.templating import render_email
from thidua.notifications.transports import (
    FileTransport,
    SmtpTransport,
    TransportError,
    transport_for,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 1, 5, 8, 30, tzinfo=VN)
UNIT = "Chi cục Thi hành án dân sự huyện Yên Sơn"
SUBJECT = "[Thi đua] Phát động phong trào thi đua: Giảm án có điều kiện trên một năm chưa thi hành xong"
TEXT = f"Kính gửi: {UNIT}\n\nDòng thứ hai – có dấu.\n  - Báo cáo tháng 01/2024\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def nfd(value: str) -> str:
    return unicodedata.normalize("NFD", value)


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def smtp_settings(recorder: SmtpRecorder, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        mail_from="thidua@thads.tuyenquang.gov.vn",
        smtp_timeout_seconds=5,
        **{**recorder.settings_overrides(), **extra},
    )


def message(to: str = "yenson@thads.tuyenquang.gov.vn", **kw: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": to,
        "to_name": UNIT,
        "subject": SUBJECT,
        "text": TEXT,
        "html": f"<p>Kính gửi: <b>{UNIT}</b></p>",
    }
    values.update(kw)
    return EmailMessage(**values)


def mime(msg: EmailMessage | None = None) -> MimeMessage:
    return build_mime(
        msg or message(), "thidua@thads.tuyenquang.gov.vn", "Cục THADS tỉnh Tuyên Quang", now=NOW
    )


def parsed(raw: bytes) -> MimeMessage:
    result = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(result, MimeMessage)
    return result


def display_name(raw: bytes, header: str) -> str:
    """The display name as mail clients show it (RFC 2047: whitespace between encoded words is dropped).

    The stdlib's modern parser keeps that whitespace (a CPython bug), so decode the header as sent.
    """
    value = str(email.message_from_bytes(raw)[header]).replace("\r", "").replace("\n", "")
    decoded = str(make_header(decode_header(value)))
    return decoded.rsplit("<", 1)[0].strip().strip('"')


def text_and_html(msg: MimeMessage) -> tuple[str, str | None]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None
    return text.get_content(), html.get_content() if html is not None else None


# ---------------------------------------------------------------- building


def test_it_builds_mixed_over_alternative_with_real_newlines_date_and_message_id() -> None:
    out = mime(message(attachments=()))
    assert out.get_content_type() == "multipart/alternative"
    text, html = text_and_html(out)
    assert text == TEXT and "<br" not in text
    assert html is not None and UNIT in html
    assert out["Date"] == "Fri, 05 Jan 2024 08:30:00 +0700"
    assert out["Message-ID"].startswith("<") and out["Message-ID"].endswith("@thads.tuyenquang.gov.vn>")


def test_it_attaches_files_with_their_mime_types_and_utf8_names(tmp_path: Path) -> None:
    names = ["Kế hoạch số 05-KH-CTHADS.docx", "Biểu mẫu báo cáo.xlsx", "Quyết định.pdf", "Biểu đồ.png"]
    paths = []
    for name in names:
        path = tmp_path / nfd(name)  # as saved on a Mac: decomposed
        path.write_bytes(b"content of " + name.encode())
        paths.append(path)
    out = mime(message(attachments=tuple(paths)))
    assert out.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in out.get_payload()][:1] == ["multipart/alternative"]  # type: ignore[union-attr]
    raw = out.as_bytes()
    assert b"filename*" in raw  # RFC 2231 parameters, not raw UTF-8 in a header
    raw.decode("ascii")  # every byte on the wire is 7-bit
    received = parsed(raw)
    got = [(a.get_filename(), a.get_content_type()) for a in received.iter_attachments()]
    assert got == [
        (names[0], DOCX),
        (names[1], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (names[2], "application/pdf"),
        (names[3], "image/png"),
    ]
    first = next(received.iter_attachments())
    assert first.get_content() == b"content of " + names[0].encode()


def test_it_normalises_decomposed_text_to_nfc() -> None:
    raw = mime(message(subject=nfd(SUBJECT), text=nfd(TEXT), to_name=nfd(UNIT))).as_bytes()
    out = parsed(raw)
    assert out["Subject"] == SUBJECT
    assert text_and_html(out)[0] == TEXT
    assert display_name(raw, "To") == UNIT


def test_it_refuses_a_naive_date() -> None:
    with pytest.raises(ValueError):
        build_mime(message(), "a@b.vn", None, now=datetime(2024, 1, 5, 8, 30))


LAUNCH_CONTEXT: dict[str, Any] = {
    "unit_name": UNIT,
    "campaign_title": "Giảm án có điều kiện trên một năm chưa thi hành xong",
    "campaign_code": "TQ-2024-GIAM-AN",
    "issuer_agency": "Cục Thi hành án dân sự tỉnh Tuyên Quang",
    "plan_ref": "Kế hoạch số 05/KH-CTHADS ngày 05/01/2024",
    "period_start": date(2024, 1, 2),
    "period_end": date(2024, 6, 30),
    "target_text": "Giảm từ 10% trở lên số việc có điều kiện trên một năm chưa thi hành xong",
    "deadlines": [
        {"label": "Báo cáo tháng 01/2024", "due_date": date(2024, 1, 31)},
        {"label": "Báo cáo tháng 02/2024", "due_date": date(2024, 2, 29)},
    ],
    "final_report_due": date(2024, 7, 3),
    "dossier_deadline": date(2024, 7, 3),
    "contact_department": "Phòng Tổ chức cán bộ",
    "contact_email": "tccb@thads.tuyenquang.gov.vn",
}


def test_the_launch_email_addresses_the_unit_and_gives_every_date_as_dd_mm_yyyy() -> None:
    subject, text, html = render_email("launch", LAUNCH_CONTEXT)
    assert subject == SUBJECT
    assert text.startswith(f"Kính gửi: {UNIT}\n")
    for needle in [
        "Kế hoạch số 05/KH-CTHADS ngày 05/01/2024",
        "từ ngày 02/01/2024 đến hết ngày 30/06/2024",
        "Giảm từ 10% trở lên",
        "Báo cáo tháng 01/2024: chậm nhất ngày 31/01/2024",
        "Báo cáo tháng 02/2024: chậm nhất ngày 29/02/2024",
        "chậm nhất ngày 03/07/2024",
        "Phòng Tổ chức cán bộ (tccb@thads.tuyenquang.gov.vn)",
        "gửi kèm",
    ]:
        assert needle in text
    assert "<" not in text and "&amp;" not in text
    assert html is not None and "<table" in html and "31/01/2024" in html and UNIT in html


def test_the_launch_email_escapes_html_only_and_comes_out_nfc() -> None:
    ctx = {**LAUNCH_CONTEXT, "unit_name": nfd("Phòng Tổ chức & Cán bộ <Yên Sơn>")}
    subject, text, html = render_email("launch", ctx)
    assert "Kính gửi: Phòng Tổ chức & Cán bộ <Yên Sơn>" in text
    assert html is not None and "Phòng Tổ chức &amp; Cán bộ &lt;Yên Sơn&gt;" in html
    for out in (subject, text, html):
        assert out == nfc(out)


def test_the_launch_email_refuses_a_missing_context_key() -> None:
    ctx = dict(LAUNCH_CONTEXT)
    del ctx["dossier_deadline"]
    with pytest.raises(UndefinedError):
        render_email("launch", ctx)


# ---------------------------------------------------------------- SMTP


def test_vietnamese_subject_names_body_and_docx_arrive_intact_at_a_real_smtp_server(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    plan = tmp_path / nfd("Kế hoạch thi đua 2024.docx")
    plan.write_bytes(b"PK\x03\x04 docx bytes")
    with SmtpTransport(smtp_settings(smtp_server, tmp_path)) as transport:
        transport.send(mime(message(attachments=(plan,), cc=("vanphong@thads.tuyenquang.gov.vn",))))
    [mail] = smtp_server.received
    assert mail.mail_from == "thidua@thads.tuyenquang.gov.vn"
    assert mail.rcpt_tos == ["yenson@thads.tuyenquang.gov.vn", "vanphong@thads.tuyenquang.gov.vn"]
    got = parsed(mail.data)
    assert got["Subject"] == SUBJECT
    assert display_name(mail.data, "To") == UNIT
    assert display_name(mail.data, "From") == "Cục THADS tỉnh Tuyên Quang"
    text, html = text_and_html(got)
    assert text == TEXT and "<br" not in text
    assert html is not None and UNIT in html
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == "Kế hoạch thi đua 2024.docx"
    assert attachment.get_content_type() == DOCX
    assert attachment.get_content() == b"PK\x03\x04 docx bytes"


def test_one_session_uses_one_connection_and_closes_its_socket(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    transport = SmtpTransport(smtp_settings(smtp_server, tmp_path))
    before = smtp_server.connections  # the server's own readiness probe counts as one
    with transport:
        sock = transport._client.smtp.sock
        for i in range(20):
            transport.send(mime(message(to=f"unit{i}@thads.vn", message_id=f"<m{i}@thads.vn>")))
    assert smtp_server.connections == before + 1
    assert len(smtp_server.received) == 20
    assert sock.fileno() == -1  # closed, not leaked


def test_a_550_recipient_is_permanent_and_the_connection_goes_on(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    smtp_server.reject_rcpt["nobody@thads.vn"] = "550 5.1.1 Mailbox không tồn tại"
    smtp_server.reject_rcpt["busy@thads.vn"] = "450 4.2.1 Mailbox busy"
    before = smtp_server.connections
    with SmtpTransport(smtp_settings(smtp_server, tmp_path)) as transport:
        with pytest.raises(TransportError) as permanent:
            transport.send(mime(message(to="nobody@thads.vn")))
        with pytest.raises(TransportError) as temporary:
            transport.send(mime(message(to="busy@thads.vn")))
        transport.send(mime(message(to="ok@thads.vn")))
    assert permanent.value.permanent and "550" in permanent.value.reason
    assert not temporary.value.permanent and "450" in temporary.value.reason
    assert [m.rcpt_tos for m in smtp_server.received] == [["ok@thads.vn"]]
    assert smtp_server.connections == before + 1


def test_an_invalid_address_is_refused_before_anything_is_sent(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="không hợp lệ"):
        mime(message(to="khong hop le@@thads"))
    with (
        SmtpTransport(smtp_settings(smtp_server, tmp_path)) as transport,
        pytest.raises(TransportError) as err,
    ):
        transport.send(mime(message(to="unit@b")))  # parses, but fails the address check
    assert err.value.permanent and "unit@b" in err.value.reason
    assert smtp_server.received == []


def test_an_unreachable_server_is_a_temporary_error_on_open(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite://",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_timeout_seconds=2,
    )
    transport = SmtpTransport(settings)
    with pytest.raises(TransportError) as err:
        transport.open()
    assert not err.value.permanent
    transport.close()  # harmless after a failed open


def test_it_reconnects_once_when_the_server_drops_the_connection_mid_batch(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    transport = SmtpTransport(smtp_settings(smtp_server, tmp_path))
    with transport:
        transport.send(mime(message(to="a@thads.vn")))
        old_sock = transport._client.smtp.sock
        smtp_server.stop()
        smtp_server.start()  # same port: the old connection is gone
        restarted = smtp_server.connections
        transport.send(mime(message(to="b@thads.vn")))
        smtp_server.stop()  # gone for good: the one reconnect is spent
        with pytest.raises(TransportError) as err:
            transport.send(mime(message(to="c@thads.vn")))
    assert not err.value.permanent
    assert [m.rcpt_tos[0] for m in smtp_server.received] == ["a@thads.vn", "b@thads.vn"]
    assert smtp_server.connections == restarted + 1  # exactly one reconnect
    assert transport.connections_opened == 2
    assert old_sock.fileno() == -1


@pytest.mark.parametrize(
    ("security", "ssl_flag", "starttls", "port"),
    [("none", False, False, 25), ("starttls", True, True, 587), ("ssl", True, False, 465)],
)
def test_settings_map_to_yagmail_arguments_without_keyring_or_prompt(
    tmp_path: Path, security: str, ssl_flag: bool, starttls: bool, port: int
) -> None:
    base = {
        "data_dir": tmp_path,
        "database_url": "sqlite://",
        "smtp_host": "mail.thads.vn",
        "smtp_security": security,
    }
    anonymous = SmtpTransport(Settings(**base)).yagmail_arguments()  # type: ignore[arg-type]
    assert anonymous["smtp_ssl"] is (security == "ssl")
    assert (anonymous["smtp_ssl"] or bool(anonymous["smtp_starttls"])) is ssl_flag
    assert bool(anonymous["smtp_starttls"]) is starttls and anonymous["smtp_starttls"] is not None
    if starttls:
        assert isinstance(anonymous["smtp_starttls"]["context"], ssl.SSLContext)
        assert anonymous["smtp_starttls"]["context"].verify_mode == ssl.CERT_REQUIRED
    if security == "ssl":
        assert anonymous["context"].verify_mode == ssl.CERT_REQUIRED
    assert anonymous["port"] == port and anonymous["smtp_skip_login"] is True
    assert anonymous["password"] == ""  # a string, never None: None sends yagmail to keyring and getpass
    assert anonymous.get("oauth2_file") is None
    login = SmtpTransport(
        Settings(**base, smtp_username="thidua", smtp_password="bí mật")  # type: ignore[arg-type]
    ).yagmail_arguments()
    assert login["smtp_skip_login"] is False
    assert (login["user"], login["password"]) == ({"thidua": "thidua"}, "bí mật")  # no "@gmail.com" added


# ---------------------------------------------------------------- TLS (bonus: real handshakes)


@dataclass
class TlsServer:
    port: int
    cert_pem: bytes
    received: list[bytes] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())


def _self_signed(tmp_path: Path) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime.now(dt.UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, cert_pem


@pytest.fixture(params=["starttls", "ssl"])
def tls_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, TlsServer]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_path, key_path, cert_pem = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    server = TlsServer(port=free_port(), cert_pem=cert_pem)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
            with lock:
                server.received.append(bytes(envelope.content))
            return "250 OK"

    def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            server.logins.append((data.login, data.password))
            return AuthResult(success=data.password == b"bi-mat-123")
        return AuthResult(success=False)

    kwargs: dict[str, Any] = {"authenticator": authenticator}
    if request.param == "starttls":
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the first byte.
        kwargs.update(ssl_context=server_ctx, auth_require_tls=False)
    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port, **kwargs)
    controller.start()
    yield request.param, server
    controller.stop()


def test_it_sends_over_verified_tls_and_logs_in_with_the_configured_password(
    tls_server: tuple[str, TlsServer], tmp_path: Path
) -> None:
    security, server = tls_server
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite://",
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security=security,  # type: ignore[arg-type]
        smtp_username="thidua",
        smtp_password="bi-mat-123",  # type: ignore[arg-type]
        smtp_timeout_seconds=5,
    )
    with SmtpTransport(settings, ssl_context=server.client_context()) as transport:
        transport.send(mime())
    assert server.logins == [(b"thidua", b"bi-mat-123")]
    [raw] = server.received
    assert parsed(raw)["Subject"] == SUBJECT
    # Without our trust anchor the handshake must fail: certificates are verified.
    with pytest.raises(TransportError) as err:
        SmtpTransport(settings).open()
    assert not err.value.permanent


# ---------------------------------------------------------------- files and the fake


def test_the_file_transport_writes_parseable_eml_files_atomically(tmp_path: Path) -> None:
    plan = tmp_path / "Kế hoạch.docx"
    plan.write_bytes(b"docx")
    outbox = tmp_path / "data" / "outbox"
    first = mime(message(attachments=(plan,), message_id="<launch.1@thads.vn>"))
    with FileTransport(outbox) as transport:
        transport.send(first)
        transport.send(first)  # a retry replaces its own file
        transport.send(mime(message(to="b@thads.vn", message_id="<launch.2@thads.vn>")))
    files = sorted(p.name for p in outbox.iterdir())
    assert files == ["20240105T013000Z-launch.1_thads.vn.eml", "20240105T013000Z-launch.2_thads.vn.eml"]
    got = parsed((outbox / files[0]).read_bytes())
    assert got["Subject"] == SUBJECT
    assert text_and_html(got)[0] == TEXT
    assert [a.get_filename() for a in got.iter_attachments()] == ["Kế hoạch.docx"]


def test_transport_for_picks_smtp_with_a_host_and_files_without(tmp_path: Path) -> None:
    files = transport_for(Settings(data_dir=tmp_path, database_url="sqlite://", smtp_host=""))
    assert isinstance(files, FileTransport) and files.outbox_dir == tmp_path.resolve() / "outbox"
    assert isinstance(
        transport_for(Settings(data_dir=tmp_path, database_url="sqlite://", smtp_host="mx")), SmtpTransport
    )


def test_the_memory_transport_records_and_fails_on_demand() -> None:
    fake = MemoryTransport()
    fake.fail_for("bad@thads.vn", permanent=True)
    fake.fail_for("later@thads.vn", permanent=False)
    with fake:
        fake.send(mime())
        with pytest.raises(TransportError) as permanent:
            fake.send(mime(message(to="bad@thads.vn")))
        with pytest.raises(TransportError) as temporary:
            fake.send(mime(message(to="later@thads.vn")))
    assert permanent.value.permanent and not temporary.value.permanent
    assert [m["To"].addresses[0].addr_spec for m in fake.sent] == ["yenson@thads.tuyenquang.gov.vn"]
    with pytest.raises(TransportError):
        fake.send(mime())  # closed
