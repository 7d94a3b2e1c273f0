"""The unit's documents page and a nominee's dossier page in real headless Chromium, at a desktop width and
on a phone (390 px): the Vietnamese text as the unit reads it, nothing wider than the screen, and the
screenshots the README shows (written to docs/ when THIDUA_SCREENSHOTS names that folder; to the test's own
folder otherwise)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import CODE, YS, YS_EMAIL, Clock, link_from_outbox
from tests.deploy.web.test_browser import CHROMIUM, PHONE, _need_chromium
from tests.deploy.web.test_unit_documents import awarded
from tests.factories import at
from tests.tasks.builders_nominations import pdf_bytes
from thidua.models.review import Nomination
from thidua.models.settings import Settings
from thidua.tasks.review.nominations import add_dossier_file
from thidua.tasks.review.nominations.drafts import draft_documents

DESKTOP = {"width": 1280, "height": 800}
UNIT_NAME = "Chi cục Thi hành án dân sự huyện Yên Sơn"


@pytest.fixture
def live(engine: Engine, settings: Settings, tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """A portal after the awards: Yên Sơn's plan, decision and certificate; its nominee TQ-YS-05 with a
    report uploaded on time, the system's drafts, and parts still missing. (base URL, that nomination's id,
    the nominee's name)"""
    import uvicorn

    from tests.conftest import free_port
    from thidua.deploy.web.app import create_app

    awarded(engine, settings, tmp_path)
    with Session(engine) as s:
        nomination = s.scalars(select(Nomination).where(col(Nomination.subject_code) == "TQ-YS-05")).one()
    assert nomination.id is not None
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(pdf_bytes("Báo cáo thành tích"))
    add_dossier_file(
        engine,
        settings,
        CODE,
        unit_code=YS,
        part_key="bao_cao_thanh_tich",
        source=report,
        original_name=f"Báo cáo thành tích – {nomination.subject_name}.pdf",
        nominee="TQ-YS-05",
        now=at("28/06/2024", 15),
        actor=YS_EMAIL,
    )
    draft_documents(engine, settings, CODE, YS, now=at("01/07/2024", 9))
    port = free_port()
    app = create_app(settings, clock=Clock(at("22/07/2024", 9)), engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", nomination.id, nomination.subject_name
    server.should_exit = True
    thread.join(30)


@pytest.mark.slow
def test_documents_and_dossier_pages_fit_a_desktop_and_a_phone(
    live: tuple[str, int, str], settings: Settings, tmp_path: Path
) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, nomination_id, name = live
    shots = Path(os.environ.get("THIDUA_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for size, suffix in ((DESKTOP, ""), (PHONE, "-dien-thoai")):
            context = browser.new_context(viewport=size, locale="vi-VN")
            page = context.new_page()
            page.goto(f"{base}/dang-nhap")
            page.get_by_label("Địa chỉ email công vụ").fill(YS_EMAIL)
            page.get_by_role("button", name="Gửi đường dẫn đăng nhập").click()
            expect(page.get_by_role("status")).to_contain_text("đường dẫn đăng nhập vừa được gửi")
            token = _new_link(settings, used)
            used.add(token)
            page.goto(f"{base}/dang-nhap/xac-nhan?t={token}")
            page.get_by_role("button", name="Đăng nhập").click()
            expect(page).to_have_url(f"{base}/don-vi/{YS}")

            page.goto(f"{base}/don-vi/{YS}/{CODE}/tai-lieu")
            expect(page.locator("h1")).to_have_text("Tài liệu của đơn vị")
            rows = page.locator("tbody tr")
            expect(rows).to_have_count(3)
            expect(rows.nth(0)).to_contain_text("Kế hoạch phong trào")
            expect(rows.nth(1)).to_contain_text("Quyết định khen thưởng số 01/QĐ-CTHADS")
            expect(rows.nth(2)).to_contain_text("Giấy chứng nhận khen thưởng — cá nhân")
            _fits(page, size["width"])
            page.screenshot(path=str(shots / f"portal-tai-lieu{suffix}.png"), full_page=True)

            page.goto(f"{base}/don-vi/{YS}/{CODE}/de-nghi/{nomination_id}")
            expect(page.locator("h1")).to_contain_text(name)
            expect(page.locator("p.state-rejected")).to_have_text("Hồ sơ còn thiếu: Tờ trình, Biên bản.")
            part = page.locator("tr", has_text="Báo cáo thành tích")
            expect(part).to_contain_text("Đã nộp")
            expect(part).to_contain_text(f"Báo cáo thành tích – {name}.pdf")
            expect(page.locator("tr", has_text="Danh sách")).to_contain_text("hệ thống dự thảo")
            expect(page.locator("body")).to_contain_text("hạn nộp hồ sơ 03/07/2024")
            _fits(page, size["width"])
            page.screenshot(path=str(shots / f"portal-ho-so{suffix}.png"), full_page=True)

            # The drafts asked for again: the answer names each file made, and still fits.
            page.get_by_role("link", name=f"← Đề nghị khen thưởng của {UNIT_NAME}").click()
            page.get_by_role("button", name="Lập bản dự thảo").click()
            made = page.locator("#du-thao")
            expect(made).to_contain_text(f"Đã lập: Danh sách – {UNIT_NAME} (dự thảo).docx")
            _fits(page, size["width"])
            page.screenshot(path=str(tmp_path / f"du-thao{suffix}.png"), full_page=True)  # not for docs/
            context.close()
        browser.close()
    for png in shots.glob("portal-*.png"):
        assert png.stat().st_size < 200_000, png.name  # the README's images stay small


def _new_link(settings: Settings, used: set[str]) -> str:
    """The link of the sign-in email just asked for: the newest in the .eml outbox once the request's
    background dispatch (which also sends what else was queued) has written one not `used` yet."""
    deadline = time.monotonic() + 30
    while True:
        try:
            token = link_from_outbox(settings, YS_EMAIL)
        except AssertionError:
            token = ""
        if token and token not in used:
            return token
        assert time.monotonic() < deadline, "no new sign-in email in the outbox"
        time.sleep(0.1)


def _fits(page: object, width: int) -> None:
    """Nothing wider than the screen: no sideways scrolling, no element reaching past the right edge."""
    overflow = page.evaluate(  # type: ignore[attr-defined]
        """(width) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 60))""",
        width,
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # type: ignore[attr-defined]
    assert overflow == [], overflow
