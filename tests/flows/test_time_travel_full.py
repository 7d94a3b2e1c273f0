"""Time travel through the whole Tuyên Quang 2024 calendar with an injected clock and a real SMTP server.

From the launch (05/01/2024) past the final report, the dossier (both due 03/07/2024) and their escalation
days, the reminder sweep runs at 08:00 and again at 15:00 every calendar day, each followed by a dispatch;
units send their reports (some late, some never) and one is exempted from the dossier. Every day, the emails
the server received must be exactly the expected ones.

The expectation is computed here, independently of the code under test: the civil-servant days off of 2024
written out below (Tết 08–14/02, Giỗ Tổ 18/04, 27/04–01/05 with the Saturday 04/05 worked in exchange), the
due dates from the plan's rule (5 working days after each month's end, June falling due with the final
report), and the policy of examples/tuyen-quang-2024.yaml (before 5, 2, 1 working days, on the day, overdue
every 2 working days at most 3 times, escalation after 5, a daily digest) applied per day by hand.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from tests.conftest import SmtpRecorder
from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.remind.test_reminders import ADMIN, CODE, HEAD_OF_PROVINCE, _settings, _submit
from thidua.models.campaign import Deadline, DomainEvent, EnrolledUnit
from thidua.notifications.outbox import dispatch
from thidua.tasks.core.events import DEADLINE_PASSED, PERIOD_OPENED
from thidua.tasks.remind.reminders import grant_exemption, plan_reminders, queue_reminders

FIRST, LAST = date(2024, 1, 5), date(2024, 7, 15)

# ---------------------------------------------------------------- the calendar, written out

DAYS_OFF = {
    date(2024, 1, 1),  # Tết Dương lịch
    *(date(2024, 2, d) for d in range(8, 15)),  # Tết Nguyên đán Giáp Thìn, Thursday 08 to Wednesday 14
    date(2024, 4, 18),  # Giỗ Tổ Hùng Vương (10/3 âm lịch)
    date(2024, 4, 29),  # swapped for Saturday 04/05
    date(2024, 4, 30),
    date(2024, 5, 1),
}
MADE_UP = {date(2024, 5, 4)}  # a Saturday worked


def working(day: date) -> bool:
    return day in MADE_UP or (day.weekday() < 5 and day not in DAYS_OFF)


def add_working(day: date, n: int) -> date:
    step = 1 if n > 0 else -1
    for _ in range(abs(n)):
        day += timedelta(days=step)
        while not working(day):
            day += timedelta(days=step)
    return day


def working_between(start: date, end: date) -> int:
    """Working days d with start < d <= end."""
    return sum(working(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


@dataclass(frozen=True)
class Due:
    key: str
    label: str
    day: date


def deadlines() -> list[Due]:
    final = date(2024, 7, 3)  # the plan's date for the final report and the dossier (a Wednesday)
    out = []
    for month in range(1, 7):
        month_end = date(2024, month, calendar.monthrange(2024, month)[1])
        out.append(
            Due(f"2024-{month:02d}", f"Báo cáo tháng {month:02d}/2024", min(add_working(month_end, 5), final))
        )
    out.append(Due("final", "Báo cáo tổng kết phong trào thi đua chuyên đề", final))
    out.append(Due("dossier", "Hồ sơ đề nghị khen thưởng", final))
    return out


# ---------------------------------------------------------------- the story

# (unit, deadline) -> the day the report arrives (07:00, before that day's sweep). Missing = never.
REPORTING = ["TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV", "TQ-SD", "TQ-TP", "TQ-YS"]
SUBMISSIONS: dict[tuple[str, str], date] = {
    ("TQ-YS", "2024-01"): date(2024, 2, 1),  # early
    ("TQ-SD", "2024-01"): date(2024, 2, 19),  # late, after the first overdue reminder
    **{(u, "2024-01"): date(2024, 2, 26) for u in ("TQ-CH", "TQ-NH", "TQ-NV", "TQ-TP")},  # after escalation
    ("TQ-HY", "2024-01"): date(2024, 3, 5),  # very late: past every reminder
    ("TQ-LB", "2024-01"): date(2024, 3, 5),
    **{(u, "2024-02"): date(2024, 3, 5) for u in REPORTING if u not in ("TQ-HY", "TQ-LB")},
    ("TQ-HY", "2024-02"): date(2024, 3, 12),
    ("TQ-LB", "2024-02"): date(2024, 3, 12),
    **{(u, "2024-03"): date(2024, 4, 4) for u in REPORTING if u != "TQ-CH"},  # TQ-CH never sends March
    **{(u, "2024-04"): date(2024, 5, 6) for u in REPORTING if u != "TQ-NV"},
    ("TQ-NV", "2024-04"): date(2024, 5, 4),  # on the Saturday worked in exchange
    **{(u, "2024-05"): date(2024, 6, 3) for u in REPORTING if u != "TQ-LB"},  # TQ-LB never sends May
    **{(u, "2024-06"): date(2024, 7, 2) for u in REPORTING if u != "TQ-CH"},
    **{(u, "final"): date(2024, 7, 2) for u in REPORTING if u not in ("TQ-CH", "TQ-TP")},
}
EXEMPTIONS = {("TQ-NV", "dossier"): date(2024, 7, 1)}  # granted at 10:00, after that day's sweep


def owing(due: Due, day: date) -> list[str]:
    """Units that still owe `due` at the 08:00 sweep of `day` (nobody submits a dossier in this story).

    The dossier is an invitation: owed up to its deadline, never overdue (proposing nobody is allowed)."""
    if due.key == "dossier" and day > due.day:
        return []
    return [
        u
        for u in REPORTING
        if not ((u, due.key) in SUBMISSIONS and SUBMISSIONS[(u, due.key)] <= day)
        and not ((u, due.key) in EXEMPTIONS and EXEMPTIONS[(u, due.key)] < day)
    ]


Mail = tuple[str, str | None, date | None, int, str]  # (step, deadline label, due date, n, recipient)


def expected(day: date, email_of: dict[str, str]) -> tuple[set[Mail], dict[str, set[str]]]:
    """The emails of `day`, and what the digest lists (deadline label -> units)."""
    if not working(day):
        return set(), {}
    mails: set[Mail] = set()
    digest: dict[str, set[str]] = {}
    for due in deadlines():
        late = owing(due, day)
        if not late:
            continue
        steps = {add_working(due.day, -n): ("before", n) for n in (5, 2, 1)}
        steps[due.day] = ("on-day", 0)
        steps.update({add_working(due.day, 2 * k): ("overdue", 2 * k) for k in (1, 2, 3)})
        if day in steps:
            step, n = steps[day]
            mails |= {(step, due.label, due.day, n, email_of[u]) for u in late}
        if day == add_working(due.day, 5):
            mails.add(("escalate", due.label, due.day, 5, HEAD_OF_PROVINCE))
        if due.day < day:
            digest[due.label] = set(late)
    if digest:
        mails.add(("digest", None, None, 0, ADMIN))
    return mails, digest


# ---------------------------------------------------------------- what arrived

_DMY = r"(\d\d/\d\d/\d{4})"
_SUBJECTS = [
    ("before", re.compile(rf"\[Thi đua\] Nhắc hạn: (.+) – hạn {_DMY} \(còn (\d+) ngày làm việc\)")),
    ("on-day", re.compile(rf"\[Thi đua\] Hôm nay hết hạn: (.+) – hạn {_DMY}()")),
    ("overdue", re.compile(rf"\[Thi đua\] Quá hạn: (.+) – hạn {_DMY} \(quá (\d+) ngày làm việc\)")),
]
_ESCALATION = re.compile(r"\[Thi đua\] Đơn vị trực thuộc chưa gửi (.+) – quá hạn (\d+) ngày làm việc")
_DIGEST = re.compile(rf"\[Thi đua\] {CODE}: tổng hợp đơn vị chưa gửi đến ngày {_DMY}")
_DIGEST_DEADLINE = re.compile(rf"^(.+) – hạn {_DMY}, quá hạn (\d+) ngày làm việc – (\d+) đơn vị chưa gửi:$")
_UNIT_LINE = re.compile(r"^  - .+ \((TQ-[A-Z]+)\)")


def _dmy(text: str) -> date:
    d, m, y = (int(p) for p in text.split("/"))
    return date(y, m, d)


def _body(message: object) -> str:
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


def received(smtp: SmtpRecorder, start: int, day: date) -> tuple[set[Mail], dict[str, set[str]], list[str]]:
    """The emails received since `start`, the digest's listing, and any problem seen in a body."""
    mails: list[Mail] = []
    digest: dict[str, set[str]] = {}
    problems: list[str] = []
    dues = {d.label: d.day for d in deadlines()}
    for mail in smtp.received[start:]:
        msg = mail.message
        subject, to = str(msg["Subject"]), msg["To"].addresses[0].addr_spec
        if m := _DIGEST.fullmatch(subject):
            assert _dmy(m.group(1)) == day, subject
            mails.append(("digest", None, None, 0, to))
            label: str | None = None
            for line in _body(msg).splitlines():
                if d := _DIGEST_DEADLINE.match(line):
                    label = d.group(1)
                    digest[label] = set()
                    if working_between(_dmy(d.group(2)), day) != int(d.group(3)):
                        problems.append(f"digest: {line}")
                elif (u := _UNIT_LINE.match(line)) and label:
                    digest[label].add(u.group(1))
            continue
        if m := _ESCALATION.fullmatch(subject):
            mails.append(("escalate", m.group(1), dues[m.group(1)], int(m.group(2)), to))
            late = set(re.findall(r"\((TQ-[A-Z]+)\): chưa gửi", _body(msg)))
            due = next(d for d in deadlines() if d.label == m.group(1))
            if late != set(owing(due, day)):
                problems.append(f"escalation of {due.key} lists {sorted(late)}")
            continue
        for step, pattern in _SUBJECTS:
            if m := pattern.fullmatch(subject):
                mails.append((step, m.group(1), _dmy(m.group(2)), int(m.group(3) or 0), to))
                break
        else:
            raise AssertionError(f"unexpected subject {subject!r}")
    assert len(mails) == len(set(mails)), f"an email arrived twice on {day}: {sorted(map(str, mails))}"
    return set(mails), digest, problems


# ---------------------------------------------------------------- the test


@pytest.mark.slow
def test_the_whole_tuyen_quang_calendar_sends_exactly_the_expected_emails_every_day(
    engine: Engine, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_campaign_rows(engine, now=at("05/01/2024", 9))
    settings = _settings(tmp_path, engine, smtp_server)
    with engine.connect() as conn:
        stored = {r.key: r.due_date for r in conn.execute(select(col(Deadline.key), col(Deadline.due_date)))}
        units = conn.execute(
            select(col(EnrolledUnit.unit_code), col(EnrolledUnit.email), col(EnrolledUnit.reports)).where(
                col(EnrolledUnit.campaign_id) == campaign_id
            )
        ).all()
    assert stored == {d.key: d.day for d in deadlines()}  # the launch computed the same calendar
    assert sorted(u.unit_code for u in units if u.reports) == REPORTING
    email_of = {u.unit_code: str(u.email) for u in units}

    arrivals: dict[date, list[tuple[str, str]]] = defaultdict(list)
    for (unit, key), day in SUBMISSIONS.items():
        arrivals[day].append((unit, key))
    mismatches: list[str] = []
    days = 0
    day = FIRST
    while day <= LAST:
        stamp = day.strftime("%d/%m/%Y")
        for unit, key in sorted(arrivals[day]):
            _submit(engine, settings, unit, key, at(stamp, 7), tmp_path)
        start = len(smtp_server.received)
        for hour in (8, 15):  # the second sweep of the day adds nothing
            if hour == 15:
                for (unit, key), granted in EXEMPTIONS.items():
                    if granted == day:
                        reason = "Phòng nghiệp vụ nộp chung hồ sơ của Cục"
                        grant_exemption(engine, CODE, unit, key, reason, granted_by="tccb", now=at(stamp, 10))
            now = at(stamp, hour)
            queue_reminders(engine, settings, plan_reminders(engine, CODE, now), now=now)
            dispatch(engine, settings, worker_id="time-travel")
        got, digest, problems = received(smtp_server, start, day)
        want, want_digest = expected(day, email_of)
        if got != want or digest != want_digest or problems:
            missing, unexpected = sorted(map(str, want - got)), sorted(map(str, got - want))
            mismatches.append(
                f"{stamp}: missing {missing}, unexpected {unexpected}, digest {digest} != {want_digest}, "
                f"{problems}"
            )
        days += 1
        day += timedelta(days=1)

    assert mismatches == []
    assert days == 193
    # The calendar was really exercised: reminders on the Saturday worked, none in Tết or on Giỗ Tổ.
    sent_days = {d for d in (FIRST + timedelta(days=i) for i in range(days)) if expected(d, email_of)[0]}
    assert date(2024, 5, 4) in sent_days
    assert not sent_days & DAYS_OFF
    labels = {mail[1] for d in sent_days for mail in expected(d, email_of)[0]}
    assert {d.label for d in deadlines()} <= labels

    # The sweeps also recorded the calendar's events, each once: who still owed a deadline when it passed.
    with engine.connect() as conn:
        events = conn.execute(
            select(col(DomainEvent.kind), col(DomainEvent.payload_json)).where(
                col(DomainEvent.kind).in_([PERIOD_OPENED, DEADLINE_PASSED])
            )
        ).all()
    seen = Counter((kind, json.loads(payload)["deadline"]) for kind, payload in events)
    assert set(seen.values()) == {1} and len(seen) == 7 + 8  # periods Jan–Jun + final; 8 deadlines
    owed_when_passed = {
        json.loads(p)["deadline"]: json.loads(p)["owing"] for kind, p in events if kind == DEADLINE_PASSED
    }
    assert owed_when_passed == {due.key: owing(due, due.day + timedelta(days=1)) for due in deadlines()}
