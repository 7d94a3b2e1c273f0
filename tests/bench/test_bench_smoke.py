"""The dispatch benchmark runs end to end with a handful of emails (its numbers are not checked here)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_dispatch.py"


def load_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # On sys.path, not only loaded: the SMTP server's child process (spawn) imports the module by name.
    monkeypatch.syspath_prepend(str(BENCH.parent))
    return importlib.import_module("bench_dispatch")


def test_the_dispatch_bench_delivers_every_email_on_one_connection_per_side(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_bench(monkeypatch)
    assert bench.main(["--count", "25"]) == 0
    out = capsys.readouterr().out
    assert "1 SMTP connection(s), 25 received" in out.split("floor")[0]
    assert out.count("1 SMTP connection(s), 25 received") == 2
    assert "of the floor's throughput" in out


@pytest.mark.slow
def test_the_portal_bench_uploads_through_a_real_server_and_stores_each_report_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """A handful of units against `thidua web` on a throwaway PostgreSQL database (the pg_url fixture only
    proves PostgreSQL is there; the bench makes and drops its own database through the same server)."""
    from conftest import PG_ADMIN_URL

    monkeypatch.syspath_prepend(str(BENCH.parent))
    bench = importlib.import_module("bench_portal")
    code = bench.main(["--units", "6", "--clients", "3", "--sequential", "3", "--pg", PG_ADMIN_URL])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every report stored once" in out and "errors     0 in the rush" in out
    assert "6 accepted" in out and "p99" in out and "national figures" in out
    assert "0 stored late" in out  # uploaded in the last hour before each deadline, by the injected clock
