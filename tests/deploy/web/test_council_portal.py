"""The council on the portal, on real SQLite and PostgreSQL: a member's papers and one ballot, the
secretary's written ballots, paper counts and the close, the chair's tie-break, the minutes, and who reaches
what (every council route refuses a unit reporter, another council's member, and a form without CSRF)."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from tests.deploy.web.council_helpers import (
    ABSENT,
    CHAIR,
    EMAILS,
    MEMBERS,
    PRESENT,
    SECRETARY,
    TALLY,
    TIE_ORDER,
    TIE_REASON,
    choice_matrix,
    council_campaign,
    http_sign_in,
    summary_lines,
)
from tests.deploy.web.portal_helpers import YS_EMAIL, Clock, client_for
from tests.factories import at
from tests.tasks.builders_council import CODE
from thidua.models.campaign import DomainEvent
from thidua.models.review import BallotCast, BallotTally, Council, CouncilMeeting, CouncilMember, CouncilRole
from thidua.models.settings import Settings


@pytest.fixture
def meeting(engine: Engine, tmp_path: Path) -> tuple[dict[str, int], int]:
    ids, meeting_id = council_campaign(engine, tmp_path)
    assert meeting_id is not None
    return ids, meeting_id


def _client(settings: Settings, engine: Engine) -> TestClient:
    return client_for(settings, engine, Clock(at("10/07/2024", 9)))


def _signed_in(settings: Settings, engine: Engine, member: str) -> tuple[TestClient, str]:
    client = _client(settings, engine)
    return client, http_sign_in(client, settings, EMAILS[member])


def _ballot(ids: dict[str, int], choices: dict[str, str], csrf: str) -> dict[str, str]:
    return {"csrf_token": csrf, **{f"n{ids[code]}": choice for code, choice in choices.items()}}


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        casts = s.execute(select(func.count()).select_from(BallotCast)).scalar_one()
        total = s.execute(
            select(func.coalesce(func.sum(BallotTally.approve + BallotTally.reject + BallotTally.abstain), 0))
        ).scalar_one()
    return int(casts), int(total)


def test_a_member_reads_the_papers_and_casts_one_ballot_that_shows_only_that_they_voted(
    engine: Engine, settings: Settings, meeting: tuple[dict[str, int], int]
) -> None:
    ids, meeting_id = meeting
    from thidua.tasks.review.nominations.drafts import draft_documents

    difference = (
        "Cần xác minh: số liệu báo cáo chênh lệch với sổ thụ lý — Số việc có điều kiện trên một năm "
        "đã thi hành xong: báo cáo 15, sổ thụ lý 9 (chênh lệch +6 việc)"
    )
    from thidua.models.review import EligibilityResult

    with Session(engine) as s, s.begin():
        row = s.execute(
            select(EligibilityResult).where(col(EligibilityResult.nomination_id) == ids["TQ-NH"])
        ).scalar_one()
        row.reasons_json = json.dumps(
            [
                *json.loads(row.reasons_json),
                {"rule": "ledger", "passed": True, "reason": difference, "verify": True},
            ]
        )
    drafted = draft_documents(engine, settings, CODE, "TQ", now=at("09/07/2024", 9))
    summary_file = next(f for f in drafted.files if f.part_key.startswith("tong_hop"))
    client, csrf = _signed_in(settings, engine, "TQ-02")
    landing = client.get("/")
    assert "xem các cuộc họp của Hội đồng" in landing.text
    home = client.get("/hoi-dong")
    assert 'href="/hoi-dong"' in home.text  # the nav link, for people on a council
    assert f'href="/hoi-dong/hop/{meeting_id}"' in home.text and "Chưa bỏ phiếu" in home.text
    page = client.get(f"/hoi-dong/hop/{meeting_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Kết quả xét điều kiện" in page.text and "✓ kiểm tra thử" in page.text
    assert "Kết quả thực chất (so với sổ thụ lý)" in page.text
    card = page.text.split(f'id="de-nghi-{ids["TQ-NH"]}"')[1].split("</details>")[0]
    assert "Cần xác minh số liệu" in card and f"<li>{difference}</li>" in card and "⚠" in card
    assert (
        "Cần xác minh số liệu"
        not in page.text.split(f'id="de-nghi-{ids["TQ-TP"]}"')[1].split("</details>")[0]
    )
    assert f'href="/hoi-dong/hop/{meeting_id}/ho-so/{summary_file.id}"' in page.text
    download = client.get(f"/hoi-dong/hop/{meeting_id}/ho-so/{summary_file.id}")
    assert download.status_code == 200 and download.content.startswith(b"PK")
    assert "attachment" in download.headers["content-disposition"]
    for code in TALLY:
        assert f'name="n{ids[code]}" value="approve"' in page.text
    assert "kết quả chỉ công bố khi kết thúc cuộc họp" in page.text

    # All or nothing: a ballot missing one nominee records nothing.
    mine = choice_matrix()["TQ-02"]
    partial = {k: v for k, v in mine.items() if k != "TQ-HY-03"}
    refused = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, partial, csrf))
    assert refused.status_code == 422 and "Phiếu chưa đủ" in refused.text
    assert _counts(engine) == (0, 0)

    done = client.post(
        f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, mine, csrf), follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/hoi-dong/hop/{meeting_id}#da-bo-phieu"
    assert _counts(engine) == (6, 6)
    after = client.get(f"/hoi-dong/hop/{meeting_id}")
    assert "Bạn đã bỏ phiếu tại cuộc họp này" in after.text
    assert "checked" not in after.text and 'type="radio"' not in after.text
    assert not re.search(r"\b\d+ đồng ý\b", after.text)  # no tallies while open
    again = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, mine, csrf))
    assert again.status_code == 422 and "không thể thay đổi" in again.text
    assert _counts(engine) == (6, 6)

    api = client.get(f"/api/v1/council/meetings/{meeting_id}").json()
    assert api["voted"] is True and api["results"] is None and len(api["ballot"]) == 6
    listed = client.get("/api/v1/council/meetings").json()
    assert [(m["id"], m["voted"], m["open"]) for m in listed] == [(meeting_id, True, True)]


def test_a_member_does_not_vote_on_their_own_unit_and_the_page_says_why(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from tests.tasks.builders_council import Nominee, nominate
    from thidua.models.review import SubjectKind
    from thidua.tasks.review.council import open_meeting

    ids, _ = council_campaign(engine, tmp_path, open_now=False)
    with Session(engine) as s:
        campaign_id = s.execute(select(col(Council.campaign_id))).scalar_one()
    own = nominate(
        engine,
        campaign_id,
        [
            Nominee("TQ-VP-02", SubjectKind.INDIVIDUAL, "1/5"),
            Nominee("TQ-LB", SubjectKind.COLLECTIVE, "1/5", eligible=False),
        ],
    )
    meeting_id = open_meeting(engine, CODE, "TQ", held_at=at("10/07/2024", 8), present=PRESENT, actor="t")
    client, csrf = _signed_in(settings, engine, "TQ-VP-01")
    page = client.get(f"/hoi-dong/hop/{meeting_id}")
    assert f'name="n{own["TQ-VP-02"]}"' not in page.text
    assert "Bạn không bỏ phiếu cho đề nghị này" in page.text and "cá nhân thuộc đơn vị mình" in page.text
    # The ineligible nominee is listed with its reasons, never on the ballot, and cannot be slipped onto it.
    assert f'name="n{own["TQ-LB"]}"' not in page.text
    assert "Không đủ điều kiện, không đưa ra bỏ phiếu" in page.text
    ineligible = {**_ballot(ids, choice_matrix()["TQ-VP-01"], csrf), f"n{own['TQ-LB']}": "reject"}
    refused = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=ineligible)
    assert refused.status_code == 422 and "không đủ điều kiện khen thưởng" in refused.text
    choices = dict(choice_matrix()["TQ-VP-01"])
    smuggled = {**_ballot(ids, choices, csrf), f"n{own['TQ-VP-02']}": "approve"}
    refused = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=smuggled)
    assert refused.status_code == 422 and "đơn vị mình" in refused.text
    assert _counts(engine) == (0, 0)
    ok = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, choices, csrf))
    assert ok.status_code == 200 and _counts(engine) == (6, 6)


def test_the_secretary_enters_a_written_ballot_closes_and_the_chair_breaks_the_tie(
    engine: Engine, settings: Settings, meeting: tuple[dict[str, int], int]
) -> None:
    ids, meeting_id = meeting
    matrix = choice_matrix()
    clients = {m: _signed_in(settings, engine, m) for m in MEMBERS}
    for member in PRESENT:
        client, csrf = clients[member]
        answer = client.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, matrix[member], csrf))
        assert answer.status_code == 200, answer.text
    absent, absent_csrf = clients[ABSENT]
    refused = absent.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, matrix[ABSENT], absent_csrf))
    assert refused.status_code == 422 and "vắng mặt" in refused.text
    written = {**_ballot(ids, matrix[ABSENT], ""), "thanh_vien": ABSENT}
    for member in ("TQ-02", CHAIR):  # only the secretary enters written ballots, and closes
        client, csrf = clients[member]
        assert (
            client.post(
                f"/hoi-dong/hop/{meeting_id}/phieu-van-ban", data={**written, "csrf_token": csrf}
            ).status_code
            == 403
        )
        assert (
            client.post(f"/hoi-dong/hop/{meeting_id}/ket-thuc", data={"csrf_token": csrf}).status_code == 403
        )
    secretary, sec_csrf = clients[SECRETARY]
    page = secretary.get(f"/hoi-dong/hop/{meeting_id}")
    assert "Nhập phiếu bằng văn bản của thành viên vắng mặt" in page.text
    answer = secretary.post(
        f"/hoi-dong/hop/{meeting_id}/phieu-van-ban", data={**written, "csrf_token": sec_csrf}
    )
    assert answer.status_code == 200, answer.text
    assert _counts(engine) == (48, 48)
    assert (
        secretary.get(f"/hoi-dong/hop/{meeting_id}/bien-ban.docx").status_code == 404
    )  # not before the close
    assert (
        secretary.post(f"/hoi-dong/hop/{meeting_id}/ket-thuc", data={"csrf_token": sec_csrf}).status_code
        == 200
    )

    lines = summary_lines(engine, meeting_id)
    assert {code: (a, r, b) for code, a, r, b, _o, _t in lines} == TALLY
    assert {code for code, *_rest, outcome, _t in lines if outcome == "tie"} == {
        "TQ-NH-03",
        "TQ-LB-03",
        "TQ-HY-03",
    }
    member, member_csrf = clients["TQ-03"]
    shown = member.get(f"/hoi-dong/hop/{meeting_id}").text
    assert (
        "Kết quả" in shown and "Bằng nhau, chờ Chủ tịch quyết định" in shown and 'id="bang-nhau"' not in shown
    )
    tie = {
        "csrf_token": member_csrf,
        "ly_do": TIE_REASON,
        **{f"thu_tu_{ids[c]}": str(i) for i, c in enumerate(TIE_ORDER, 1)},
    }
    assert member.post(f"/hoi-dong/hop/{meeting_id}/bang-nhau", data=tie).status_code == 403
    chair, chair_csrf = clients[CHAIR]
    assert 'id="bang-nhau"' in chair.get(f"/hoi-dong/hop/{meeting_id}").text
    assert (
        chair.post(
            f"/hoi-dong/hop/{meeting_id}/bang-nhau", data={**tie, "csrf_token": chair_csrf}
        ).status_code
        == 200
    )
    outcomes = {code: (o, t) for code, *_x, o, t in summary_lines(engine, meeting_id)}
    assert outcomes["TQ-HY-03"] == ("selected", TIE_REASON) and outcomes["TQ-LB-03"] == (
        "over_quota",
        TIE_REASON,
    )

    minutes = member.get(f"/hoi-dong/hop/{meeting_id}/bien-ban.docx")
    assert minutes.status_code == 200 and minutes.content.startswith(b"PK")
    from docx import Document

    text = "\n".join(p.text for p in Document(BytesIO(minutes.content)).paragraphs)
    assert TIE_REASON in text
    api = member.get(f"/api/v1/council/meetings/{meeting_id}").json()
    assert sorted((r["approve"], r["reject"], r["abstain"]) for r in api["results"]) == sorted(TALLY.values())


def _paper_book(rows: list[list[object]], header: list[str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Kiểm phiếu"
    sheet.append(header or ["Số đề nghị", "Tên", "Đồng ý", "Không đồng ý", "Không ý kiến"])
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_paper_ballots_are_counted_by_form_or_xlsx_against_the_attendance(
    engine: Engine, settings: Settings, meeting: tuple[dict[str, int], int]
) -> None:
    ids, meeting_id = meeting
    secretary, csrf = _signed_in(settings, engine, SECRETARY)
    url = f"/hoi-dong/hop/{meeting_id}/kiem-phieu"
    template = secretary.get(f"{url}/mau.xlsx")
    assert template.status_code == 200
    sheet = load_workbook(BytesIO(template.content))["Kiểm phiếu"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [ids[c] for c in TALLY]

    # 9 ballots for 7 present and 1 absent member: refused, nothing written.
    form = {"csrf_token": csrf, "so_phieu": "9"}
    for code, (a, r, b) in TALLY.items():
        form |= {f"a{ids[code]}": str(a), f"r{ids[code]}": str(r), f"b{ids[code]}": str(b)}
    refused = secretary.post(url, data=form)
    assert refused.status_code == 422 and "Số phiếu thu về" in refused.text and "từ 1 đến 8" in refused.text
    assert _counts(engine) == (0, 0)
    member, member_csrf = _signed_in(settings, engine, "TQ-03")
    assert member.post(url, data={**form, "so_phieu": "8", "csrf_token": member_csrf}).status_code == 403

    # An XLSX with errors: every one with its sheet, row and column; nothing changes.
    bad = _paper_book([[ids["TQ-TP"], "x", 7, "bảy", 0], [ids["TQ-TP"], "x", 1, 1, 1], ["abc", "y", 1, 1, 1]])
    answer = secretary.post(
        f"{url}/xlsx", data={"csrf_token": csrf, "so_phieu": "8"}, files={"file": ("kiem-phieu.xlsx", bad)}
    )
    assert answer.status_code == 422
    assert "trang “Kiểm phiếu”, dòng 2, cột “Không đồng ý”: số phiếu không hợp lệ" in answer.text
    assert "dòng 3, cột “Số đề nghị”: đề nghị số" in answer.text and "dòng 4, cột “Số đề nghị”" in answer.text
    short = _paper_book([[ids["TQ-TP"], "x", 9, 0, 0]])
    answer = secretary.post(
        f"{url}/xlsx", data={"csrf_token": csrf, "so_phieu": "8"}, files={"file": ("kp.xlsx", short)}
    )
    assert (
        answer.status_code == 422
        and "nhiều hơn số phiếu thu về" in answer.text
        and "thiếu kết quả" in answer.text
    )
    assert _counts(engine) == (0, 0)

    good = _paper_book([[ids[c], c, a, r, b] for c, (a, r, b) in TALLY.items()])
    answer = secretary.post(
        f"{url}/xlsx", data={"csrf_token": csrf, "so_phieu": "8"}, files={"file": ("kp.xlsx", good)}
    )
    assert answer.status_code == 200, answer.text
    assert _counts(engine) == (0, 48)
    # The form corrects it before the close; members can no longer vote in the system.
    assert secretary.post(url, data={**form, "so_phieu": "8"}).status_code == 200
    mine = choice_matrix()["TQ-03"]
    refused = member.post(f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, mine, member_csrf))
    assert refused.status_code == 422 and "kiểm phiếu giấy" in refused.text
    assert (
        secretary.post(f"/hoi-dong/hop/{meeting_id}/ket-thuc", data={"csrf_token": csrf}).status_code == 200
    )
    assert {code: (a, r, b) for code, a, r, b, _o, _t in summary_lines(engine, meeting_id)} == TALLY
    with Session(engine) as s:
        payloads = (
            s.execute(
                select(col(DomainEvent.payload_json)).where(col(DomainEvent.kind) == "council.paper_count")
            )
            .scalars()
            .all()
        )
    assert len(payloads) == 2 and all('"approve"' not in p for p in payloads)


def test_the_secretary_opens_a_meeting_with_its_attendance(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    council_campaign(engine, tmp_path, open_now=False)
    member, member_csrf = _signed_in(settings, engine, "TQ-02")
    with Session(engine) as s:
        council_id = s.execute(select(col(Council.id))).scalar_one()
    assert (
        member.post(
            f"/hoi-dong/{council_id}/mo-hop", data={"csrf_token": member_csrf, "co_mat": PRESENT}
        ).status_code
        == 403
    )
    secretary, csrf = _signed_in(settings, engine, SECRETARY)
    assert "Mở cuộc họp (Thư ký)" in secretary.get("/hoi-dong").text
    opened = secretary.post(
        f"/hoi-dong/{council_id}/mo-hop",
        data={"csrf_token": csrf, "dia_diem": "Phòng họp", "co_mat": PRESENT},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text[-1500:]
    meeting_id = int(opened.headers["location"].rsplit("/", 1)[-1])
    page = secretary.get(f"/hoi-dong/hop/{meeting_id}").text
    assert "Số thành viên dự họp 7/8" in page and page.count("Vắng mặt") >= 1


# ---------------------------------------------------------------- who reaches what


def _routes(meeting_id: int, council_id: int, ids: dict[str, int]) -> list[tuple[str, str]]:
    return [
        ("GET", f"/hoi-dong/hop/{meeting_id}"),
        ("GET", f"/hoi-dong/hop/{meeting_id}/bien-ban.docx"),
        ("GET", f"/hoi-dong/hop/{meeting_id}/kiem-phieu/mau.xlsx"),
        ("GET", f"/hoi-dong/hop/{meeting_id}/ho-so/1"),
        ("GET", f"/api/v1/council/meetings/{meeting_id}"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/phieu"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/phieu-van-ban"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/kiem-phieu"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/kiem-phieu/xlsx"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/ket-thuc"),
        ("POST", f"/hoi-dong/hop/{meeting_id}/bang-nhau"),
        ("POST", f"/hoi-dong/{council_id}/mo-hop"),
        ("POST", f"/api/v1/council/meetings/{meeting_id}/ballot"),
    ]


def _other_council(engine: Engine) -> tuple[int, int]:
    """A second council (the Chi cục Thành phố's) with its head as chair and one meeting, as rows."""
    with Session(engine) as s, s.begin():
        campaign_id = s.execute(select(col(Council.campaign_id))).scalar_one()
        council = Council(campaign_id=campaign_id, unit_code="TQ-TP", name="Hội đồng Chi cục Thành phố")
        s.add(council)
        s.flush()
        assert council.id is not None
        s.add(
            CouncilMember(
                council_id=council.id,
                person_code="TQ-TP-01",
                full_name="x",
                role=CouncilRole.CHAIR,
                unit_code="TQ-TP",
            )
        )
        other = CouncilMeeting(council_id=council.id, campaign_id=campaign_id, held_at=at("11/07/2024", 8))
        s.add(other)
        s.flush()
        assert other.id is not None
        return council.id, other.id


def test_nobody_reaches_a_council_they_do_not_sit_on(
    engine: Engine, settings: Settings, meeting: tuple[dict[str, int], int]
) -> None:
    ids, meeting_id = meeting
    with Session(engine) as s:
        council_id = s.execute(select(col(Council.id))).scalar_one()
        tp_head = s.execute(select(col(CouncilMember.id))).first()
    assert tp_head is not None
    other_council, other_meeting = _other_council(engine)
    from thidua.models.directory import Person

    with Session(engine) as s:
        tp_email = s.execute(select(col(Person.email)).where(col(Person.code) == "TQ-TP-01")).scalar_one()
    body = {f"n{nid}": "approve" for nid in ids.values()} | {
        "thanh_vien": ABSENT,
        "so_phieu": "1",
        "ly_do": "x",
    }

    def try_all(client: TestClient, csrf: str, routes: list[tuple[str, str]], allowed: set[int]) -> None:
        for method, url in routes:
            if method == "GET":
                answer = client.get(url, follow_redirects=False)
            elif url.startswith("/api/"):
                answer = client.post(
                    url,
                    json={"choices": [{"nomination_id": n, "choice": "approve"} for n in ids.values()]},
                    headers={"X-CSRF-Token": csrf},
                )
            elif url.endswith("/xlsx"):
                answer = client.post(
                    url,
                    data={"csrf_token": csrf, "so_phieu": "1"},
                    files={"file": ("a.xlsx", _paper_book([]))},
                )
            else:
                answer = client.post(url, data={**body, "csrf_token": csrf})
            assert answer.status_code in allowed, (url, answer.status_code, answer.text[:300])

    # A unit's reporter (Yên Sơn's mailbox): no council page nor API at all.
    reporter = _client(settings, engine)
    reporter_csrf = http_sign_in_unit(reporter, settings, YS_EMAIL)
    assert reporter.get("/hoi-dong").status_code == 404
    assert reporter.get("/api/v1/council/meetings").status_code == 404  # as the page: not even an empty list
    assert 'href="/hoi-dong"' not in reporter.get("/", follow_redirects=True).text
    try_all(reporter, reporter_csrf, _routes(meeting_id, council_id, ids), {404})
    # The other council's chair: nothing of the Cục's meeting; a Cục member: nothing of the other one.
    tp = _client(settings, engine)
    tp_csrf = http_sign_in(tp, settings, tp_email)
    try_all(tp, tp_csrf, _routes(meeting_id, council_id, ids), {404})
    assert [m["id"] for m in tp.get("/api/v1/council/meetings").json()] == [other_meeting]
    member, member_csrf = _signed_in(settings, engine, "TQ-02")
    try_all(member, member_csrf, _routes(other_meeting, other_council, ids), {404})
    # Guessed nomination and file ids inside the member's own meeting: refused, nothing written.
    guessed = member.post(
        f"/hoi-dong/hop/{meeting_id}/phieu", data={"csrf_token": member_csrf, "n999999": "approve"}
    )
    assert guessed.status_code == 422
    assert member.get(f"/hoi-dong/hop/{meeting_id}/ho-so/999999").status_code == 404
    # An API token (a unit's machine client) sits on no council.
    assert _counts(engine) == (0, 0)


def http_sign_in_unit(client: TestClient, settings: Settings, email: str) -> str:
    from tests.deploy.web.portal_helpers import sign_in

    return sign_in(client, settings, email)


def test_every_council_form_needs_the_sessions_csrf_token(
    engine: Engine, settings: Settings, meeting: tuple[dict[str, int], int]
) -> None:
    ids, meeting_id = meeting
    with Session(engine) as s:
        council_id = s.execute(select(col(Council.id))).scalar_one()
    clients = {m: _signed_in(settings, engine, m) for m in (SECRETARY, CHAIR)}
    body = {f"n{nid}": "approve" for nid in ids.values()} | {
        "thanh_vien": ABSENT,
        "so_phieu": "8",
        "ly_do": "x",
    }
    for member, (client, _csrf) in clients.items():
        for method, url in _routes(meeting_id, council_id, ids):
            if method != "POST":
                continue
            for token in (None, "sai"):
                data = body if token is None else {**body, "csrf_token": token}
                if url.startswith("/api/"):
                    headers = {} if token is None else {"X-CSRF-Token": token}
                    answer = client.post(url, json={"choices": []}, headers=headers)
                else:
                    answer = client.post(url, data=data)
                assert answer.status_code == 403, (member, url, answer.status_code)
    assert _counts(engine) == (0, 0)
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(CouncilMeeting)).scalar_one() == 1


def test_without_quorum_the_page_offers_no_ballot_and_none_is_taken(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from thidua.tasks.review.council import open_meeting

    ids, _ = council_campaign(engine, tmp_path, open_now=False)
    few = ["TQ-01", "TQ-02", "TQ-03", SECRETARY]
    meeting_id = open_meeting(engine, CODE, "TQ", held_at=at("10/07/2024", 8), present=few, actor="t")
    client, csrf = _signed_in(settings, engine, "TQ-02")
    page = client.get(f"/hoi-dong/hop/{meeting_id}").text
    assert "không đủ số thành viên dự họp: không bỏ phiếu" in page and 'type="radio"' not in page
    refused = client.post(
        f"/hoi-dong/hop/{meeting_id}/phieu", data=_ballot(ids, choice_matrix()["TQ-02"], csrf)
    )
    assert refused.status_code == 422 and "Không bỏ phiếu được" in refused.text
    assert _counts(engine) == (0, 0)
