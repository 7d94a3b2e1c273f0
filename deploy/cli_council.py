"""`thidua council ...`: set up the emulation council, hold a meeting, cast secret ballots, close, break ties.

Mounted by the main CLI with `register(app)`. Nothing here imports Prefect, so the commands answer at once.
No command ever prints how a member voted: `vote` confirms that the ballot was counted, `result` shows the
tallies, outcomes and reasons once the meeting is closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation
from thidua.deploy.demo.council import demo_council
from thidua.models.labels import VOTE_CHOICE, vote_choice_key
from thidua.models.settings import Settings
from thidua.tasks.review.council import (
    CHOICES,
    ReviewSummary,
    break_tie,
    cast_vote,
    close_meeting,
    import_council,
    meeting_summary,
    open_meeting,
    write_minutes,
)
from thidua.tasks.review.lookup import resolve_nominee

council_app = typer.Typer(
    cls=ThiduaGroup,
    name="council",
    help="Hội đồng Thi đua – Khen thưởng: thành phần, cuộc họp, bỏ phiếu kín, kết quả, biên bản.",
    no_args_is_help=True,
    add_completion=False,
)

Unit = Annotated[str, typer.Option("--unit", help="Mã đơn vị có Hội đồng (ví dụ TQ).")]
Actor = Annotated[str, typer.Option("--actor", help="Người thực hiện, ghi vào nhật ký.")]


def register(app: typer.Typer) -> None:
    """Add the `council` group to the main `thidua` app."""
    app.add_typer(council_app, name="council")


def _echo_summary(summary: ReviewSummary, settings: Settings) -> None:
    for line in summary.text_lines(settings.tz):
        typer.echo(line)


@council_app.command("setup")
def setup(
    code: str,
    file: Annotated[Path, typer.Argument(help="Tệp CSV/XLSX có các cột: Mã cán bộ, Vai trò.")],
    unit: Unit,
    as_of: AsOf = None,
    actor: Actor = "cli",
) -> None:
    """Lập (hoặc cập nhật) Hội đồng từ danh sách; có lỗi thì không ghi gì."""
    with invocation(as_of) as run:
        result = import_council(run.engine, code, unit, file, now=run.now, actor=actor)
    state = "đã lập" if result.created else ("đã cập nhật" if result.changed else "không thay đổi")
    typer.echo(f"{result.name} ({result.unit_code}): {result.members} thành viên — {state}.")


@council_app.command("demo")
def demo(
    code: str,
    unit: Unit,
    size: Annotated[int, typer.Option("--size", help="Số thành viên (7 hoặc 9).")] = 9,
    as_of: AsOf = None,
) -> None:
    """Lập Hội đồng mẫu từ danh bạ: thủ trưởng, các cấp phó, trưởng các phòng, thư ký."""
    with invocation(as_of) as run:
        result = demo_council(run.engine, code, unit, now=run.now, size=size)
    typer.echo(f"{result.name} ({result.unit_code}): {result.members} thành viên.")


@council_app.command("open")
def open_command(
    code: str,
    unit: Unit,
    present: Annotated[str, typer.Option("--present", help="Mã cán bộ có mặt, cách nhau bằng dấu phẩy.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Thời điểm họp (dd/mm/yyyy HH:MM hoặc ISO); mặc định: bây giờ."),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", hidden=True, help="Tên cũ của --as-of.")] = None,
    place: Annotated[str | None, typer.Option("--place", help="Địa điểm họp.")] = None,
    actor: Actor = "cli",
) -> None:
    """Mở cuộc họp và ghi danh sách có mặt; in số cuộc họp và tình trạng đủ số lượng."""
    codes = [c.strip() for c in present.split(",") if c.strip()]
    with invocation(as_of or at) as run:
        meeting_id = open_meeting(
            run.engine, code, unit, held_at=run.now, present=codes, place=place, actor=actor
        )
        summary = meeting_summary(run.engine, code, meeting_id)
    typer.echo(f"Cuộc họp số {meeting_id} — {summary.council_name}")
    typer.echo(summary.quorum_text)


@council_app.command("vote")
def vote(
    meeting: int,
    member: Annotated[str, typer.Option("--member", help="Mã cán bộ của thành viên bỏ phiếu.")],
    nominee: Annotated[
        str,
        typer.Option(
            "--nominee", help="Mã đơn vị hoặc mã cán bộ được đề nghị (hoặc số đề nghị khen thưởng)."
        ),
    ],
    choice: Annotated[
        str,
        typer.Option(
            "--choice",
            help="“đồng ý” (approve), “không đồng ý” (reject) hoặc “không ý kiến” (abstain).",
        ),
    ],
    written: Annotated[
        bool, typer.Option("--written", help="Phiếu bằng văn bản của thành viên vắng mặt.")
    ] = False,
    as_of: AsOf = None,
) -> None:
    """Bỏ phiếu kín cho một đề nghị; phiếu đã bỏ không sửa được."""
    key = vote_choice_key(choice)
    if key is None or key not in CHOICES:
        labels = ", ".join(f"“{label.lower()}”" for label in VOTE_CHOICE.values())
        raise typer.BadParameter(f"chọn một trong: {labels}", param_hint="--choice")
    with invocation(as_of) as run:
        nomination_id = resolve_nominee(run.engine, meeting, nominee)
        receipt = cast_vote(run.engine, meeting, member, nomination_id, key, now=run.now, written=written)
    kind = "phiếu bằng văn bản" if receipt.written else "phiếu"
    # The choice is never echoed: a terminal, a log or a shared screen must not tie it to the member.
    typer.echo(f"Đã ghi nhận {kind} của {receipt.member} đối với đề nghị số {receipt.nomination_id}.")


@council_app.command("close")
def close(
    code: str,
    meeting: int,
    as_of: AsOf = None,
    actor: Actor = "cli",
) -> None:
    """Kết thúc cuộc họp: kiểm phiếu, xét chỉ tiêu, ghi kết quả và lập biên bản (DOCX)."""
    with invocation(as_of) as run:
        summary = close_meeting(run.engine, code, meeting, now=run.now, actor=actor)
        path = write_minutes(run.engine, run.settings, code, meeting, now=run.now)
    _echo_summary(summary, run.settings)
    typer.echo("")
    typer.echo(f"Biên bản: {path}")


@council_app.command("tie")
def tie(
    code: str,
    meeting: int,
    order: Annotated[
        str,
        typer.Option(
            "--order",
            help="Đề nghị theo thứ tự chọn: mã đơn vị, mã cán bộ (hoặc số đề nghị), cách nhau bởi dấu phẩy.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Lý do quyết định của Chủ tịch Hội đồng.")],
    chair: Annotated[str, typer.Option("--chair", help="Mã cán bộ của Chủ tịch Hội đồng.")],
    as_of: AsOf = None,
) -> None:
    """Chủ tịch Hội đồng quyết định trường hợp bằng nhau tại giới hạn chỉ tiêu; biên bản được lập lại."""
    names = [part.strip() for part in order.split(",") if part.strip()]
    if not names:
        raise typer.BadParameter("cần các đề nghị theo thứ tự, ví dụ TQ-PTC,TQ-PKT", param_hint="--order")
    with invocation(as_of) as run:
        ids = [resolve_nominee(run.engine, meeting, name) for name in names]
        summary = break_tie(run.engine, meeting, ids, reason=reason, actor=chair, now=run.now, code=code)
        path = write_minutes(run.engine, run.settings, code, meeting, now=run.now)
    _echo_summary(summary, run.settings)
    typer.echo("")
    typer.echo(f"Biên bản: {path}")


@council_app.command("result")
def result(code: str, meeting: int) -> None:
    """Kết quả cuộc họp: số phiếu từng đề nghị, kết quả và lý do (không bao giờ có phiếu của từng người)."""
    with invocation() as run:
        summary = meeting_summary(run.engine, code, meeting)
    _echo_summary(summary, run.settings)


@council_app.command("minutes")
def minutes(code: str, meeting: int, as_of: AsOf = None) -> None:
    """Lập (lại) biên bản cuộc họp đã kết thúc."""
    with invocation(as_of) as run:
        path = write_minutes(run.engine, run.settings, code, meeting, now=run.now)
    typer.echo(f"Biên bản: {path}")
