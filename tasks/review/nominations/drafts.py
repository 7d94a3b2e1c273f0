"""Drafts written from the system's own data: the Danh sách (DOCX) and Tổng hợp kết quả (XLSX)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, EnrolledPerson, EnrolledUnit
from thidua.models.definition import CampaignDefinition, DossierPart
from thidua.models.indicators import IndicatorResult
from thidua.models.reconciliation import LedgerCheck
from thidua.models.reporting import ProgressSnapshot, SnapshotSource
from thidua.models.review import (
    CampaignDocument,
    DocumentKind,
    DossierFile,
    FinalResult,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, vn_sort_key
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.documents.dossier import (
    ListLine,
    NominationListContent,
    ResultsSummaryContent,
    SummaryLine,
    render_nomination_list,
    render_results_summary,
)
from thidua.tasks.close.closing import data_period
from thidua.tasks.collect.ledger import ReportedFigures, SubjectKey, ledger_checks
from thidua.tasks.core.declines import NO_PROPOSAL, declined_units
from thidua.tasks.review.nominations.dossier import _MIME, _current_file, _store, _unit
from thidua.tasks.review.nominations.lookups import campaign_and_definition, dossier_deadline, local_day


@dataclass(frozen=True)
class DraftResult:
    files: list[DossierFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a part was not drafted


def _final_results(s: Session, campaign_id: int) -> dict[tuple[str, str], tuple[FinalResult, str]]:
    """The final figures with the period they come from; before the close run has frozen them (units draft
    their dossier before the campaign closes), the latest figures computed from their reports, final period
    first."""
    out: dict[tuple[str, str], tuple[FinalResult, str]] = {}
    snapshots = s.scalars(
        select(ProgressSnapshot)
        .where(
            col(ProgressSnapshot.campaign_id) == campaign_id,
            col(ProgressSnapshot.source) == SnapshotSource.REPORT,
        )
        .order_by(col(ProgressSnapshot.period_key))  # "2024-01" < ... < "2024-06" < "final"
    )
    for snap in snapshots:
        out[(snap.subject_kind, snap.subject_code)] = (
            FinalResult(
                campaign_id=campaign_id,
                subject_kind=snap.subject_kind,
                subject_code=snap.subject_code,
                unit_code="",
                values_json=snap.values_json,
                indicators_json=snap.indicators_json,
                computed_at=snap.computed_at,
            ),
            snap.period_key,
        )
    finals = list(s.scalars(select(FinalResult).where(col(FinalResult.campaign_id) == campaign_id)))
    if finals:
        period = data_period(s.connection(), campaign_id).key
        for r in finals:
            out[(r.subject_kind, r.subject_code)] = (r, period)
    return out


def _ledger_checks(
    engine: Engine,
    code: str,
    defn: CampaignDefinition,
    nominations: Iterable[Nomination],
    units: Mapping[str, EnrolledUnit],
    finals: Mapping[tuple[str, str], tuple[FinalResult, str]],
) -> dict[SubjectKey, LedgerCheck]:
    """The nominees' own reported figures beside the case ledger's for the same period, as the closing report
    checks them (a collective that reports itself, a person with figures); empty without a ledger."""
    main = defn.main_indicator.key
    reported: dict[SubjectKey, ReportedFigures] = {}
    for n in nominations:
        collective = n.subject_kind == SubjectKind.COLLECTIVE
        key = ("unit" if collective else "person", n.subject_code)
        final, period = finals.get(key, (None, ""))
        own = units.get(n.subject_code)
        if final is None or not final.has_report or (collective and not (own is not None and own.reports)):
            continue
        figures = {k: int(v) for k, v in json.loads(final.values_json).items() if isinstance(v, int)}
        if figures:
            reported[key] = ReportedFigures(period, figures, _results_of(final).get(main))
    return ledger_checks(engine, code, reported)


def _results_of(row: FinalResult | None) -> dict[str, IndicatorResult]:
    if row is None:
        return {}
    out: dict[str, IndicatorResult] = {}
    for key, data in json.loads(row.indicators_json or "{}").items():
        try:
            out[key] = IndicatorResult.from_json(key, data)
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry is shown as no data rather than failing the whole draft
    return out


def draft_documents(
    engine: Engine, settings: Settings, code: str, unit_code: str, *, now: datetime
) -> DraftResult:
    """Draft the proposing unit's Danh sách (DOCX) and Tổng hợp kết quả (XLSX) as generated dossier files.

    Only for parts the campaign's dossier has ("danh_sach", and the part whose key starts with "tong_hop").
    A part whose current file the unit uploaded itself is left alone (the signed copy wins over a draft).
    """
    day = local_day(now)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        unit = _unit(s, campaign, unit_code)
        parts = {p.key: p for p in defn.dossier.parts}
        list_part = parts.get("danh_sach")
        summary_part = next((p for p in defn.dossier.parts if p.key.startswith("tong_hop")), None)
        result = DraftResult()
        if list_part is None and summary_part is None:
            result.skipped.append("Hồ sơ của phong trào không có thành phần Danh sách hay Tổng hợp kết quả.")
            return result
        nominations = list(
            s.scalars(
                select(Nomination).where(
                    col(Nomination.campaign_id) == campaign.id,
                    col(Nomination.nominated_by) == unit.unit_code,
                    col(Nomination.status) != NominationStatus.WITHDRAWN,
                )
            )
        )
        if not nominations:
            declined = any(d.unit_code == unit.unit_code for d in declined_units(s, campaign.id))
            state = f"đã báo {NO_PROPOSAL} khen thưởng" if declined else "chưa có đề nghị khen thưởng nào"
            result.skipped.append(f"Đơn vị {unit.unit_code} {state}: không có gì để lập danh sách.")
            return result
        nominations.sort(key=_list_order)
        units = {
            u.unit_code: u
            for u in s.scalars(select(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == campaign.id))
        }
        on_time = day <= dossier_deadline(s, campaign.id, defn)
        awards = {a.key: a.name for a in defn.awards}
        drafts: list[tuple[DossierPart, DocumentKind, str, bytes]] = []
        if list_part is not None:
            content = _list_content(s, campaign, defn, unit, units, nominations, awards, day)
            drafts.append((list_part, DocumentKind.DRAFT_LIST, "docx", _render("docx", content)))
        if summary_part is not None:
            finals = _final_results(s, campaign.id)
            checks = _ledger_checks(engine, campaign.code, defn, nominations, units, finals)
            summary = _summary_content(
                campaign, defn, summary_part, unit, units, nominations, awards, finals, checks
            )
            drafts.append((summary_part, DocumentKind.DRAFT_SUMMARY, "xlsx", _render("xlsx", summary)))
        for part, kind, ext, data in drafts:
            current, _last = _current_file(s, campaign.id, unit.unit_code, part.key, None)
            if current is not None and not current.generated:
                result.skipped.append(
                    f"{part.name}: đơn vị đã nộp tệp “{current.original_name}” (lần {current.revision}); "
                    "giữ tệp của đơn vị, không thay bằng bản dự thảo."
                )
                continue
            row = _store(
                s,
                settings,
                campaign,
                unit_code=unit.unit_code,
                part=part,
                nomination_id=None,
                data=data,
                ext=ext,
                mime=_MIME[ext],
                original_name=f"{part.name} – {unit.unit_name} (dự thảo).{ext}"[:300],
                generated=True,
                on_time=on_time,
                now=now,
                actor="system",
            )
            _record_document(s, campaign.id, kind, unit.unit_code, row, now)
            result.files.append(row)
        return result


def _list_order(n: Nomination) -> tuple[int, tuple[str, str, str], str]:
    # Collectives first (by code), then people the Vietnamese way: given name, middle, family.
    if n.subject_kind == SubjectKind.COLLECTIVE:
        return (0, ("", "", ""), n.subject_code)
    return (1, vn_sort_key(n.subject_name), n.subject_code)


def _render(ext: str, content: NominationListContent | ResultsSummaryContent) -> bytes:
    # A temporary file outside the data dir: the bytes go to the storage with the unit's other files.
    with tempfile.TemporaryDirectory(prefix="thidua-draft-") as tmp:
        path = Path(tmp) / f"draft.{ext}"
        if isinstance(content, NominationListContent):
            render_nomination_list(content, path)
        else:
            render_results_summary(content, path)
        return path.read_bytes()


def _record_document(
    s: Session, campaign_id: int, kind: DocumentKind, ref: str, row: DossierFile, now: datetime
) -> None:
    doc = s.scalars(
        select(CampaignDocument).where(
            col(CampaignDocument.campaign_id) == campaign_id,
            col(CampaignDocument.kind) == kind,
            col(CampaignDocument.ref) == ref,
        )
    ).first()
    if doc is None:
        s.add(
            CampaignDocument(
                campaign_id=campaign_id,
                kind=kind,
                ref=ref,
                path=row.stored_path,
                sha256=row.sha256,
                created_at=now,
            )
        )
    elif doc.sha256 != row.sha256:
        doc.path, doc.sha256, doc.created_at = row.stored_path, row.sha256, now
        s.add(doc)


def _unit_head(s: Session, campaign_id: int, unit_code: str) -> EnrolledPerson | None:
    return s.scalars(
        select(EnrolledPerson).where(
            col(EnrolledPerson.campaign_id) == campaign_id,
            col(EnrolledPerson.unit_code) == unit_code,
            col(EnrolledPerson.is_head).is_(True),
        )
    ).first()


_CAMPAIGN_KIND_WORDS = {"thuong_xuyen": "thường xuyên", "chuyen_de": "chuyên đề", "theo_dot": "theo đợt"}


def _campaign_phrase(defn: CampaignDefinition) -> str:
    kind = _CAMPAIGN_KIND_WORDS.get(str(getattr(defn.kind, "value", defn.kind)), "")
    return f"phong trào thi đua {kind} “{defn.title}”".replace("  ", " ")


def _unit_column(n: Nomination, units: Mapping[str, EnrolledUnit]) -> str:
    """The "Đơn vị" column: a person's unit; for a collective, the unit it belongs to."""
    own = units.get(n.unit_code)
    if own is None:
        return n.unit_code
    if n.subject_kind == SubjectKind.COLLECTIVE:
        parent = units.get(own.parent_code or "")
        return parent.unit_name if parent is not None else ""
    return own.unit_name


def _list_content(
    s: Session,
    campaign: Campaign,
    defn: CampaignDefinition,
    unit: EnrolledUnit,
    units: Mapping[str, EnrolledUnit],
    nominations: Iterable[Nomination],
    awards: Mapping[str, str],
    day: date,
) -> NominationListContent:
    assert campaign.id is not None
    parent = units.get(unit.parent_code or "")
    head = _unit_head(s, campaign.id, unit.unit_code)
    header = DocumentHeader(
        parent_agency=parent.unit_name if parent is not None else defn.issuer.parent_agency,
        agency=unit.unit_name,
        number=None,
        symbol=f"DS-{unit.unit_code}",
        place=unit.place_name or defn.issuer.place,
        date=day,
    )
    lines = [
        ListLine(
            kind="collective" if n.subject_kind == SubjectKind.COLLECTIVE else "individual",
            name=n.subject_name,
            title=n.subject_title or "",
            unit_name=_unit_column(n, units),
            award_name=awards.get(n.award_key, n.award_key),
        )
        for n in nominations
    ]
    return NominationListContent(
        header=header,
        subject=f"Tập thể, cá nhân đề nghị khen thưởng trong {_campaign_phrase(defn)}",
        note=f"(Kèm theo Tờ trình đề nghị khen thưởng của {unit.unit_name})",
        lines=lines,
        signature=SignatureBlock(
            on_behalf=None,
            title=head.title if head is not None else "THỦ TRƯỞNG ĐƠN VỊ",
            name=head.full_name if head is not None else "",
        ),
    )


def _summary_content(
    campaign: Campaign,
    defn: CampaignDefinition,
    part: DossierPart,
    unit: EnrolledUnit,
    units: Mapping[str, EnrolledUnit],
    nominations: Iterable[Nomination],
    awards: Mapping[str, str],
    finals: Mapping[tuple[str, str], tuple[FinalResult, str]],
    checks: Mapping[SubjectKey, LedgerCheck],
) -> ResultsSummaryContent:
    lines: list[SummaryLine] = []
    for n in nominations:
        collective = n.subject_kind == SubjectKind.COLLECTIVE
        key = ("unit" if collective else "person", n.subject_code)
        final = finals[key][0] if key in finals else None
        figures = json.loads(final.values_json) if final is not None else {}
        lines.append(
            SummaryLine(
                kind="collective" if collective else "individual",
                code=n.subject_code,
                name=n.subject_name,
                title=n.subject_title or "",
                unit_name=_unit_column(n, units),
                award_name=awards.get(n.award_key, n.award_key),
                figures={k: int(v) for k, v in figures.items() if isinstance(v, int)},
                results=_results_of(final),
                has_figures=final is not None,
                ledger=checks.get(key),
            )
        )
    compared = defn.ledger_measures() if checks else {}
    return ResultsSummaryContent(
        title=part.name,
        campaign_line=f"{defn.title} ({campaign.code})",
        unit_line=f"Đơn vị đề nghị: {unit.unit_name} ({unit.unit_code})",
        period_line=f"Số liệu từ {fmt_date(defn.period.start)} đến {fmt_date(defn.period.end)}",
        fields=[(f.key, f.label) for f in defn.fields],
        indicators=[(i.key, i.label) for i in defn.indicators],
        lines=lines,
        stamp=defn.period.end,
        ledger_fields=[(f.key, f.label) for f in defn.fields if f.key in compared],
        ledger_at=next(iter(checks.values())).at if checks else None,
    )
