"""`thidua review` and `thidua award run`: the review and award flows, as the scheduler's stages run them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation
from thidua.models.labels import campaign_status, nomination_counts


def review(
    code: Annotated[str, typer.Argument(help="Mã phong trào.")],
    meeting: Annotated[
        int | None,
        typer.Option("--meeting", help="Kết thúc cuộc họp Hội đồng này: kiểm phiếu, chỉ tiêu, biên bản."),
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Xét khen thưởng: hồ sơ đủ/thiếu theo hạn, xét điều kiện kèm lý do; với --meeting, kết thúc cuộc họp."""
    with invocation(as_of) as run:
        run.use_prefect()
        from thidua.flows.review import review_flow

        summary: dict[str, Any] = review_flow(code, run.now, run.settings, meeting_id=meeting, actor="cli")
    typer.echo(f"Phong trào {summary['code']}: {campaign_status(summary['status'])}.")
    typer.echo(f"  Hồ sơ: {nomination_counts(summary['completeness'])}")
    typer.echo(f"  {summary['screening']}")
    for line in summary.get("declined", []):
        typer.echo(f"  {line}")
    for line in summary.get("to_verify", []):
        typer.echo(f"    ⚠ {line}")
    for line in summary.get("meeting", {}).get("lines", []):
        typer.echo(f"  {line}")
    if "meeting" in summary:
        typer.echo(f"  Biên bản: {summary['meeting']['minutes']}")


def award_run(
    code: Annotated[str, typer.Argument(help="Mã phong trào.")],
    date: Annotated[
        str | None, typer.Option("--date", help="Ngày quyết định (dd/mm/yyyy); mặc định hôm nay.")
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Ban hành mọi hình thức khen thưởng đã có kết quả của Hội đồng (luồng “award”), rồi gửi thư."""
    with invocation(as_of) as run:
        decided_on = run.day(date) if date else None
        run.use_prefect()
        from thidua.flows.award import award_flow

        summary: dict[str, Any] = award_flow(code, run.now, run.settings, decided_on=decided_on, actor="cli")
    for lines in summary["decisions"]:
        for line in lines:
            typer.echo(line)
    for waiting in summary["waiting"]:
        typer.echo(f"Chưa ban hành: {waiting}")
    emails = summary["emails"]
    typer.echo(f"Thư đã gửi: {emails.get('sent', 0)} · lỗi: {emails.get('failed', 0)}")


review_app = typer.Typer(cls=ThiduaGroup)
review_app.command("review")(review)
