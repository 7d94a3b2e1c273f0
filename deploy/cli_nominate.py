"""`thidua nomination`: nominations from a list, dossier files, the drafts the system writes, screening.

No Prefect here: the review flow calls the same tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thidua.deploy.cli_common import AsOf, ThiduaGroup, invocation, os_user
from thidua.models.labels import NOMINATION_STATUS as STATUS_LABELS
from thidua.models.review import NominationStatus, SubjectKind
from thidua.models.storage import storage_for
from thidua.models.text import fmt_date, nfc
from thidua.tasks.review.eligibility import screen_nominations
from thidua.tasks.review.nominations import (
    NominationResult,
    NominationView,
    add_dossier_file,
    decline_nominations,
    draft_documents,
    import_nominations,
    list_declines,
    list_nominations,
    refresh_completeness,
)

KIND_LABELS = {SubjectKind.COLLECTIVE: "Tập thể", SubjectKind.INDIVIDUAL: "Cá nhân"}

By = Annotated[str | None, typer.Option("--by", help="Người gửi (email); mặc định: người dùng máy.")]


def _print_nominations(result: NominationResult) -> None:
    marks = {"created": "+", "resubmitted": "+", "updated": "~", "unchanged": "="}
    for item in result.items:
        late = " · GỬI SAU HẠN" if item.is_late and item.status != "unchanged" else ""
        who = f"{KIND_LABELS[item.subject_kind]} {item.subject_name} ({item.subject_code})"
        typer.echo(f"{marks[item.status]} {who} — {item.award_key}, đơn vị đề nghị {item.nominated_by}{late}")
    typer.echo(str(result))


def _print_table(views: list[NominationView]) -> None:
    head = ("#", "Hình thức", "Đối tượng", "Mã", "Họ tên / Tên tập thể", "Đơn vị đề nghị", "Hồ sơ",
            "Điều kiện")  # fmt: skip
    rows = []
    for v in views:
        status = STATUS_LABELS[v.status] + (" · gửi sau hạn" if v.is_late else "")
        verdict = "Chưa xét" if v.eligible is None else "Đủ" if v.eligible else "Không đủ"
        if any(r.verify for r in v.reasons):
            verdict += " · cần xác minh"
        rows.append(
            (str(v.id), v.award_key, KIND_LABELS[v.subject_kind], v.subject_code, v.subject_name,
             v.nominated_by, status, verdict)
        )  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    for v, row in zip(views, rows, strict=True):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if v.missing_parts and v.status is not NominationStatus.WITHDRAWN:
            typer.echo(f"      thiếu: {', '.join(v.missing_parts)}")
        for reason in v.reasons:
            typer.echo(f"      {reason.mark} {reason.text}")


def build_app() -> typer.Typer:
    app = typer.Typer(
        cls=ThiduaGroup,
        help="Đề nghị khen thưởng: danh sách đề nghị, hồ sơ, dự thảo danh sách, xét điều kiện.",
        no_args_is_help=True,
    )

    @app.command("import")
    def import_(code: str, file: Path, as_of: AsOf = None, by: By = None) -> None:
        """Nhập danh sách đề nghị khen thưởng (CSV/XLSX); sai một dòng thì không nhập dòng nào."""
        with invocation(as_of) as run:
            result = import_nominations(run.engine, code, file, now=run.now, actor=by or os_user())
        _print_nominations(result)

    @app.command("list")
    def list_(
        code: str,
        unit: Annotated[str | None, typer.Option("--unit", help="Chỉ đề nghị của đơn vị này.")] = None,
    ) -> None:
        """Các đề nghị: trạng thái hồ sơ, kết quả xét điều kiện và lý do."""
        with invocation() as run:
            views = list_nominations(run.engine, code, unit_code=unit)
            declines = [
                d for d in list_declines(run.engine, code) if unit is None or d.unit_code == nfc(unit)
            ]
        if views:
            _print_table(views)
        elif not declines:
            typer.echo("Chưa có đề nghị khen thưởng nào.")
        for d in declines:
            typer.echo(d.text())

    @app.command("decline")
    def decline(
        code: str,
        unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị không đề nghị ai.")],
        reason: Annotated[str | None, typer.Option("--reason", help="Lý do (ghi vào nhật ký).")] = None,
        as_of: AsOf = None,
        by: By = None,
    ) -> None:
        """Đơn vị báo không đề nghị khen thưởng tập thể, cá nhân nào: không nhận thư nhắc đề nghị, hồ sơ nữa;
        báo cáo tổng kết và các văn bản xét khen thưởng ghi đơn vị “không đề nghị”. Đề nghị sau đó của chính
        đơn vị sẽ huỷ lời báo này."""
        with invocation(as_of) as run:
            result = decline_nominations(
                run.engine, code, unit, reason=reason, now=run.now, actor=by or os_user()
            )
        for line in result.lines():
            typer.echo(line)

    @app.command("dossier")
    def dossier(
        code: str,
        file: Path,
        unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị đề nghị.")],
        part: Annotated[str, typer.Option("--part", help="Thành phần hồ sơ (ví dụ to_trinh).")],
        nominee: Annotated[
            str | None, typer.Option("--nominee", help="Mã tập thể/cá nhân nếu tệp là hồ sơ riêng.")
        ] = None,
        award: Annotated[
            str | None, typer.Option("--award", help="Hình thức khen thưởng, khi đối tượng có nhiều đề nghị.")
        ] = None,
        as_of: AsOf = None,
        by: By = None,
    ) -> None:
        """Nộp một tệp hồ sơ (PDF, DOC/DOCX, XLS/XLSX theo quy định của phong trào)."""
        with invocation(as_of) as run:
            row = add_dossier_file(
                run.engine,
                run.settings,
                code,
                unit_code=unit,
                part_key=part,
                source=file,
                original_name=file.name,
                nominee=nominee,
                award_key=award,
                now=run.now,
                actor=by or os_user(),
            )
            counts = refresh_completeness(run.engine, code, now=run.now)
        timing = "đúng hạn" if row.on_time else "SAU HẠN"
        typer.echo(
            f"✓ {row.original_name}: {row.part_key}, lần {row.revision}, {row.size_bytes} byte, {timing} — "
            f"lưu tại {storage_for(run.settings).show(row.stored_path)} (SHA-256 {row.sha256[:12]}…)"
        )
        typer.echo(_counts_line(counts))

    @app.command("draft")
    def draft(
        code: str,
        unit: Annotated[str, typer.Option("--unit", help="Mã đơn vị đề nghị.")],
        as_of: AsOf = None,
    ) -> None:
        """Lập dự thảo Danh sách (DOCX) và Tổng hợp kết quả (XLSX) từ dữ liệu của hệ thống."""
        with invocation(as_of) as run:
            result = draft_documents(run.engine, run.settings, code, unit, now=run.now)
            counts = refresh_completeness(run.engine, code, now=run.now)
        for row in result.files:
            where = storage_for(run.settings).show(row.stored_path)
            typer.echo(f"✓ {row.original_name} (lần {row.revision}): {where}")
        for note in result.skipped:
            typer.echo(f"- {note}")
        typer.echo(_counts_line(counts))

    @app.command("screen")
    def screen(code: str, as_of: AsOf = None) -> None:
        """Cập nhật tình trạng hồ sơ rồi xét điều kiện khen thưởng của mọi đề nghị, kèm lý do."""
        with invocation(as_of) as run:
            counts = refresh_completeness(run.engine, code, now=run.now)
            summary = screen_nominations(run.engine, code, now=run.now)
        typer.echo(f"Xét đến {fmt_date(run.today)}. {_counts_line(counts)}")
        for item in summary.results:
            verdict = "ĐỦ ĐIỀU KIỆN" if item.eligible else "KHÔNG ĐỦ ĐIỀU KIỆN"
            if item.to_verify:
                verdict += " · CẦN XÁC MINH"
            typer.echo(
                f"{'✓' if item.eligible else '✗'} {KIND_LABELS[item.subject_kind]} {item.subject_name} "
                f"({item.subject_code}) — {verdict}"
            )
            for reason in item.reasons:
                if not reason.passed or reason.verify:
                    typer.echo(f"      {reason.mark} {reason.text}")
        typer.echo(str(summary))

    return app


def _counts_line(counts: dict[str, int]) -> str:
    parts = [
        f"{STATUS_LABELS[status].lower()} {counts[status.value]}"
        for status in NominationStatus
        if counts.get(status.value)
    ]
    return "Đề nghị: " + (", ".join(parts) if parts else "chưa có")


def register(app: typer.Typer) -> None:
    """Add the `nomination` command group to the main `thidua` app."""
    app.add_typer(build_app(), name="nomination")


nomination_app = build_app()
