"""Lifecycle events: stored as DomainEvent rows, and emitted as Prefect events once the transaction commits.

The row is the record (the audit trail, what reminders and reports read); the Prefect event is a
notification for automations in server mode (the triggers in deploy/prefect.yaml). So the Prefect side is
best effort and never fails the business transaction: it is sent after commit (a rolled-back transaction
emits nothing), any
error is logged and swallowed, and it is sent only when Prefect is already loaded in this process AND has
somewhere to send to (an API URL, a run context, or a test client override). Otherwise
`prefect.events.emit_event` would start a throwaway ephemeral Prefect server just to drop the event, and a
read-only CLI command would pay for importing Prefect at all: this module never imports Prefect itself.

Event names are `thidua.<kind>`; the resource is the campaign (`thidua.campaign.<CODE>`), the related resource
the unit (`thidua.unit.<UNIT>`, role `unit`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import event as sa_event
from sqlmodel import Session

from thidua.models.campaign import DomainEvent

log = logging.getLogger(__name__)

CAMPAIGN_LAUNCHED: Final = "campaign.launched"
PERIOD_OPENED: Final = "period.opened"
REPORT_ACCEPTED: Final = "report.accepted"
REPORT_REJECTED: Final = "report.rejected"
DEADLINE_PASSED: Final = "deadline.passed"
CAMPAIGN_CLOSED: Final = "campaign.closed"
AWARD_ISSUED: Final = "award.issued"
LIFECYCLE_KINDS: Final = frozenset(
    {
        CAMPAIGN_LAUNCHED,
        PERIOD_OPENED,
        REPORT_ACCEPTED,
        REPORT_REJECTED,
        DEADLINE_PASSED,
        CAMPAIGN_CLOSED,
        AWARD_ISSUED,
    }
)
EVENT_PREFIX: Final = "thidua."

_PENDING_KEY: Final = "thidua.pending_prefect_events"


def event_name(kind: str) -> str:
    """`report.accepted` → `thidua.report.accepted` (what automations match on)."""
    return EVENT_PREFIX + kind


# Resource label of a report.accepted event that completes the campaign's final reports when the campaign may
# close early: a trigger in deploy/prefect.yaml starts the closing run on it (triggers match labels, not
# payloads).
CLOSE_EARLY_LABEL: Final = "thidua.close-early"


def campaign_resource(code: str, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**(labels or {}), "prefect.resource.id": f"thidua.campaign.{code}", "prefect.resource.name": code}


def unit_related(unit_code: str) -> dict[str, str]:
    return {"prefect.resource.id": f"thidua.unit.{unit_code}", "prefect.resource.role": "unit"}


def _check_kind(kind: str) -> None:
    # A misspelt kind would be stored and emitted silently and no automation would ever match it.
    if kind not in LIFECYCLE_KINDS:
        raise ValueError(f"unknown lifecycle event kind {kind!r}; expected one of {sorted(LIFECYCLE_KINDS)}")


def _plain(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as JSON values (dates as ISO strings), as the DomainEvent row stores it."""
    return dict(json.loads(json.dumps(payload or {}, ensure_ascii=False, default=str)))


def prefect_events_enabled() -> bool:
    """True when a Prefect event would reach something without starting a server or importing Prefect."""
    if "prefect" not in sys.modules:
        return False
    try:
        from prefect.context import FlowRunContext, TaskRunContext
        from prefect.events.worker import EventsWorker
        from prefect.settings import PREFECT_API_URL

        return bool(
            PREFECT_API_URL.value()
            or EventsWorker._client_override is not None
            or FlowRunContext.get() is not None
            or TaskRunContext.get() is not None
        )
    except Exception:  # a broken Prefect installation must not break reporting
        log.exception("cannot tell whether Prefect events can be emitted")
        return False


def emit_prefect_event(
    code: str,
    kind: str,
    unit_code: str | None = None,
    payload: dict[str, Any] | None = None,
    *,
    occurred: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> bool:
    """Emit `thidua.<kind>` for campaign `code` (and unit) now; True when it was handed to Prefect.

    For flows, after the transaction that stored the DomainEvent row. `labels` are extra resource labels
    (e.g. {CLOSE_EARLY_LABEL: "true"}). Never raises for Prefect's sake.
    """
    _check_kind(kind)
    if not prefect_events_enabled():
        return False
    try:
        from prefect.events import emit_event

        emitted = emit_event(
            event=event_name(kind),
            resource=campaign_resource(code, labels),
            related=[unit_related(unit_code)] if unit_code else None,
            payload=_plain(payload),
            occurred=occurred,
        )
    except Exception:
        # Events are notifications; the row is already committed and is the record.
        log.exception("could not emit Prefect event %s for %s", event_name(kind), code)
        return False
    return emitted is not None


def _emit_pending(session: Session) -> None:
    pending: list[tuple[Any, dict[str, Any]]] = session.info.pop(_PENDING_KEY, [])
    for _transaction, item in pending:
        emit_prefect_event(**item)


def _within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    # A savepoint rolled back takes only its own events with it; the outer transaction takes them all.
    pending: list[tuple[Any, dict[str, Any]]] = session.info.get(_PENDING_KEY, [])
    session.info[_PENDING_KEY] = [p for p in pending if not _within(p[0], previous_transaction)]


def record_event(
    session: Session,
    *,
    campaign_id: int | None,
    kind: str,
    now: datetime,
    subject: str | None = None,
    actor: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Store one audit row (DomainEvent) in the caller's transaction: the one writer of the event table."""
    session.add(
        DomainEvent(
            campaign_id=campaign_id,
            kind=kind,
            subject=subject,
            actor=actor,
            at=now,
            payload_json=json.dumps(payload or {}, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def emit_domain_event(
    session: Session,
    *,
    campaign_code: str,
    campaign_id: int | None,
    kind: str,
    now: datetime,
    unit_code: str | None = None,
    payload: dict[str, Any] | None = None,
    actor: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Store the DomainEvent row in the caller's transaction; emit the Prefect event when it commits.

    A rollback discards the pending Prefect event along with the row.
    """
    _check_kind(kind)
    record_event(
        session,
        campaign_id=campaign_id,
        kind=kind,
        now=now,
        subject=unit_code,
        actor=actor,
        payload=payload,
    )
    if not sa_event.contains(session, "after_commit", _emit_pending):
        sa_event.listen(session, "after_commit", _emit_pending)
        sa_event.listen(session, "after_soft_rollback", _drop_rolled_back)
    current = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_KEY, []).append(
        (
            current,
            {
                "code": campaign_code,
                "kind": kind,
                "unit_code": unit_code,
                "payload": _plain(payload),  # as it is now: the caller may reuse its dict
                "occurred": now,
                "labels": dict(labels or {}),
            },
        )
    )
