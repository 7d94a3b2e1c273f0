"""Builders for the council's portal tests: a campaign in review with the Cục's council of 8 (7 present, one
absent who votes in writing), six nominees whose votes end in a tie at the quota's edge, a portal served by a
real uvicorn with its access log captured, and members signing in through the emailed link."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, MetaData, select
from sqlmodel import Session, col

from tests.conftest import _sqlite_url, free_port
from tests.deploy.web.portal_helpers import Clock, link_from_outbox
from tests.factories import at, load_demo_directory
from tests.tasks.builders_council import CODE, Nominee, launch_in_review, nominate
from thidua.deploy.demo.council import demo_council
from thidua.models.review import CouncilMember, SubjectKind
from thidua.models.settings import Settings
from thidua.tasks.review.council import break_tie, cast_vote, close_meeting, meeting_summary, open_meeting

#: demo_council(size=8) on the Tuyên Quang directory: chair, three deputies, the secretary, three heads.
MEMBERS = ["TQ-01", "TQ-02", "TQ-03", "TQ-04", "TQ-TCCB-02", "TQ-VP-01", "TQ-TCCB-01", "TQ-NV-01"]
CHAIR = "TQ-01"
SECRETARY = "TQ-TCCB-02"
ABSENT = "TQ-NV-01"  # sends a written ballot, which the secretary enters
PRESENT = [m for m in MEMBERS if m != ABSENT]
EMAILS = {
    "TQ-01": "minh.ban@thads-tuyenquang.example.vn",
    "TQ-02": "thao.phan@thads-tuyenquang.example.vn",
    "TQ-03": "thuy.ngo@thads-tuyenquang.example.vn",
    "TQ-04": "thinh.nguyen@thads-tuyenquang.example.vn",
    "TQ-TCCB-02": "phuong.nguyen@thads-tuyenquang.example.vn",
    "TQ-VP-01": "hoa.nguyen@thads-tuyenquang.example.vn",
    "TQ-TCCB-01": "tung.le@thads-tuyenquang.example.vn",
    "TQ-NV-01": "quang.ly@thads-tuyenquang.example.vn",
}
HELD = at("10/07/2024", 8, 30)
#: Collectives (quota 2) and individuals (quota 3): three Chấp hành viên at 20% tie for the last two seats.
NOMINEES = [
    Nominee("TQ-TP", SubjectKind.COLLECTIVE, "35/100"),
    Nominee("TQ-NH", SubjectKind.COLLECTIVE, "20/100"),
    Nominee("TQ-TP-04", SubjectKind.INDIVIDUAL, "35/100"),
    Nominee("TQ-NH-03", SubjectKind.INDIVIDUAL, "20/100"),
    Nominee("TQ-LB-03", SubjectKind.INDIVIDUAL, "20/100"),
    Nominee("TQ-HY-03", SubjectKind.INDIVIDUAL, "20/100"),
]
#: approve, reject, abstain per nominee, over the 8 ballots (7 present + 1 written); 5 approvals pass.
TALLY = {
    "TQ-TP": (7, 1, 0),
    "TQ-NH": (5, 2, 1),
    "TQ-TP-04": (8, 0, 0),
    "TQ-NH-03": (6, 1, 1),
    "TQ-LB-03": (6, 1, 1),
    "TQ-HY-03": (6, 1, 1),
}
TIE_ORDER = ["TQ-HY-03", "TQ-NH-03"]
TIE_REASON = (
    "Đồng chí Hồ Văn Khánh có sáng kiến được Cục áp dụng; đồng chí ở Na Hang công tác ở địa bàn khó khăn"
)
LABELS = {"approve": "Đồng ý", "reject": "Không đồng ý", "abstain": "Không ý kiến"}


def choice_matrix(rotation: int = 0) -> dict[str, dict[str, str]]:
    """member -> nominee -> choice, giving TALLY. Each nominee's choices are spread over the members with a
    different offset, and `rotation` shifts who holds which whole ballot: every rotation gives the same
    tallies from different members' choices (the secrecy test compares two such meetings)."""
    out: dict[str, dict[str, str]] = {m: {} for m in MEMBERS}
    for k, (code, (a, r, _ab)) in enumerate(TALLY.items()):
        column = ["approve"] * a + ["reject"] * r
        column += ["abstain"] * (len(MEMBERS) - len(column))
        for i, member in enumerate(MEMBERS):
            out[member][code] = column[(i + 3 * k) % len(MEMBERS)]
    rotated = MEMBERS[rotation % len(MEMBERS) :] + MEMBERS[: rotation % len(MEMBERS)]
    return {member: out[holder] for member, holder in zip(MEMBERS, rotated, strict=True)}


def council_campaign(
    engine: Engine, tmp_path: Path, *, open_now: bool = True
) -> tuple[dict[str, int], int | None]:
    """The campaign in review, the council of 8 and the nominees; the meeting opened when `open_now`.
    Returns (subject code -> nomination id, meeting id)."""
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_in_review(engine)
    demo_council(engine, CODE, "TQ", now=at("01/07/2024"), size=8)
    ids = nominate(engine, campaign_id, NOMINEES)
    meeting = None
    if open_now:
        meeting = open_meeting(
            engine, CODE, "TQ", held_at=HELD, present=PRESENT, place="Hội trường Cục", actor="tccb"
        )
    return ids, meeting


def member_ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.execute(select(col(CouncilMember.person_code), col(CouncilMember.id))).all()
    return {r.person_code: r.id for r in rows}


def cli_results(
    engine: Engine, meeting: int, ids: dict[str, int], choices: dict[str, dict[str, str]], now: datetime
) -> list[tuple[str, int, int, int, str, str | None]]:
    """The same ballots through `cast_vote` (what `thidua council vote` runs), closed and the tie broken
    the same way; the summary's lines by subject code."""
    for member in MEMBERS:
        for code, choice in choices[member].items():
            cast_vote(engine, meeting, member, ids[code], choice, now=now, written=member == ABSENT)
    close_meeting(engine, CODE, meeting, now=now, actor="tccb")
    break_tie(engine, meeting, [ids[c] for c in TIE_ORDER], reason=TIE_REASON, actor=CHAIR, now=now)
    return summary_lines(engine, meeting)


def summary_lines(engine: Engine, meeting: int) -> list[tuple[str, int, int, int, str, str | None]]:
    summary = meeting_summary(engine, CODE, meeting)
    return sorted(
        (line.subject_code, line.approve, line.reject, line.abstain, line.outcome.value, line.tie_reason)
        for line in summary.lines
    )


# ---------------------------------------------------------------- signing in over HTTP


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def http_sign_in(client: httpx.Client, settings: Settings, email: str) -> str:
    """Ask for the link, read it from the outbox, redeem it; returns the session's CSRF token."""
    page = client.get("/dang-nhap")
    assert page.status_code == 200
    asked = client.post("/dang-nhap", data={"email": email, "csrf_token": csrf_in(page.text)})
    assert asked.status_code == 200, asked.text
    deadline = time.monotonic() + 20
    while True:  # a live server sends the email after answering (a background task)
        try:
            token = link_from_outbox(settings, email)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    confirm = client.get("/dang-nhap/xac-nhan", params={"t": token})
    done = client.post("/dang-nhap/xac-nhan", data={"t": token, "csrf_token": csrf_in(confirm.text)})
    assert done.status_code in (200, 303), done.text
    home = client.get("/hoi-dong")
    assert home.status_code == 200, home.text
    return csrf_in(home.text)


# ---------------------------------------------------------------- a live portal with its logs


class LogCapture(logging.Handler):
    """Every log record of the process while the portal runs (uvicorn's access and error logs, ours)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # the test's own HTTP client, not the portal
        line = self.format(record)
        with LOCK:
            self.lines.append(line)


LOCK = threading.Lock()


@contextmanager
def live_portal(settings: Settings, engine: Engine, clock: Clock) -> Iterator[tuple[str, LogCapture]]:
    """The portal served by uvicorn on a free port with its access log on; every log line captured."""
    import uvicorn

    from thidua.deploy.web.app import create_app

    capture = LogCapture()
    root = logging.getLogger()
    watched = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error", "thidua")]
    old = [(lg, lg.level, lg.propagate) for lg in [root, *watched]]
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for lg in watched:
        lg.setLevel(logging.DEBUG)
        lg.propagate = True
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=clock, engine=engine),
            host="127.0.0.1",
            port=port,
            log_config=None,  # keep the records flowing to the root logger, where the capture listens
            log_level="debug",
            access_log=True,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", capture
    finally:
        server.should_exit = True
        thread.join(30)
        root.removeHandler(capture)
        for lg, level, propagate in old:
            lg.setLevel(level)
            lg.propagate = propagate


def dump_tables(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as the database holds it."""
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, list[dict[str, object]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [dict(r._mapping) for r in conn.execute(table.select().order_by(*order))]
    return out


@pytest.fixture(name="twin_url")
def twin_url_fixture(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A second empty database of the same kind as `db_url`."""
    if db_url.startswith("postgresql"):
        yield request.getfixturevalue("pg_url")
    else:
        (tmp_path / "twin").mkdir()
        yield _sqlite_url(sqlite_template, tmp_path / "twin")
