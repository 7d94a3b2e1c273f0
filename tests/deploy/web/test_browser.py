"""The portal in real headless Chromium (Debian's `chromium`, driven by Playwright): sign in through the link
a real SMTP server received, download the template, upload it with an error, see the error, upload the
corrected file, see it accepted and the unit's home change — on a phone-sized screen."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import IN_CI, SmtpRecorder, free_port
from tests.deploy.web.portal_helpers import CODE, YS, YS_EMAIL, launched, new_clock, token_in
from tests.tasks.collect.test_reports import GOOD, fill
from thidua.models.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the browser test must run)", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def live(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> Iterator[tuple[str, Settings]]:
    import uvicorn

    from thidua.deploy.web.app import create_app

    launched(engine, tmp_path)
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=new_clock(), engine=engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    thread.join(30)


@pytest.mark.slow
def test_a_unit_signs_in_and_reports_from_a_phone(
    live: tuple[str, Settings], smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, _ = live
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=PHONE, locale="vi-VN", accept_downloads=True)
        page = context.new_page()
        page.goto(f"{base}/")
        expect(page).to_have_url(f"{base}/dang-nhap")
        page.get_by_label("Địa chỉ email công vụ").fill(YS_EMAIL)
        page.get_by_role("button", name="Gửi đường dẫn đăng nhập").click()
        expect(page.get_by_role("status")).to_contain_text("đường dẫn đăng nhập vừa được gửi")
        page.screenshot(path=str(shots / "1-dang-nhap.png"), full_page=True)
        deadline = time.monotonic() + 30
        while not smtp_server.received:
            assert time.monotonic() < deadline, "the sign-in email never reached the SMTP server"
            time.sleep(0.1)
        [mail] = smtp_server.received
        link = re.search(
            r"https?://\S+/dang-nhap/xac-nhan\?t=\S+", mail.message.get_body(("plain",)).get_content()
        )  # type: ignore[union-attr]
        assert link and token_in(mail.data)
        page.goto(link.group(0))
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page).to_have_url(f"{base}/don-vi/{YS}")
        expect(page.locator("h1")).to_contain_text("Chi cục Thi hành án dân sự huyện Yên Sơn")
        march = page.locator("tr", has_text="Báo cáo tháng 03/2024")
        expect(march).to_contain_text("Chưa nộp")
        expect(march).to_contain_text("05/04/2024còn 3 ngày làm việc")  # 02/04 → 05/04/2024, working days
        page.screenshot(path=str(shots / "2-trang-don-vi.png"), full_page=True)

        march.get_by_role("link", name="Nộp / xem").click()
        with page.expect_download() as download:
            page.get_by_role("link", name="Tải mẫu XLSX đã điền sẵn").click()
        template = tmp_path / "mau.xlsx"
        download.value.save_as(template)
        assert download.value.suggested_filename == f"bao-cao-{CODE}-{YS}-2024-03.xlsx"

        wrong = fill(template, tmp_path / "sai.xlsx", {**GOOD, "arising": "ba mươi"})
        page.get_by_label(re.compile("Tệp báo cáo")).set_input_files(str(wrong))
        page.get_by_role("button", name="Nộp báo cáo").click()
        result = page.locator("#ket-qua")
        expect(result).to_contain_text("Không tiếp nhận “sai.xlsx” (1 lỗi)")
        expect(result).to_contain_text("ô D22")
        expect(result).to_contain_text("nhận được “ba mươi”")
        page.screenshot(path=str(shots / "3-loi.png"), full_page=True)

        right = fill(template, tmp_path / "dung.xlsx", GOOD)
        page.get_by_label(re.compile("Tệp báo cáo")).set_input_files(str(right))
        page.get_by_role("button", name="Nộp báo cáo").click()
        expect(page.locator("#ket-qua")).to_contain_text("Đã tiếp nhận “dung.xlsx”")
        expect(page.locator("#ket-qua")).to_contain_text("lần nộp 1, đúng hạn")
        page.screenshot(path=str(shots / "4-da-tiep-nhan.png"), full_page=True)

        page.get_by_role("link", name=re.compile("Chi cục Thi hành án dân sự huyện Yên Sơn")).click()
        expect(page.locator("tr", has_text="Báo cáo tháng 03/2024")).to_contain_text("Đã tiếp nhận")
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(shots / "5-sau-khi-nop.png"), full_page=True)
        page.get_by_role("link", name="Chỉ tiêu qua các kỳ (bảng và biểu đồ)").click()
        expect(page.locator("svg")).to_be_visible()
        expect(page.locator("tr", has_text="Báo cáo tháng 03/2024")).to_contain_text("13,33%")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(shots / "6-chi-tieu.png"), full_page=True)
        browser.close()
