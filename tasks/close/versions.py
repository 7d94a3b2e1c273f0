"""Versions of a campaign's closing report: what the units received, and what replaces it after a reopening.

The closing run writes the report and emails it once. When an administrator reopens the reporting
(`thidua reopen CODE --reason …`) and the campaign closes again, the report is rewritten; if what it says
changed, it is a new version, emailed once more, saying which version it replaces and why (the reasons given
to reopen). What the report says is its *fingerprint*: a SHA-256 of every figure, result, rank and ledger
difference, without the dates, so a close that changes nothing (a re-run, or a reopening in which nobody sent
anything) keeps the version already sent, its date and its files.

Each version sent is an audit row (DomainEvent `closing.report_issued`: number, fingerprint, date, the version
it replaces and why), written in the transaction that queues its emails, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus, DomainEvent
from thidua.models.indicators import IndicatorResult
from thidua.models.reconciliation import LedgerCheck
from thidua.models.text import fmt_date
from thidua.notifications.documents.closing import ClosingContent, PersonResult, UnitResult
from thidua.tasks.core.events import record_event

ISSUED = "closing.report_issued"
REOPENED = f"campaign.{CampaignStatus.COLLECTING.value}"
RECOMPUTED = "số liệu tổng kết được tính lại sau lần gửi trước"


@dataclass(frozen=True)
class ReportVersion:
    number: int  # 1 for the first report sent
    fingerprint: str
    report_date: date  # the date the report carries: the day of the close that made this version
    replaces: int | None = None
    replaced_date: date | None = None
    reason: str | None = None  # why the campaign was reopened since the version replaced
    issued: bool = False  # its emails are queued (the audit row exists)

    @property
    def note(self) -> str | None:
        """The line under the report's subject from version 2 on."""
        if self.replaces is None or self.replaced_date is None:
            return None
        why = f"; lý do: {self.reason}" if self.reason else ""
        return (
            f"(Báo cáo lần {self.number}, thay thế báo cáo tổng kết lần {self.replaces} "
            f"ngày {fmt_date(self.replaced_date)}{why})"
        )


def _results_json(results: dict[str, IndicatorResult] | Any) -> dict[str, Any]:
    return {key: r.as_json() for key, r in sorted(results.items())}


def _check_json(check: LedgerCheck | None) -> list[Any] | None:
    if check is None:
        return None
    return [[f.key, f.reported, f.ledger] for f in check.figures]


def _subject_json(subject: UnitResult | PersonResult) -> list[Any]:
    return [
        subject.code,
        dict(sorted(subject.figures.items())),
        _results_json(subject.results),
        subject.rank,
        subject.has_report,
        _check_json(subject.ledger),
    ]


def fingerprint(content: ClosingContent) -> str:
    """What the report says, without its dates or version: the same results give the same fingerprint."""
    substance = {
        "period": [content.data_label, content.data_is_final],
        "units": [[*_subject_json(u), u.name] for u in content.units],
        "total": _subject_json(content.total),
        "persons": [[*_subject_json(p), p.full_name, p.unit_code] for p in content.persons],
    }
    text = json.dumps(substance, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _issued(conn: Connection, campaign_id: int) -> tuple[int, dict[str, Any]] | None:
    row = (
        conn.execute(
            select(col(DomainEvent.id), col(DomainEvent.payload_json))
            .where(col(DomainEvent.campaign_id) == campaign_id, col(DomainEvent.kind) == ISSUED)
            .order_by(col(DomainEvent.id).desc())
            .limit(1)
        )
        .tuples()
        .first()
    )
    if row is None or row[0] is None:
        return None
    return row[0], json.loads(row[1])


def _reopen_reasons(conn: Connection, campaign_id: int, after_event: int, tz: tzinfo) -> str | None:
    """The reasons given to every reopening after the audit row `after_event`, with their dates."""
    rows = conn.execute(
        select(col(DomainEvent.at), col(DomainEvent.payload_json))
        .where(
            col(DomainEvent.campaign_id) == campaign_id,
            col(DomainEvent.kind) == REOPENED,
            col(DomainEvent.id) > after_event,
        )
        .order_by(col(DomainEvent.id))
    ).all()
    reasons = []
    for at, payload_json in rows:
        payload = json.loads(payload_json)
        if payload.get("reopened") and payload.get("reason"):
            day = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(tz)  # stored as UTC
            reasons.append(f"mở lại kỳ báo cáo ngày {fmt_date(day)}: “{payload['reason']}”")
    return "; ".join(reasons) or None


def report_version(conn: Connection, campaign_id: int, content: ClosingContent, tz: tzinfo) -> ReportVersion:
    """The version `content` is: the last one sent when it says the same, else the next one."""
    mark = fingerprint(content)
    last = _issued(conn, campaign_id)
    if last is None:
        return ReportVersion(1, mark, content.closed_on)
    event_id, payload = last
    if payload["fingerprint"] == mark:
        replaced = payload.get("replaced_date")
        return ReportVersion(
            number=int(payload["version"]),
            fingerprint=mark,
            report_date=date.fromisoformat(payload["report_date"]),
            replaces=payload.get("replaces"),
            replaced_date=date.fromisoformat(replaced) if replaced else None,
            reason=payload.get("reason"),
            issued=True,
        )
    return ReportVersion(
        number=int(payload["version"]) + 1,
        fingerprint=mark,
        report_date=content.closed_on,
        replaces=int(payload["version"]),
        replaced_date=date.fromisoformat(payload["report_date"]),
        reason=_reopen_reasons(conn, campaign_id, event_id, tz) or RECOMPUTED,
    )


def settle(content: ClosingContent, version: ReportVersion) -> ClosingContent:
    """The content as the version's document: its date, number and the note of what it replaces."""
    day = version.report_date
    return replace(
        content,
        header=replace(content.header, date=day),
        closed_on=day,
        version=version.number,
        revision_note=version.note,
    )


def record_issued(
    s: Session, campaign_id: int, version: ReportVersion, *, now: datetime, documents: dict[str, str]
) -> None:
    """The audit row of a version whose emails are being queued in the same transaction."""
    record_event(
        s,
        campaign_id=campaign_id,
        kind=ISSUED,
        now=now,
        actor="close",
        subject=f"closing_report:{version.number}",
        payload={
            "version": version.number,
            "fingerprint": version.fingerprint,
            "report_date": version.report_date.isoformat(),
            "replaces": version.replaces,
            "replaced_date": version.replaced_date.isoformat() if version.replaced_date else None,
            "reason": version.reason,
            "documents": documents,
        },
    )


__all__ = ["ISSUED", "ReportVersion", "fingerprint", "record_issued", "report_version", "settle"]
