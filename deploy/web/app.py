"""The portal application: `create_app(settings)` builds it; `thidua web` serves it with uvicorn."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from thidua import __version__
from thidua.deploy.web.portal import Clock, Portal, utc_now
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.models.text import fmt_date

HERE = Path(__file__).parent


def _vn_datetime(value: datetime | None, tz: object) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz)  # type: ignore[arg-type]
    return f"{local:%H:%M} {fmt_date(local)}"


def create_app(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> FastAPI:
    """The portal for one installation. `clock` (aware datetimes) is the moment every request acts at:
    sessions, links and reports alike; tests pass their own."""
    from thidua.deploy.web import api, council, desk, errors, pages, security

    if engine is None:
        engine = make_engine(settings.database_url)
        ensure_schema(engine)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["vn_date"] = lambda d: fmt_date(d) if d else ""
    templates.env.filters["vn_datetime"] = lambda d: _vn_datetime(d, settings.tz)
    templates.env.globals["version"] = __version__
    app = FastAPI(
        title="thidua — cổng thi đua – khen thưởng",
        version=__version__,
        description=(
            "API của cổng thi đua – khen thưởng: báo cáo định kỳ của đơn vị, lịch sử, chỉ tiêu, tài liệu, "
            "đề nghị khen thưởng và hồ sơ, mã truy cập."
        ),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.portal = Portal(settings, engine, clock or utc_now, templates)
    security.install(app)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(desk.pages)
    app.include_router(desk.api)
    council.install(app)
    return app
