"""The council's meeting in real headless Chromium (Debian's `chromium`, driven by Playwright), on SQLite and
PostgreSQL: seven members sign in through the link a real SMTP server received, each in their own browser
context (one on a phone-sized screen), fill in the one ballot and send it at the same moment; the secretary
enters the absent member's written ballot and closes the meeting; the chair breaks the tie with a reason.
The results equal what the command line's `cast_vote` computes from the same votes on an identical
database."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import SmtpRecorder
from tests.deploy.web.council_helpers import (
    ABSENT,
    CHAIR,
    EMAILS,
    LABELS,
    PRESENT,
    SECRETARY,
    TALLY,
    TIE_ORDER,
    TIE_REASON,
    choice_matrix,
    cli_results,
    council_campaign,
    live_portal,
    summary_lines,
    twin_url_fixture,  # noqa: F401 - the fixture `twin_url`
)
from tests.deploy.web.portal_helpers import Clock
from tests.deploy.web.test_browser import CHROMIUM, PHONE, _need_chromium
from tests.factories import at
from thidua.models.db import make_engine
from thidua.models.settings import Settings

DESKTOP = {"width": 1280, "height": 900}


def _link_for(smtp: SmtpRecorder, email: str, seen: int) -> str:
    deadline = time.monotonic() + 30
    while True:
        for mail in smtp.received[seen:]:
            if email in mail.rcpt_tos:
                body = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                match = re.search(r"https?://\S+/dang-nhap/xac-nhan\?t=\S+", body)
                assert match
                return match.group(0)
        assert time.monotonic() < deadline, f"no sign-in email to {email}"
        time.sleep(0.05)


@pytest.mark.slow
def test_seven_members_vote_at_once_and_the_results_equal_the_command_lines(
    engine: Engine,
    twin_url: str,
    tmp_path: Path,
    smtp_server: SmtpRecorder,
    db_url: str,
) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    ids, meeting_id = council_campaign(engine, tmp_path)
    assert meeting_id is not None
    names = {code: n.subject_name for code, n in _nominee_names(engine, ids).items()}
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    matrix = choice_matrix()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with live_portal(settings, engine, Clock(at("10/07/2024", 9))) as (base, logs), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pages: dict[str, Any] = {}
        for i, member in enumerate(PRESENT):
            phone = member == "TQ-VP-01"
            context = browser.new_context(
                viewport=PHONE if phone else DESKTOP, locale="vi-VN", accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{base}/dang-nhap")
            seen = len(smtp_server.received)
            page.get_by_label("Địa chỉ email công vụ").fill(EMAILS[member])
            page.get_by_role("button", name="Gửi đường dẫn đăng nhập").click()
            expect(page.get_by_role("status")).to_contain_text("đường dẫn đăng nhập vừa được gửi")
            page.goto(_link_for(smtp_server, EMAILS[member], seen))
            page.get_by_role("button", name="Đăng nhập").click()
            page.get_by_role("link", name="Hội đồng thi đua – khen thưởng").click()
            expect(page).to_have_url(f"{base}/hoi-dong")
            page.get_by_role("link", name=f"Cuộc họp số {meeting_id}").click()
            expect(page.locator("h1")).to_contain_text(f"cuộc họp số {meeting_id}")
            for code, choice in matrix[member].items():
                page.get_by_label(f"{LABELS[choice]}: {names[code]}", exact=True).check()
            pages[member] = page
            if i == 0:
                page.locator("#phieu").screenshot(path=str(shots / "phieu-may-tinh.png"))
            if phone:
                page.screenshot(path=str(shots / "phieu-dien-thoai.png"), full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # All seven at the same moment: the clicks return at once, the requests are in flight together.
        for page in pages.values():
            page.get_by_role("button", name="Gửi phiếu").click(no_wait_after=True)
        for page in pages.values():
            expect(page.locator("#da-bo-phieu")).to_contain_text("Bạn đã bỏ phiếu tại cuộc họp này")
            assert page.locator("input[type=radio]").count() == 0
        secretary = pages[SECRETARY]
        secretary.select_option("select[name=thanh_vien]", ABSENT)
        for code, choice in matrix[ABSENT].items():
            secretary.select_option(f'select[name="n{ids[code]}"]', choice)
        secretary.get_by_role("button", name="Ghi phiếu bằng văn bản").click()
        expect(secretary.locator("#thu-ky")).to_contain_text("Đã bỏ 48 phiếu trên hệ thống")
        secretary.get_by_role("button", name="Kết thúc cuộc họp").click()
        expect(secretary.locator("#ket-qua")).to_contain_text("Bằng nhau, chờ Chủ tịch quyết định")

        chair = pages[CHAIR]
        chair.reload()
        for place, code in enumerate(TIE_ORDER, start=1):
            chair.get_by_label(re.compile(f"^{re.escape(names[code])} — thứ tự")).fill(str(place))
        chair.get_by_label("Lý do quyết định").fill(TIE_REASON)
        chair.get_by_role("button", name="Ghi quyết định của Chủ tịch").click()
        expect(chair.locator("#ket-qua")).to_contain_text("Được chọn (Chủ tịch quyết định)")
        expect(chair.locator("#ket-qua")).to_contain_text(TIE_REASON)
        chair.locator("#ket-qua").screenshot(path=str(shots / "ket-qua.png"))
        member = pages["TQ-02"]
        member.reload()
        with member.expect_download() as download:
            member.get_by_role("link", name="Tải biên bản họp Hội đồng (.docx)").click()
        assert download.value.suggested_filename == f"bien-ban-hop-hoi-dong-tq-{meeting_id}.docx"
        browser.close()

    web = summary_lines(engine, meeting_id)
    assert {code: (a, r, b) for code, a, r, b, _o, _t in web} == TALLY
    twin = make_engine(twin_url)
    try:
        (tmp_path / "twin-dir").mkdir()
        twin_ids, twin_meeting = council_campaign(twin, tmp_path / "twin-dir")
        assert twin_meeting is not None
        assert cli_results(twin, twin_meeting, twin_ids, matrix, at("10/07/2024", 11)) == web
    finally:
        twin.dispose()
    assert not any(re.search(r"\b(approve|reject|abstain)\b", line) for line in logs.lines)


def _nominee_names(engine: Engine, ids: dict[str, int]) -> dict[str, Any]:
    from sqlmodel import Session

    from thidua.models.review import Nomination

    with Session(engine) as s:
        return {code: s.get(Nomination, nid) for code, nid in ids.items()}
