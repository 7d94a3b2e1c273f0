"""The secret ballot, proven on the portal served by a real uvicorn (access log on, every log line of the
process captured), on SQLite and PostgreSQL.

The proof is a comparison: the same meeting is held twice on two identical databases, with the same members
voting in the same order and the same tallies, but every member holding a different ballot the second time
(`choice_matrix(rotation)`). If anything — a row of any table, an audit event, a log line, a page or an API
answer a member gets, the minutes — tied a member to a choice, the two meetings would differ there. They do
not, once the random secrets (session, CSRF and sign-in tokens) and the client's port are masked. On top,
direct scans: no log line holds a choice or the ballot form's body, and no row holds a member beside one.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from sqlalchemy import Engine

from tests.deploy.web.council_helpers import (
    ABSENT,
    CHAIR,
    EMAILS,
    MEMBERS,
    PRESENT,
    SECRETARY,
    TALLY,
    TIE_ORDER,
    TIE_REASON,
    choice_matrix,
    council_campaign,
    dump_tables,
    http_sign_in,
    live_portal,
    summary_lines,
    twin_url_fixture,  # noqa: F401 - the fixture `twin_url`
)
from tests.deploy.web.portal_helpers import Clock
from tests.factories import at
from thidua.models.db import make_engine
from thidua.models.settings import Settings

CHOICE_WORDS = re.compile(r"\b(approve|reject|abstain)\b", re.IGNORECASE)
RANDOM = re.compile(r"[A-Za-z0-9_\-]{20,}")
DELIVERY = {("outbox_message", c) for c in ("claimed_by", "claimed_at", "message_id", "mime", "sent_at")}
PORT = re.compile(r"127\.0\.0\.1:\d+")


def _timed(line: str) -> bool:
    """Lines whose wording depends on the wall clock, not on the ballots: the outbox's batches of sign-in
    emails (a batch may take one link or two) and uvicorn waiting on connections at shutdown. They are still
    scanned for choices below."""
    return line.startswith("thidua.notifications.outbox") or "Waiting for" in line


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return PORT.sub("127.0.0.1:PORT", RANDOM.sub("<ngẫu nhiên>", value))
    if isinstance(value, bytes):
        return _mask(value.decode("utf-8", "replace"))
    return value


@dataclass
class Meeting:
    ids: dict[str, int]
    meeting_id: int
    tables: dict[str, list[dict[str, object]]]
    logs: list[str]
    responses: dict[tuple[str, str, str], str]  # (phase, member, url) -> body
    minutes: list[str]
    summary: list[tuple[str, int, int, int, str, str | None]]


def _hold(url: str, tmp: Path, rotation: int) -> Meeting:
    """One whole meeting over HTTP: every member signs in, the present ones vote, the secretary enters the
    absent member's written ballot and closes, the chair breaks the tie; what every member could read at
    each step is kept."""
    tmp.mkdir(exist_ok=True)
    engine = make_engine(url)
    settings = Settings(data_dir=tmp / "data", database_url=url, smtp_host="")
    ids, meeting_id = council_campaign(engine, tmp)
    assert meeting_id is not None
    matrix = choice_matrix(rotation)
    responses: dict[tuple[str, str, str], str] = {}
    pages = [
        "/hoi-dong",
        f"/hoi-dong/hop/{meeting_id}",
        "/api/v1/council/meetings",
        f"/api/v1/council/meetings/{meeting_id}",
    ]
    try:
        with live_portal(settings, engine, Clock(at("10/07/2024", 9))) as (base, logs):
            clients = {m: httpx.Client(base_url=base, follow_redirects=False) for m in MEMBERS}
            csrf = {m: http_sign_in(clients[m], settings, EMAILS[m]) for m in MEMBERS}

            def read_all(phase: str) -> None:
                for m in MEMBERS:
                    for page in pages:
                        answer = clients[m].get(page)
                        assert answer.status_code == 200, (page, answer.text[:500])
                        responses[(phase, m, page)] = answer.text

            read_all("trước khi bỏ phiếu")
            for m in PRESENT:
                body = {"csrf_token": csrf[m], **{f"n{ids[c]}": v for c, v in matrix[m].items()}}
                answer = clients[m].post(f"/hoi-dong/hop/{meeting_id}/phieu", data=body)
                assert answer.status_code == 303, answer.text
                responses[("gửi phiếu", m, "location")] = answer.headers["location"] + answer.text
                read_all(f"sau phiếu của {m}")
            written = {"csrf_token": csrf[SECRETARY], "thanh_vien": ABSENT}
            written |= {f"n{ids[c]}": v for c, v in matrix[ABSENT].items()}
            answer = clients[SECRETARY].post(f"/hoi-dong/hop/{meeting_id}/phieu-van-ban", data=written)
            assert answer.status_code == 303, answer.text
            read_all("sau phiếu bằng văn bản")
            closing = clients[SECRETARY].post(
                f"/hoi-dong/hop/{meeting_id}/ket-thuc", data={"csrf_token": csrf[SECRETARY]}
            )
            assert closing.status_code == 303, closing.text
            read_all("sau khi kết thúc")
            tie = {"csrf_token": csrf[CHAIR], "ly_do": TIE_REASON}
            tie |= {f"thu_tu_{ids[c]}": str(i) for i, c in enumerate(TIE_ORDER, 1)}
            assert clients[CHAIR].post(f"/hoi-dong/hop/{meeting_id}/bang-nhau", data=tie).status_code == 303
            read_all("sau quyết định của Chủ tịch")
            minutes = clients["TQ-03"].get(f"/hoi-dong/hop/{meeting_id}/bien-ban.docx")
            assert minutes.status_code == 200
            for client in clients.values():
                client.close()
        document = Document(BytesIO(minutes.content))
        text = [p.text for p in document.paragraphs]
        text += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return Meeting(
            ids,
            meeting_id,
            dump_tables(engine),
            list(logs.lines),
            responses,
            text,
            summary_lines(engine, meeting_id),
        )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_nothing_anywhere_ties_a_member_to_a_choice(db_url: str, twin_url: str, tmp_path: Path) -> None:
    first = _hold(db_url, tmp_path / "a", rotation=0)
    second = _hold(twin_url, tmp_path / "b", rotation=3)
    matrix0, matrix3 = choice_matrix(0), choice_matrix(3)
    assert all(matrix0[m] != matrix3[m] for m in MEMBERS)  # every member's ballot differs between the two

    # The results are the council's, whoever chose what.
    assert first.summary == second.summary
    assert {code: (a, r, b) for code, a, r, b, _o, _t in first.summary} == TALLY

    # Every row of every table, the audit trail with it, is the same.
    assert first.tables.keys() == second.tables.keys()
    for table in first.tables:
        masked = [{k: _mask(v) for k, v in row.items()} for row in first.tables[table]]
        other = [{k: _mask(v) for k, v in row.items()} for row in second.tables[table]]
        differing = {(table, k) for a, b in zip(masked, other, strict=True) for k in a if a[k] != b[k]}
        # Only the delivery of the sign-in emails (sent by the outbox on the wall clock) may differ.
        assert len(masked) == len(other) and differing <= DELIVERY, (differing - DELIVERY, table)
    assert len([e for e in first.tables["domain_event"] if e["kind"] == "ballot.cast"]) == 6 * len(MEMBERS)

    # Every page and API answer every member got, at every step, is the same.
    assert first.responses.keys() == second.responses.keys()
    for key, body in first.responses.items():
        assert _mask(body) == _mask(second.responses[key]), key
    assert first.minutes == second.minutes

    # Every log line of the portal (uvicorn's access and error logs, the application's) is the same.
    assert Counter(_mask(x) for x in first.logs if not _timed(x)) == Counter(
        _mask(x) for x in second.logs if not _timed(x)
    )
    access = [line for line in first.logs if line.startswith("uvicorn.access")]
    assert any(f"POST /hoi-dong/hop/{first.meeting_id}/phieu HTTP/1.1" in line for line in access)
    for line in first.logs:
        assert not CHOICE_WORDS.search(line), line
        assert not re.search(r"\bn\d+=", line), line  # the ballot form's body is never logged
        assert "?" not in line.split(" HTTP/1.1")[0] or "/dang-nhap/xac-nhan?t=" in line, line

    # No row holds a member (code, name or email) beside a choice.
    members = set(MEMBERS) | set(EMAILS.values())
    members |= {str(r["full_name"]) for r in first.tables["council_member"]}
    for table, rows in first.tables.items():
        for row in rows:
            text = " ".join(str(v) for v in row.values())
            if any(m in text for m in members):
                assert not CHOICE_WORDS.search(text), (table, row)
                assert not re.search(r"(?i)không đồng ý|không ý kiến", text), (table, row)


def test_one_member_submitting_twice_at_once_is_counted_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Two tabs of the same member send the ballot at the same moment (through uvicorn's thread pool, on
    SQLite and PostgreSQL): one is counted, the other refused, nothing is counted twice."""
    ids, meeting_id = council_campaign(engine, tmp_path)
    choices = choice_matrix()["TQ-03"]
    other = {code: "reject" for code in choices}
    with live_portal(settings, engine, Clock(at("10/07/2024", 9))) as (base, _logs):
        first = httpx.Client(base_url=base, follow_redirects=False)
        csrf = http_sign_in(first, settings, EMAILS["TQ-03"])
        second = httpx.Client(base_url=base, follow_redirects=False, cookies=first.cookies)
        gate = threading.Barrier(2)
        answers: list[int] = []

        def send(client: httpx.Client, ballot: dict[str, str]) -> None:
            body = {"csrf_token": csrf, **{f"n{ids[c]}": v for c, v in ballot.items()}}
            gate.wait()
            answers.append(client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=body).status_code)

        threads = [threading.Thread(target=send, args=(c, b)) for c, b in ((first, choices), (second, other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        first.close()
        second.close()
    assert sorted(answers) == [303, 422]
    tables = dump_tables(engine)
    assert len(tables["ballot_cast"]) == 6
    assert all(r["approve"] + r["reject"] + r["abstain"] == 1 for r in tables["ballot_tally"])
