"""A local IMAP server (Debian's Dovecot) for `thidua demo` and the tests: a real server, not a stand-in.

It runs from a private folder (its own configuration, maildirs and sockets), listens on 127.0.0.1 only, on
free ports, for IMAP and LMTP: messages are delivered through LMTP, Dovecot's local delivery protocol (SMTP's
sibling for the last hop), so they land in the mailbox as a mail server would put them there. It runs without
root (then everything runs as the current user); under root it runs its processes and mail as `nobody`, since
Dovecot refuses mail access as root.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def dovecot_binary() -> str | None:
    """The dovecot executable, when Dovecot is installed (apt-get install dovecot-imapd dovecot-lmtpd)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def has_lmtp() -> bool:
    return Path("/usr/lib/dovecot/lmtp").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalImapServer:
    """Dovecot with one mailbox per user in `users` (address → password), on 127.0.0.1."""

    def __init__(
        self, users: dict[str, str], *, folder: Path | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        """`tls` = (certificate chain PEM, private key PEM): then STARTTLS on the IMAP port and implicit TLS
        on `imaps_port` too (the tests make a throwaway CA with `make_test_ca`)."""
        binary = dovecot_binary()
        if binary is None:
            raise FileNotFoundError("dovecot")
        self.binary = binary
        self.users = dict(users)
        # Dovecot's processes run as another user under root: the folder must be theirs, outside private
        # temp folders (pytest's are 0700).
        self.folder = folder or Path(tempfile.mkdtemp(prefix="thidua-imap-"))
        self._own_folder = folder is None
        self.imap_port = _free_port()
        self.lmtp_port = _free_port()
        self.tls = tls
        self.imaps_port = _free_port() if tls else 0
        self.host = "127.0.0.1"
        self._pid: int | None = None
        self.pids_stopped: list[int] = []  # masters stopped so far (the tests check none is left)

    # ------------------------------------------------------------ life

    def _identity(self) -> tuple[str, str, int, int]:
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            return user.pw_name, grp.getgrgid(user.pw_gid).gr_name, user.pw_uid, user.pw_gid
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, grp.getgrgid(os.getegid()).gr_name, os.geteuid(), os.getegid()

    def _write_config(self) -> Path:
        user, group, uid, gid = self._identity()
        root = self.folder
        for sub in ("run", "state", "home"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "passwd").write_text(
            "".join(f"{address}:{{PLAIN}}{password}\n" for address, password in self.users.items()),
            encoding="utf-8",
        )
        if self.tls:
            # Copied in: Dovecot reads them as its own user, who may not reach the caller's folders.
            for name, source in zip(("cert.pem", "key.pem"), self.tls, strict=True):
                shutil.copyfile(source, root / name)
            ssl = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem\n"
            imaps = f"address = 127.0.0.1\n    port = {self.imaps_port}"
        else:
            ssl, imaps = "ssl = no\n", "port = 0"
        config = root / "dovecot.conf"
        config.write_text(
            f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
}}
""",
            encoding="utf-8",
        )
        if os.geteuid() == 0:
            os.chmod(root, 0o755)
            for path in (root, *root.rglob("*")):
                os.chown(path, uid, gid)
        return config

    def start(self) -> None:
        """Start (or start again, on the same mailboxes and ports) and wait until both ports answer."""
        config = self._write_config()
        pid_file = self.folder / "run" / "master.pid"
        pid_file.unlink(missing_ok=True)  # a killed master leaves its own: wait for the new one's
        # The master daemonises: its output goes to a file (a pipe would be held open by the daemon).
        with (self.folder / "start.log").open("ab") as out:
            subprocess.run([self.binary, "-c", str(config)], check=True, stdout=out, stderr=out, timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ports = (self.imap_port, self.lmtp_port, *([self.imaps_port] if self.tls else []))
            if pid_file.exists() and all(self._answers(port) for port in ports):
                with contextlib.suppress(ValueError):  # written but not yet filled: read it again
                    self._pid = int(pid_file.read_text().strip())
                    return
            time.sleep(0.05)
        started = (self.folder / "start.log").read_text(errors="replace")
        raise RuntimeError(f"dovecot did not start: {started[-1000:]} {self.log()[-2000:]}")

    def _answers(self, port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, port), timeout=1):
            return True
        return False

    def stop(self) -> None:
        """Stop the server as a crash would (the connections it holds drop), and wait until it is gone.

        SIGKILL to the master and its processes (a polite SIGTERM takes seconds, its login processes
        waiting on the stats process that went first)."""
        if self._pid is None:
            return
        # The master and every process it started: a session's process would otherwise serve its open
        # connection on after the master is gone.
        for pid in (self._pid, *_children(self._pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pids_stopped.append(self._pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            process_alive(self._pid) or self._answers(self.imap_port) or self._answers(self.lmtp_port)
        ):
            time.sleep(0.02)
        self._pid = None

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ------------------------------------------------------------ mail

    def deliver(self, raw: bytes, to: str, *, sender: str = "") -> None:
        """Deliver a message to `to`'s INBOX through LMTP, as the mail server's last hop does."""
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail(sender or "<>", [to], raw)
        if refused:
            raise RuntimeError(f"LMTP refused: {refused}")

    def append(self, user: str, raw: bytes, *, when: datetime, folder: str = "INBOX") -> None:
        """File a message in a folder dated `when` (IMAP APPEND): a replay of mail received in the past."""
        with self.session(user) as imap:
            imap.append(folder, "", imaplib.Time2Internaldate(when), raw)

    @contextlib.contextmanager
    def session(self, user: str) -> Any:
        imap = imaplib.IMAP4(self.host, self.imap_port, timeout=30)
        try:
            imap.login(user, self.users[user])
            yield imap
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()

    def messages(self, user: str, folder: str) -> list[bytes]:
        """The messages in one of `user`'s folders ([] when the folder does not exist)."""
        with self.session(user) as imap:
            status, _ = imap.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, data = imap.uid("SEARCH", "ALL")
            out: list[bytes] = []
            for uid in (data[0] or b"").split():
                _, rows = imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                out += [bytes(r[1]) for r in rows if isinstance(r, tuple)]
            return out

    def settings_overrides(self, user: str, security: str = "none") -> dict[str, Any]:
        return {
            "imap_host": self.host,
            "imap_port": self.imaps_port if security == "ssl" else self.imap_port,
            "imap_security": security,
            "imap_username": user,
            "imap_password": self.users[user],
        }


def make_test_ca(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signs for `host` (an IP address), valid one day.

    Returns (CA certificate, server certificate, server key), PEM files in `folder`. For tests and the demo
    only: the CA's key is not kept."""
    import ipaddress
    from datetime import UTC, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "thidua test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _children(parent: int) -> list[int]:
    """Processes whose parent is `parent` (from /proc)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
