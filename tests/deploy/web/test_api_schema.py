"""schemathesis against the live portal (a real uvicorn on a free port) with an authenticated client: no
server error and no answer outside the OpenAPI schema, for every operation of /api/v1."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import free_port
from tests.deploy.web.portal_helpers import YS, YS_EMAIL, launched
from thidua.models.db import make_engine
from thidua.models.settings import Settings


@pytest.fixture(scope="module")
def live_portal(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, a TQ-YS API token) of a portal served by uvicorn in this process, on a launched campaign."""
    import uvicorn

    from thidua.deploy.web.app import create_app
    from thidua.tasks.portal.identity import Principal, create_api_token

    tmp = tmp_path_factory.mktemp("portal-schema")
    shutil.copyfile(sqlite_template, tmp / "thidua.db")
    portal_settings = Settings(
        data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'thidua.db'}", smtp_host=""
    )
    engine = make_engine(portal_settings.database_url)
    launched(engine, tmp)
    reporter = Principal(email=YS_EMAIL, name="Yên Sơn", units=frozenset({YS}))
    _, token = create_api_token(engine, reporter, YS, "schemathesis", now=datetime.now(UTC))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(portal_settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(30)
    engine.dispose()


@pytest.mark.slow
def test_api_answers_within_its_schema(live_portal: tuple[str, str]) -> None:
    """Every operation, up to 40 generated requests each (schemathesis' own pytest plugin does not run on
    pytest 9 yet, so the operations are driven through Hypothesis here)."""
    from hypothesis import given

    base, token = live_portal
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(base_url=base, headers=headers)

        check()
