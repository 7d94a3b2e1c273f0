"""The administrators' desk in real headless Chromium: an administrator signs in through the emailed link,
uploads a definition with an error and sees it by line and path, uploads the right one, launches the campaign
(the launch flow), looks at the dashboard on a desktop and a phone, and later closes the campaign."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import SmtpRecorder, free_port
from tests.deploy.web.portal_helpers import CODE, Clock, token_in
from tests.deploy.web.test_browser import CHROMIUM, PHONE, _need_chromium
from tests.factories import TQ_DEFINITION, at, edited_definition, load_demo_directory
from thidua.models.settings import Settings

ADMIN = "minh.ban@thads-tuyenquang.example.vn"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def live_desk(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> Iterator[tuple[str, Clock, Engine, Settings]]:
    import uvicorn

    from thidua.deploy.web.app import create_app

    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        admin_emails=ADMIN,
        **smtp_server.settings_overrides(),
    )
    clock = Clock(at("05/01/2024", 9))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=clock, engine=engine), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", clock, engine, settings
    server.should_exit = True
    thread.join(30)


def _sign_in(page: object, base: str, smtp: SmtpRecorder) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    before = len(smtp.received)
    page.goto(f"{base}/")
    page.get_by_label("Địa chỉ email công vụ").fill(ADMIN)
    page.get_by_role("button", name="Gửi đường dẫn đăng nhập").click()
    expect(page.get_by_role("status")).to_contain_text("đường dẫn đăng nhập vừa được gửi")
    deadline = time.monotonic() + 30
    while len(smtp.received) == before:
        assert time.monotonic() < deadline, "the sign-in email never reached the SMTP server"
        time.sleep(0.1)
    page.goto(f"{base}/dang-nhap/xac-nhan?t={token_in(smtp.received[-1].data)}")
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Quản trị").click()
    expect(page.locator("h1")).to_have_text("Quản trị phong trào thi đua")


def _reports(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """March reports of three units (two on time, one late), so the dashboard has figures to show."""
    from tests.tasks.collect.test_reports import fill, template
    from thidua.tasks.collect.reports import ingest_upload

    for unit, values, day in (
        ("TQ-YS", {"carried_over": 120, "arising": 30, "finished": 20}, "03/04/2024"),
        ("TQ-SD", {"carried_over": 80, "arising": 10, "finished": 6}, "04/04/2024"),
        ("TQ-HY", {"carried_over": 60, "arising": 12, "finished": 9}, "09/04/2024"),
    ):
        path = fill(template(engine, tmp_path, unit), tmp_path / f"{unit}.xlsx", values)
        result = ingest_upload(
            engine,
            settings,
            CODE,
            path.name,
            path.read_bytes(),
            now=at(day, 10),
            submitted_by="test",
            unit_code=unit,
        )
        assert result.accepted, result.errors


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_an_administrator_launches_and_closes_a_campaign(
    live_desk: tuple[str, Clock, Engine, Settings], smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, clock, engine, settings = live_desk
    shots = tmp_path / "screenshots"
    shots.mkdir()
    wrong = edited_definition(tmp_path, TQ_DEFINITION, "kind: chuyen_de", "kind: chuyen_mon")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=DESKTOP, locale="vi-VN", accept_downloads=True)
        page = context.new_page()
        _sign_in(page, base, smtp_server)

        page.get_by_label("Tệp định nghĩa (.yaml)").set_input_files(str(wrong))
        page.get_by_role("button", name="Kiểm tra định nghĩa").click()
        error = page.locator("#loi-dinh-nghia")
        expect(error).to_contain_text("không có gì được lưu")
        expect(error).to_contain_text("Dòng 6 · mục kind")
        page.screenshot(path=str(shots / "1-loi-dinh-nghia.png"), full_page=True)

        page.get_by_label("Tệp định nghĩa (.yaml)").set_input_files(str(TQ_DEFINITION))
        page.get_by_role("button", name="Kiểm tra định nghĩa").click()
        expect(page.get_by_role("status")).to_contain_text("Định nghĩa hợp lệ")
        expect(page.locator("tr", has_text="Báo cáo tháng 03/2024")).to_contain_text("05/04/2024")
        page.get_by_role("button", name="Phát động phong trào").click()
        expect(page).to_have_url(f"{base}/quan-tri/phong-trao/{CODE}", timeout=120_000)
        expect(page.locator("#trang-thai")).to_have_text("Đã phát động")
        with page.expect_download() as download:
            page.locator("tr", has_text="Kế hoạch phong trào").get_by_role("link").click()
        assert download.value.suggested_filename.endswith(".docx")
        assert "/" not in download.value.suggested_filename
        page.screenshot(path=str(shots / "2-phong-trao.png"), full_page=True)

        # Months later (a new session: the old one has expired), the dashboard, then the close.
        clock.moment = at("10/04/2024", 9)
        _reports(engine, settings, tmp_path)
        _sign_in(page, base, smtp_server)
        page.get_by_role("link", name=re.compile("Giảm án có điều kiện")).click()
        page.get_by_role("link", name="Tình hình thực hiện (bảng và biểu đồ)").click()
        expect(page.locator("#tien-do")).to_contain_text("8 đơn vị phải báo cáo · đã nộp 3 (37,50%)")
        expect(page.locator("tr[data-unit='TQ-YS']")).to_contain_text("13,33%")
        expect(page.locator("img")).to_be_visible()
        page.screenshot(path=str(shots / "3-tinh-hinh.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(shots / "4-tinh-hinh-dien-thoai.png"), full_page=True)
        page.goto(f"{base}/quan-tri/phong-trao/{CODE}")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(shots / "5-phong-trao-dien-thoai.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

        page.get_by_label("Lý do kết thúc (ghi vào nhật ký)").fill("Hết thời gian thi đua")
        page.get_by_role("button", name="Kết thúc phong trào").click()
        expect(page.locator("#ket-qua")).to_contain_text(f"Phong trào {CODE} vừa kết thúc.", timeout=120_000)
        expect(page.locator("#trang-thai")).to_have_text("Đã kết thúc")
        expect(page.locator("tr", has_text="Báo cáo tổng kết").filter(has_text="Tải về")).to_have_count(1)
        page.screenshot(path=str(shots / "6-da-ket-thuc.png"), full_page=True)
        browser.close()
