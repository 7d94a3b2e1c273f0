"""Every route of the portal, enumerated from the application itself: each must be classified (public, unit,
council, admin) or this test fails, so a route added later is checked without anyone remembering to. An
anonymous caller and a unit reporter (session and API token) reach no administrator route, page or API, by
any method; nor any council route other than being refused or sent to sign in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.routing import Mount

from tests.deploy.web.portal_helpers import CODE, YS, YS_EMAIL, client_for, launched, new_clock, sign_in
from thidua.deploy.web.app import create_app
from thidua.models.settings import Settings
from thidua.tasks.portal.identity import Principal, create_api_token

PUBLIC = re.compile(
    r"^/(dang-nhap(/xac-nhan)?|dang-xuat|docs/oauth2-redirect|api/v1/(openapi\.json|docs))$|^/$"
)
UNIT = re.compile(r"^/(don-vi(/|$)|api/v1/(me|units/))")
COUNCIL = re.compile(r"^/(hoi-dong|api/v1/council)(/|$)")
ADMIN = re.compile(r"^/(quan-tri|api/v1/admin)(/|$)")
# Fillers for path parameters: plausible values, so a refusal is the role check and not a 404 of the path.
FILLERS = {
    "code": CODE,
    "unit": YS,
    "period": "2024-03",
    "ident": "0" * 64,
}


def classify(path: str) -> str:
    for name, pattern in (("admin", ADMIN), ("council", COUNCIL), ("unit", UNIT), ("public", PUBLIC)):
        if pattern.search(path):
            return name
    raise AssertionError(f"route {path} is not classified (public, unit, council or admin): add it here")


def concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        if kind == "int" or name.endswith("_id") or name in ("revision", "grant", "meeting"):
            return "1"
        return FILLERS.get(name, "x1")

    return re.sub(r"\{([^}]+)\}", fill, path)


def routes() -> list[tuple[str, str, str]]:
    """(method, concrete path, class) of every route of the app (the static mount aside)."""
    app = create_app(Settings(data_dir=Path("/nonexistent"), database_url="sqlite://"), engine=_engine())
    out = []
    # FastAPI keeps included routers as such in app.routes; iter_route_contexts flattens them with their
    # prefixes, as the router matches them.
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            assert context.path == "/static", context.path
            continue
        path = context.path
        methods = sorted(context.methods or {"GET"})
        for method in methods:
            if method == "HEAD":
                continue
            out.append((method, concrete(path), classify(path)))
    return out


def _engine() -> Engine:
    from thidua.models.db import make_engine

    return make_engine("sqlite://")


def test_every_route_is_classified_and_admin_routes_exist() -> None:
    table = routes()
    kinds = {kind for _m, _p, kind in table}
    assert {"public", "unit", "admin"} <= kinds
    admin = [p for _m, p, kind in table if kind == "admin"]
    assert any(p.startswith("/api/v1/admin/") for p in admin) and any(
        p.startswith("/quan-tri") for p in admin
    )
    assert len(admin) >= 25


def _call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None) -> int:
    kwargs: dict[str, object] = {"headers": headers or {}, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["data"] = {"reason": "x", "unit": YS, "deadline": "2024-03"}
    return client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]


@pytest.fixture
def portal(engine: Engine, tmp_path: Path, db_url: str) -> tuple[Settings, Engine]:
    launched(engine, tmp_path)
    return Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host=""), engine


def test_anonymous_and_unit_callers_reach_no_admin_or_council_route(portal: tuple[Settings, Engine]) -> None:
    settings, engine = portal
    table = [(m, p, k) for m, p, k in routes() if k in ("admin", "council")]
    anonymous = client_for(settings, engine, new_clock())
    reporter = client_for(settings, engine, new_clock())
    csrf = sign_in(reporter, settings, YS_EMAIL)
    _, token = create_api_token(
        engine,
        Principal(email=YS_EMAIL, name="Yên Sơn", units=frozenset({YS})),
        YS,
        "t",
        now=datetime.now(UTC),
    )
    machine = TestClient(create_app(settings, clock=new_clock(), engine=engine))
    for method, path, kind in table:
        status = _call(anonymous, method, path)
        if path.startswith("/api/"):
            assert status == 401, (method, path, status)
        else:
            assert status in (303, 401, 403), (method, path, status)  # 303: to the sign-in page
        # An administrator route refuses by role (403). A council route may also answer 404 where the
        # filler names no meeting the caller belongs to; never a page or data.
        refused = {403} if kind == "admin" else {403, 404}
        assert _call(reporter, method, path, {"X-CSRF-Token": csrf}) in refused, (method, path)
        assert _call(machine, method, path, {"Authorization": f"Bearer {token}"}) in refused, (method, path)
    # The reporter still reaches their own unit: the refusals above are the role, not a broken session.
    assert reporter.get(f"/don-vi/{YS}").status_code == 200


def test_an_admin_reaches_the_desk(portal: tuple[Settings, Engine], tmp_path: Path, db_url: str) -> None:
    settings, engine = portal
    admin = "minh.ban@thads-tuyenquang.example.vn"
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="", admin_emails=admin)
    client = client_for(settings, engine, new_clock())
    sign_in(client, settings, admin)
    for method, path, kind in routes():
        if kind == "admin" and method == "GET" and "{" not in path and not path.endswith((".png", "/x1")):
            status = client.get(path).status_code
            assert status in (200, 404, 409), (path, status)  # 404/409: a filler that names nothing
    assert client.get("/quan-tri").status_code == 200
    assert client.get(f"/quan-tri/phong-trao/{CODE}").status_code == 200
    assert client.get(f"/api/v1/admin/campaigns/{CODE}").json()["code"] == CODE


def test_apiroutes_are_all_seen() -> None:
    """The enumeration sees the API routes FastAPI registered (a guard against a silently empty table)."""
    app = create_app(Settings(data_dir=Path("/nonexistent"), database_url="sqlite://"), engine=_engine())
    api_paths = {c.path for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)}
    assert len(api_paths) >= 30
    assert {p for _m, p, _k in routes()} >= {concrete(p) for p in api_paths}
