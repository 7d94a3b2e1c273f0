"""One nominee's dossier as its proposing unit sees it on the portal: each part of the campaign's dossier
with the file that stands for it (the nominee's own, or the unit's whole-dossier file), what is still missing
by the rule the review and the reminders use (tasks/core/dossiers.py), and the deadline; and the unit's
dossier files by id for download, the drafts the system prepared (tasks/review/nominations/drafts.py) among
them.

Read-only; a nomination or a file of another unit is NotFound, exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Literal

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.errors import NotFound
from thidua.models.reminders import working_days_left
from thidua.models.review import DossierFile
from thidua.models.workdays import WorkCalendar, load_calendar
from thidua.tasks.core.campaigns import campaign_code
from thidua.tasks.core.dossiers import parts_there
from thidua.tasks.review.nominations.listing import NominationView, list_nominations
from thidua.tasks.review.nominations.lookups import campaign_and_definition, dossier_deadline


@dataclass(frozen=True)
class FileRef:
    id: int
    part_key: str
    nomination_id: int | None  # None: a file of the unit's whole dossier
    revision: int
    original_name: str  # as the sender named it: shown, never used as a path or a download name
    uploaded_at: datetime
    on_time: bool
    generated: bool  # a draft the system prepared
    unit_wide: bool  # the unit's whole-dossier file (Tờ trình, Danh sách…), not the nominee's own


PartState = Literal["missing", "late", "received", "received_late", "optional"]


@dataclass(frozen=True)
class PartLine:
    key: str
    name: str
    required: bool
    file: FileRef | None
    missing: bool  # required, and no file of it arrived on time

    @property
    def state(self) -> PartState:
        """missing, late, received, received_late or optional (the API's key of `state_label`)."""
        if self.missing:
            return "late" if self.file is not None else "missing"
        if self.file is None:
            return "optional"
        return "received" if self.file.on_time else "received_late"

    @property
    def state_label(self) -> str:
        if self.missing:
            return "Nộp quá hạn" if self.file is not None else "Còn thiếu"
        if self.file is None:
            return "Không bắt buộc"
        return "Đã nộp" if self.file.on_time else "Đã nộp (quá hạn)"


@dataclass(frozen=True)
class NomineeDossier:
    nomination: NominationView
    label: str
    deadline: date
    working_days_left: int
    parts: list[PartLine]
    drafts: list[FileRef]  # the unit's current drafts (Danh sách, Tổng hợp kết quả)

    @property
    def missing(self) -> list[str]:
        return [p.name for p in self.parts if p.missing]


def file_ref(row: DossierFile) -> FileRef:
    """The portal's view of one stored dossier file (also what an upload or a draft returns)."""
    assert row.id is not None
    return FileRef(
        row.id,
        row.part_key,
        row.nomination_id,
        row.revision,
        row.original_name,
        row.uploaded_at,
        row.on_time,
        row.generated,
        row.nomination_id is None,
    )


def unit_nomination(engine: Engine, unit_code: str, code: str, nomination_id: int) -> NominationView:
    """Nomination `nomination_id` if `unit_code` proposed it in campaign `code`; NotFound otherwise (another
    unit's nomination answers exactly as one that does not exist)."""
    listed = list_nominations(engine, campaign_code(code), unit_code=unit_code)
    nomination = next((n for n in listed if n.id == nomination_id), None)
    if nomination is None:
        raise NotFound(f"Đơn vị {unit_code} không có đề nghị số {nomination_id} trong phong trào này.")
    return nomination


def unit_drafts(engine: Engine, unit_code: str, code: str) -> list[FileRef]:
    """The current drafts the system prepared for the unit's whole dossier (Danh sách, Tổng hợp kết quả)."""
    with Session(engine) as s:
        campaign, _defn = campaign_and_definition(s, campaign_code(code))
        rows = s.scalars(
            select(DossierFile)
            .where(
                col(DossierFile.campaign_id) == campaign.id,
                col(DossierFile.unit_code) == unit_code,
                col(DossierFile.is_current).is_(True),
                col(DossierFile.generated).is_(True),
            )
            .order_by(col(DossierFile.part_key))
        ).all()
    return [file_ref(r) for r in rows]


def nominee_dossier(
    engine: Engine,
    unit_code: str,
    code: str,
    nomination_id: int,
    *,
    today: date,
    calendar: WorkCalendar | None = None,
) -> NomineeDossier:
    """The dossier of nomination `nomination_id`, proposed by `unit_code` in campaign `code`."""
    nomination = unit_nomination(engine, unit_code, code, nomination_id)
    with Session(engine) as s:
        campaign, defn = campaign_and_definition(s, campaign_code(code))
        assert campaign.id is not None
        deadline = dossier_deadline(s, campaign.id, defn)
        there = parts_there(s, campaign.id, defn)
        missing = set(there.missing(nomination_id, unit_code))
        rows = s.scalars(
            select(DossierFile).where(
                col(DossierFile.campaign_id) == campaign.id,
                col(DossierFile.unit_code) == unit_code,
                col(DossierFile.is_current).is_(True),
                (col(DossierFile.nomination_id) == nomination_id) | col(DossierFile.nomination_id).is_(None),
            )
        ).all()
    own = {r.part_key: r for r in rows if r.nomination_id is not None}
    shared = {r.part_key: r for r in rows if r.nomination_id is None}
    parts = []
    for p in defn.dossier.parts:
        row = own.get(p.key) or shared.get(p.key)
        parts.append(PartLine(p.key, p.name, p.required, file_ref(row) if row else None, p.name in missing))
    drafts = [file_ref(r) for r in rows if r.generated]
    calendar = calendar or load_calendar()
    return NomineeDossier(
        nomination,
        defn.dossier.label,
        deadline,
        working_days_left(deadline, today, calendar),
        parts,
        drafts,
    )


@dataclass(frozen=True)
class StoredDossierFile:
    key: str  # the storage key the system chose (DossierFile.stored_path)
    download_name: str  # made from the part and revision, never from the sender's name


def dossier_file(engine: Engine, unit_code: str, code: str, file_id: int) -> StoredDossierFile:
    """One file (any revision) of the unit's dossiers in campaign `code`; NotFound for another unit's."""
    with Session(engine) as s:
        campaign, _defn = campaign_and_definition(s, campaign_code(code))
        row = s.scalars(
            select(DossierFile).where(
                col(DossierFile.id) == file_id,
                col(DossierFile.campaign_id) == campaign.id,
                col(DossierFile.unit_code) == unit_code,
            )
        ).first()
    if row is None:
        raise NotFound(f"Không có tệp hồ sơ số {file_id} của đơn vị {unit_code} trong phong trào này.")
    suffix = PurePosixPath(row.stored_path).suffix.lower()
    who = f"-de-nghi-{row.nomination_id}" if row.nomination_id is not None else ""
    name = f"ho-so-{campaign.code}-{unit_code}{who}-{row.part_key}-lan-{row.revision}{suffix}"
    return StoredDossierFile(row.stored_path, name)
