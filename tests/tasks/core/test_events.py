"""Lifecycle events: DomainEvent rows on real SQLite and PostgreSQL, Prefect events seen by Prefect's own
asserting events client, and the event triggers of deploy/prefect.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._triggers import _initialize_deployment_triggers
from prefect.events.clients import AssertingEventsClient
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.events.schemas.events import Event, ResourceSpecification
from prefect.events.worker import EventsWorker
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES,
    temporary_settings,
)
from sqlalchemy import Engine, select
from sqlmodel import col

from tests.factories import TQ_DEFINITION, at
from thidua.models.campaign import DomainEvent
from thidua.models.db import transaction
from thidua.models.definition import load_definition
from thidua.tasks.core.events import (
    CLOSE_EARLY_LABEL,
    LIFECYCLE_KINDS,
    emit_domain_event,
    emit_prefect_event,
    prefect_events_enabled,
)
from thidua.tasks.launch.campaign import persist_campaign

ROOT = Path(__file__).resolve().parents[3]
CODE = "TQ-2024-GIAM-AN"
NOW = at("15/03/2024", 9)


@pytest.fixture
def campaign_id(engine: Engine) -> int:
    return persist_campaign(engine, load_definition(TQ_DEFINITION), now=at("05/01/2024", 9)).campaign_id


@pytest.fixture
def prefect_events() -> Iterator[list[Event]]:
    """Events handed to Prefect in this test, through Prefect's AssertingEventsClient (no server)."""
    AssertingEventsClient.reset()
    EventsWorker.set_client_override(AssertingEventsClient)
    seen: list[Event] = []
    try:
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            yield seen
    finally:
        EventsWorker.drain_all()
        EventsWorker.set_client_override(None)
        AssertingEventsClient.reset()


def emitted(seen: list[Event]) -> list[Event]:
    """Everything the events worker delivered so far (waits for its queue to empty)."""
    EventsWorker.instance().wait_until_empty()
    for client in AssertingEventsClient.all:
        if hasattr(client, "events"):  # set when the worker first opens its client, i.e. on the first event
            seen.extend(client.pop_events())
    return seen


def stored(engine: Engine, kind: str | None = None) -> list[DomainEvent]:
    with transaction(engine) as s:
        query = select(DomainEvent).order_by(col(DomainEvent.id))
        if kind:
            query = query.where(col(DomainEvent.kind) == kind)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def test_it_stores_the_row_and_emits_the_prefect_event_only_after_commit(
    engine: Engine, campaign_id: int, prefect_events: list[Event]
) -> None:
    payload = {"period": "Q1-2024", "revision": 1, "on_time": True}
    with transaction(engine) as s:
        emit_domain_event(
            s,
            campaign_code=CODE,
            campaign_id=campaign_id,
            kind="report.accepted",
            now=NOW,
            unit_code="TQ-02",
            payload=payload,
        )
        s.flush()
        assert emitted(prefect_events) == []  # not before the row is committed

    [row] = stored(engine, "report.accepted")
    assert (row.campaign_id, row.subject, json.loads(row.payload_json)) == (campaign_id, "TQ-02", payload)
    assert row.at == NOW

    [event] = emitted(prefect_events)
    assert event.event == "thidua.report.accepted"
    assert event.resource.id == f"thidua.campaign.{CODE}"
    assert [(r.id, r.role) for r in event.related] == [("thidua.unit.TQ-02", "unit")]
    assert event.payload == payload
    assert event.occurred == NOW


def test_a_rolled_back_transaction_stores_nothing_and_emits_nothing(
    engine: Engine, campaign_id: int, prefect_events: list[Event]
) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as s:
        emit_domain_event(
            s, campaign_code=CODE, campaign_id=campaign_id, kind="report.rejected", now=NOW, unit_code="TQ-03"
        )
        s.flush()
        raise RuntimeError("the ingest failed after the event was recorded")

    assert stored(engine, "report.rejected") == []
    assert emitted(prefect_events) == []


def test_a_rolled_back_savepoint_drops_only_its_own_event(
    engine: Engine, campaign_id: int, prefect_events: list[Event]
) -> None:
    with transaction(engine) as s:
        emit_domain_event(
            s, campaign_code=CODE, campaign_id=campaign_id, kind="period.opened", now=NOW, payload={"p": "Q1"}
        )
        savepoint = s.begin_nested()
        emit_domain_event(
            s, campaign_code=CODE, campaign_id=campaign_id, kind="report.accepted", now=NOW, unit_code="TQ-04"
        )
        savepoint.rollback()

    assert [r.kind for r in stored(engine) if r.kind in LIFECYCLE_KINDS] == ["period.opened"]
    assert [e.event for e in emitted(prefect_events)] == ["thidua.period.opened"]


def test_every_lifecycle_kind_is_emitted_under_its_thidua_name(prefect_events: list[Event]) -> None:
    for kind in sorted(LIFECYCLE_KINDS):
        assert emit_prefect_event(CODE, kind, None, {"kind": kind}) is True
    events = emitted(prefect_events)
    assert sorted(e.event for e in events) == sorted(f"thidua.{k}" for k in LIFECYCLE_KINDS)
    assert {e.resource.id for e in events} == {f"thidua.campaign.{CODE}"}
    assert all(e.related == [] for e in events)  # no unit given, no related resource


def test_an_event_prefect_refuses_does_not_fail_the_business_transaction(
    engine: Engine, campaign_id: int, prefect_events: list[Event]
) -> None:
    # emit_event re-raises EventTooLarge itself; the committed row must stand regardless.
    with temporary_settings({PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES: 200}):
        with transaction(engine) as s:
            emit_domain_event(
                s,
                campaign_code=CODE,
                campaign_id=campaign_id,
                kind="award.issued",
                now=NOW,
                unit_code="TQ-01",
                payload={"title": "Tập thể lao động xuất sắc " * 20},
            )
        assert emit_prefect_event(CODE, "award.issued", "TQ-01", {"x": "y" * 500}) is False

    assert len(stored(engine, "award.issued")) == 1
    assert emitted(prefect_events) == []


def test_without_a_prefect_destination_it_stores_the_row_and_emits_nothing(
    engine: Engine, campaign_id: int
) -> None:
    # No API URL, no run context, no client override: emitting would start a throwaway Prefect server.
    EventsWorker.set_client_override(None)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert prefect_events_enabled() is False
        with transaction(engine) as s:
            emit_domain_event(s, campaign_code=CODE, campaign_id=campaign_id, kind="deadline.passed", now=NOW)
        assert emit_prefect_event(CODE, "deadline.passed") is False
    assert len(stored(engine, "deadline.passed")) == 1


def test_it_refuses_an_unknown_kind_and_changes_nothing(engine: Engine, campaign_id: int) -> None:
    with pytest.raises(ValueError, match=r"report\.acepted"), transaction(engine) as s:
        emit_domain_event(s, campaign_code=CODE, campaign_id=campaign_id, kind="report.acepted", now=NOW)
    assert [r.kind for r in stored(engine)] == ["campaign.created"]


def test_importing_the_events_module_does_not_import_prefect() -> None:
    code = (
        "import sys, thidua.tasks.core.events;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- deploy/prefect.yaml event triggers


def triggers() -> dict[str, dict[str, Any]]:
    """The event triggers of the on-event deployments, by deployment name."""
    data = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for dep in data["deployments"]:
        for spec in dep.get("triggers") or []:
            out[dep["name"]] = spec
    return out


def test_the_deployment_triggers_parse_as_prefect_deployment_triggers() -> None:
    specs = triggers()
    assert set(specs) == {"on-deadline", "on-final-reports"}
    for name, spec in specs.items():
        # What `prefect deploy` does with them (prefect/cli/deploy/_triggers.py).
        [parsed] = _initialize_deployment_triggers(name, [dict(spec)])
        assert isinstance(parsed, DeploymentEventTrigger)
        assert parsed.expect and all(e.removeprefix("thidua.") in LIFECYCLE_KINDS for e in parsed.expect)
        assert parsed.for_each == {"prefect.resource.id"}
        assert parsed.parameters == {"code": "{{ event.resource.name }}"}
    assert triggers()["on-deadline"]["expect"] == ["thidua.deadline.passed"]


def test_only_the_last_final_report_of_a_campaign_that_may_close_early_matches_the_close_automation(
    prefect_events: list[Event],
) -> None:
    [close] = _initialize_deployment_triggers("on-final-reports", [dict(triggers()["on-final-reports"])])
    emit_prefect_event(CODE, "report.accepted", "TQ-01", {"period": "final"})
    emit_prefect_event(
        CODE, "report.accepted", "TQ-09", {"period": "final"}, labels={CLOSE_EARLY_LABEL: "true"}
    )
    events = emitted(prefect_events)
    trigger = close
    assert isinstance(trigger, DeploymentEventTrigger) and isinstance(trigger.match, ResourceSpecification)
    # Prefect's own matching of a trigger against an event's resource labels.
    assert [e.event in trigger.expect and trigger.match.matches(e.resource) for e in events] == [False, True]
