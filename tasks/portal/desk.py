"""What the administrators' desk of the portal reads and stages, beside the CLI's own work functions.

- A definition uploaded through the portal is checked exactly as `thidua campaign validate` checks a file
  (parse, then the scope against the directory) and, only when it is usable, kept in the storage under
  `definitions/<sha256>.yaml` (the bucket when one is set, so the launch may reach another web host than
  the upload); the launch flow reads a local copy as it reads the CLI's file. The name the browser sent is
  shown, never used as a path; a refused upload stores nothing.
- The dashboard is `campaign status`'s own table (tasks/collect/status_table.campaign_status), with the
  reconciliation against the case ledger and the reminders of the campaign's outbox beside it.
- The outbox and the documents of one campaign, as rows the pages and the API show; files are read by
  the storage keys the database holds.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.errors import Conflict, InvalidInput, NotFound
from thidua.models.campaign import Deadline, EnrolledUnit
from thidua.models.definition import CampaignDefinition, definition_from_json, parse_definition
from thidua.models.outbox import OutboxMessage
from thidua.models.reminders import KIND_DIGEST, KIND_ESCALATION, KIND_REMINDER
from thidua.models.review import CampaignDocument, DocumentKind
from thidua.models.schedule import ScheduledDeadline, build_schedule
from thidua.models.settings import Settings
from thidua.models.states import DeadlineKind, OutboxStatus
from thidua.models.storage import storage_for, storage_key
from thidua.models.text import nfc
from thidua.models.workdays import WorkCalendar
from thidua.notifications.outbox import retry_failed
from thidua.tasks.collect.ledger import ReconRow, current_import, reconcile
from thidua.tasks.collect.status_table import StatusTable, campaign_status
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.launch.campaign import check_scope
from thidua.tasks.portal.documents import PLAN_ID

#: A campaign definition is a page of YAML; a megabyte is far more than any real one.
MAX_DEFINITION_BYTES = 1024 * 1024
DEFINITIONS_DIR = "definitions"
_STAGED_ID = re.compile(r"^[0-9a-f]{64}$")

OUTBOX_LABELS = {
    OutboxStatus.PENDING: "Chờ gửi",
    OutboxStatus.SENDING: "Đang gửi",
    OutboxStatus.SENT: "Đã gửi",
    OutboxStatus.FAILED: "Thất bại",
    OutboxStatus.CANCELLED: "Đã huỷ",
}
DOCUMENT_LABELS = {
    DocumentKind.PLAN: "Kế hoạch phong trào",
    DocumentKind.CLOSING_REPORT: "Báo cáo tổng kết",
    DocumentKind.CLOSING_TABLE: "Biểu tổng hợp kết quả",
    DocumentKind.CLOSING_CHART: "Biểu đồ tổng kết",
    DocumentKind.MINUTES: "Biên bản họp Hội đồng",
    DocumentKind.DECISION: "Quyết định khen thưởng",
    DocumentKind.CERTIFICATE: "Giấy chứng nhận khen thưởng",
    DocumentKind.PROPOSAL: "Tờ trình đề nghị cấp trên",
    DocumentKind.PROPOSAL_LIST: "Danh sách đề nghị cấp trên",
    DocumentKind.DRAFT_LIST: "Danh sách (bản hệ thống lập)",
    DocumentKind.DRAFT_SUMMARY: "Tổng hợp kết quả (bản hệ thống lập)",
}
REMINDER_KINDS = (KIND_REMINDER, KIND_ESCALATION, KIND_DIGEST)


class DefinitionTooLarge(InvalidInput):
    """An uploaded definition over MAX_DEFINITION_BYTES: refused unread, nothing stored."""


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class StagedDefinition:
    """A usable definition kept for launching: `id` names it in the portal's links (its SHA-256)."""

    id: str
    source_name: str
    definition: CampaignDefinition
    units: int
    calendar: list[ScheduledDeadline]


def _shown_name(name: str) -> str:
    # Only for display: the last part of what the browser sent, normalised and cut short.
    return (nfc(PurePath(name.replace("\\", "/")).name) or "dinh-nghia.yaml")[:120]


def staged_key(ident: str) -> str:
    """The storage key of a staged definition; NotFound for an id that is not a SHA-256 (never a path)."""
    if not _STAGED_ID.match(ident):
        raise NotFound("Không có định nghĩa phong trào này (hãy tải tệp lên lại).")
    return storage_key(DEFINITIONS_DIR, f"{ident}.yaml")


def stage_definition(
    engine: Engine, settings: Settings, name: str, data: bytes, *, calendar: WorkCalendar
) -> StagedDefinition:
    """Check an uploaded definition as `campaign validate` does (DefinitionError lists every problem with
    its path and line; ScopeError names units the directory lacks) and keep it for the launch. Nothing is
    written unless every check passes."""
    shown = _shown_name(name)
    if len(data) > MAX_DEFINITION_BYTES:
        raise DefinitionTooLarge(
            f"Tệp “{shown}” quá lớn cho một định nghĩa phong trào; không có gì được lưu."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"Tệp “{shown}” không phải văn bản UTF-8; không có gì được lưu.",
            hint="Lưu tệp định nghĩa (YAML) với bảng mã UTF-8.",
        ) from exc
    defn = parse_definition(text, shown)
    units = check_scope(engine, defn)
    digest = hashlib.sha256(data).hexdigest()
    storage_for(settings).put(staged_key(digest), data)
    return StagedDefinition(digest, shown, defn, units, build_schedule(defn, calendar))


def staged_bytes(settings: Settings, ident: str) -> bytes:
    """The bytes of a staged definition; NotFound for anything that is not one."""
    key = staged_key(ident)
    storage = storage_for(settings)
    if not storage.exists(key):
        raise NotFound("Không có định nghĩa phong trào này (hãy tải tệp lên lại).")
    return storage.get(key)


def staged_definition(
    engine: Engine, settings: Settings, ident: str, *, calendar: WorkCalendar
) -> StagedDefinition:
    """A staged definition read back (checked again: the directory may have changed since the upload)."""
    data = staged_bytes(settings, ident)
    defn = parse_definition(data.decode("utf-8-sig"), f"{ident[:12]}.yaml")
    return StagedDefinition(
        ident, f"{ident}.yaml", defn, check_scope(engine, defn), build_schedule(defn, calendar)
    )


# ---------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class ReminderCounts:
    sent: int
    pending: int  # waiting or being sent
    failed: int
    cancelled: int


@dataclass(frozen=True)
class Dashboard:
    table: StatusTable  # the same table `thidua campaign status` prints
    periods: list[tuple[str, str]]  # (key, label) of every reporting period
    reconciliation: list[ReconRow] | None  # rows that differ; None: no case ledger imported
    reminders: ReminderCounts
    field_labels: dict[str, str]  # the definition's label of each report field, shown instead of its key


def campaign_id_of(engine: Engine, code: str) -> int:
    with Session(engine) as s:
        cid = get_campaign(s, code).id
    assert cid is not None
    return cid


def reporting_periods(engine: Engine, code: str) -> list[tuple[str, str]]:
    cid = campaign_id_of(engine, code)
    with Session(engine) as s:
        rows = s.execute(
            select(col(Deadline.key), col(Deadline.label))
            .where(
                col(Deadline.campaign_id) == cid,
                col(Deadline.kind).in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]),
            )
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
    return [(str(k), str(label)) for k, label in rows]


def reminder_counts(engine: Engine, code: str) -> ReminderCounts:
    """The campaign's reminders, escalations and digests in the outbox, by state."""
    cid = campaign_id_of(engine, code)
    o = OutboxMessage
    with Session(engine) as s:
        counts = Counter(
            {
                OutboxStatus(status): int(n)
                for status, n in s.execute(
                    select(col(o.status), func.count())
                    .where(col(o.campaign_id) == cid, col(o.kind).in_(REMINDER_KINDS))
                    .group_by(col(o.status))
                ).all()
            }
        )
    return ReminderCounts(
        sent=counts[OutboxStatus.SENT],
        pending=counts[OutboxStatus.PENDING] + counts[OutboxStatus.SENDING],
        failed=counts[OutboxStatus.FAILED],
        cancelled=counts[OutboxStatus.CANCELLED],
    )


def differences(engine: Engine, code: str, period_key: str) -> list[ReconRow] | None:
    """What units reported that their case ledger does not give (`thidua ledger reconcile`, reported rows
    that differ); None when the campaign has no ledger imported to compare with."""
    if current_import(engine, code) is None:
        return None
    return [r for r in reconcile(engine, code, period_key) if r.reported is not None and r.difference]


def dashboard(
    engine: Engine, code: str, *, as_of: date, tz: ZoneInfo, period: str | None = None
) -> Dashboard:
    table = campaign_status(engine, code, as_of=as_of, period=period, tz=tz)
    return Dashboard(
        table=table,
        periods=reporting_periods(engine, code),
        reconciliation=differences(engine, code, table.period_key),
        reminders=reminder_counts(engine, code),
        field_labels=field_labels(engine, code),
    )


def field_labels(engine: Engine, code: str) -> dict[str, str]:
    """Key → label of the campaign's report fields, as its definition names them."""
    with Session(engine) as s:
        found = get_campaign(s, code)
    return {f.key: f.label for f in definition_from_json(found.definition_json).fields}


def enrolled_units(engine: Engine, code: str) -> list[tuple[str, str]]:
    """(code, name) of every unit enrolled in the campaign, as the launch copied them."""
    cid = campaign_id_of(engine, code)
    with Session(engine) as s:
        rows = s.execute(
            select(col(EnrolledUnit.unit_code), col(EnrolledUnit.unit_name))
            .where(col(EnrolledUnit.campaign_id) == cid)
            .order_by(col(EnrolledUnit.unit_code))
        ).all()
    return [(str(u), str(n)) for u, n in rows]


# ---------------------------------------------------------------- outbox


@dataclass(frozen=True)
class DeskEmail:
    id: int
    status: OutboxStatus
    kind: str
    recipient: str
    subject: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def status_label(self) -> str:
        return OUTBOX_LABELS.get(self.status, "Không rõ")


def campaign_outbox(
    engine: Engine, code: str, *, status: OutboxStatus | None = None, limit: int = 200
) -> list[DeskEmail]:
    """The campaign's emails, newest first (at most `limit`), of one state or all."""
    cid = campaign_id_of(engine, code)
    o = OutboxMessage
    query = (
        select(
            col(o.id),
            col(o.status),
            col(o.kind),
            col(o.recipient),
            col(o.subject),
            col(o.attempts),
            col(o.last_error),
            col(o.created_at),
            col(o.sent_at),
        )
        .where(col(o.campaign_id) == cid)
        .order_by(col(o.id).desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(col(o.status) == status)
    with Session(engine) as s:
        rows = s.execute(query).all()
    return [DeskEmail(r[0], OutboxStatus(r[1]), *r[2:]) for r in rows]


def outbox_counts(engine: Engine, code: str) -> dict[OutboxStatus, int]:
    cid = campaign_id_of(engine, code)
    o = OutboxMessage
    with Session(engine) as s:
        rows = s.execute(
            select(col(o.status), func.count()).where(col(o.campaign_id) == cid).group_by(col(o.status))
        ).all()
    found = {OutboxStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in OUTBOX_LABELS}


def retry_email(engine: Engine, code: str, email_id: int) -> int:
    """`thidua outbox retry CODE --id N`: one failed email of this campaign back in the queue."""
    cid = campaign_id_of(engine, code)
    with Session(engine) as s:
        row = s.execute(
            select(col(OutboxMessage.status)).where(
                col(OutboxMessage.id) == email_id, col(OutboxMessage.campaign_id) == cid
            )
        ).first()
    if row is None:
        raise NotFound(f"Không có thư số {email_id} trong hộp thư đi của phong trào này.")
    if OutboxStatus(row[0]) != OutboxStatus.FAILED:
        state = OUTBOX_LABELS.get(OutboxStatus(row[0]), "khác").lower()
        raise Conflict(f"Thư số {email_id} đang ở trạng thái “{state}”: chỉ thư thất bại mới gửi lại được.")
    return retry_failed(engine, ids=[email_id], campaign_id=cid)


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class DeskDocument:
    id: str  # PLAN_ID or the CampaignDocument id
    kind: DocumentKind
    label: str
    key: str  # the storage key, from the database only
    created_at: datetime | None

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return PurePath(self.key).suffix.lower()


def campaign_documents(engine: Engine, code: str) -> list[DeskDocument]:
    """Every document the system generated for the campaign: the plan, the closing report and its table and
    chart (every version), minutes, proposals, decisions, certificates, drafted dossier parts."""
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        rows = s.scalars(
            select(CampaignDocument)
            .where(col(CampaignDocument.campaign_id) == campaign.id)
            .order_by(col(CampaignDocument.kind), col(CampaignDocument.id))
        ).all()
    docs: list[DeskDocument] = []
    has_plan_row = any(r.kind == DocumentKind.PLAN for r in rows)
    if campaign.plan_document and not has_plan_row:
        docs.append(
            DeskDocument(
                PLAN_ID, DocumentKind.PLAN, DOCUMENT_LABELS[DocumentKind.PLAN], campaign.plan_document, None
            )
        )
    order = list(DocumentKind)  # plan, closing report, table, chart, minutes, decisions, certificates, …
    for r in sorted(rows, key=lambda r: (order.index(DocumentKind(r.kind)), r.id or 0)):
        assert r.id is not None
        kind = DocumentKind(r.kind)
        label = DOCUMENT_LABELS.get(kind, "Tài liệu")
        docs.append(
            DeskDocument(str(r.id), kind, f"{label} — {r.ref}" if r.ref else label, r.path, r.created_at)
        )
    return docs


def campaign_document(engine: Engine, code: str, doc_id: str) -> DeskDocument:
    for doc in campaign_documents(engine, code):
        if doc.id == doc_id:
            return doc
    raise NotFound(f"Không có tài liệu “{doc_id[:40]}” trong phong trào này.")


__all__ = [
    "MAX_DEFINITION_BYTES",
    "Dashboard",
    "DeskDocument",
    "DeskEmail",
    "ReminderCounts",
    "StagedDefinition",
    "campaign_document",
    "campaign_documents",
    "campaign_outbox",
    "dashboard",
    "differences",
    "enrolled_units",
    "outbox_counts",
    "reminder_counts",
    "retry_email",
    "stage_definition",
    "staged_bytes",
    "staged_definition",
    "staged_key",
]
