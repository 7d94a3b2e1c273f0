"""`thidua award issue|record-decision|list|revoke`: decisions, certificates, money and award emails.

`register(app)` adds the `award` group to a Typer app (deploy/cli.py calls it). Every command acts at --as-of
(or now) and records the operating system user as the actor of its audit events.
"""

from __future__ import annotations

from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation, os_user
from thidua.deploy.cli_review import award_run
from thidua.models.money import vn_money
from thidua.models.text import fmt_date
from thidua.tasks.award.awards import (
    STATUS_LABELS,
    SUBJECT_LABELS,
    issue_awards,
    list_awards,
    record_external_decision,
    revoke_award,
)

award_app = typer.Typer(
    cls=ThiduaGroup,
    help="Khen thưởng: ban hành quyết định, giấy khen, tiền thưởng; ghi quyết định của cấp trên; thu hồi.",
    no_args_is_help=True,
)

DecisionDate = Annotated[str, typer.Option("--date", help="Ngày ký quyết định (dd/mm/yyyy).")]


@award_app.command("issue")
def issue(
    code: Annotated[str, typer.Argument(help="Mã phong trào.")],
    award_key: Annotated[
        str, typer.Argument(help="Khóa hình thức khen thưởng (ví dụ giay_khen_cuc_truong).")
    ],
    date: DecisionDate,
    as_of: AsOf = None,
) -> None:
    """Ban hành quyết định khen thưởng (hoặc lập tờ trình đề nghị cấp trên) từ kết quả của Hội đồng."""
    with invocation(as_of) as run:
        decided_on = run.day(date)
        result = issue_awards(
            run.engine, run.settings, code, award_key, decided_on=decided_on, now=run.now, actor=os_user()
        )
    for line in result.lines():
        typer.echo(line)


@award_app.command("record-decision")
def record_decision(
    code: Annotated[str, typer.Argument(help="Mã phong trào.")],
    award_key: Annotated[str, typer.Argument(help="Khóa hình thức khen thưởng do cấp trên quyết định.")],
    number: Annotated[int, typer.Option("--number", min=1, help="Số quyết định của cấp trên.")],
    symbol: Annotated[str, typer.Option("--symbol", help="Ký hiệu quyết định (ví dụ QĐ-BTP).")],
    date: DecisionDate,
    as_of: AsOf = None,
) -> None:
    """Ghi quyết định của cấp có thẩm quyền theo tờ trình đã gửi: cấp giấy khen, tiền thưởng, gửi thư."""
    with invocation(as_of) as run:
        decided_on = run.day(date)
        result = record_external_decision(
            run.engine,
            run.settings,
            code,
            award_key,
            number=number,
            symbol=symbol,
            decided_on=decided_on,
            now=run.now,
            actor=os_user(),
        )
    for line in result.lines():
        typer.echo(line)


@award_app.command("list")
def list_command(code: Annotated[str, typer.Argument(help="Mã phong trào.")]) -> None:
    """Các quyết định, tờ trình và khen thưởng của phong trào."""
    with invocation() as run:
        decisions = list_awards(run.engine, code)
    if not decisions:
        typer.echo("Chưa có quyết định khen thưởng nào.")
        return
    for d in decisions:
        kind = "Tờ trình" if d.status.value == "proposed" else "Quyết định"
        typer.echo(
            f"{kind} số {d.reference} ngày {fmt_date(d.decided_on)} – {d.award_name} "
            f"({STATUS_LABELS[d.status]}; {d.authority_unit_code})"
        )
        for g in d.grants:
            state = f" – {STATUS_LABELS[g.status]}: {g.revoke_reason}" if g.status.value == "revoked" else ""
            recover = f", phải nộp lại {vn_money(g.amount_to_recover)}" if g.amount_to_recover else ""
            typer.echo(
                f"  #{g.id} {SUBJECT_LABELS[g.subject_kind]} {g.subject_name} ({g.unit_code}): "
                f"{vn_money(g.amount_vnd)}{state}{recover}"
            )


@award_app.command("revoke")
def revoke(
    grant_id: Annotated[int, typer.Argument(help="Mã số khen thưởng (xem `award list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Lý do thu hồi.")],
    as_of: AsOf = None,
) -> None:
    """Thu hồi một khen thưởng: ghi lý do, số tiền phải nộp lại, gửi thư cho đơn vị."""
    with invocation(as_of) as run:
        grant = revoke_award(run.engine, run.settings, grant_id, reason=reason, now=run.now, actor=os_user())
    typer.echo(
        f"Đã thu hồi khen thưởng #{grant.id} ({grant.subject_name}); lý do: {grant.revoke_reason}; "
        f"số tiền phải nộp lại: {vn_money(grant.amount_to_recover or 0)}."
    )


award_app.command("run")(award_run)


def register(app: typer.Typer) -> None:
    """Add the `award` command group to a `thidua` application."""
    app.add_typer(award_app, name="award")


__all__ = ["award_app", "register"]
