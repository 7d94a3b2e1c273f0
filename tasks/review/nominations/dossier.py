"""Dossier files: checked by type and size, stored under a name the system chooses, revised when changed."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, EnrolledUnit
from thidua.models.definition import CampaignDefinition, DossierPart
from thidua.models.review import (
    DossierFile,
    Nomination,
    NominationStatus,
)
from thidua.models.settings import Settings
from thidua.models.storage import InvalidKey, storage_for, storage_key
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations.errors import DossierFileError, NominationError
from thidua.tasks.review.nominations.lookups import (
    _actor,
    _aware,
    campaign_and_definition,
    dossier_deadline,
    local_day,
)
from thidua.tasks.review.nominations.shared import _SAFE_CODE, DOSSIER_DIR

_OLE = bytes.fromhex("D0CF11E0A1B11AE1")
_MIME: dict[str, str] = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
_TYPE_NAMES: dict[str, str] = {
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "xlsx": "Excel (.xlsx)",
    "doc": "Word 97–2003 (.doc)",
    "xls": "Excel 97–2003 (.xls)",
    "ole": "Word/Excel 97–2003",
    "zip": "tệp nén ZIP",
    "odt": "OpenDocument văn bản (.odt)",
    "ods": "OpenDocument bảng tính (.ods)",
    "png": "ảnh PNG",
    "jpg": "ảnh JPEG",
}


def _zip_names(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return []


def sniff_type(data: bytes) -> str | None:
    """What the bytes are, from their content: pdf, docx, xlsx, ole (doc/xls), odt, ods, zip, png, jpg."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(_OLE):
        return "ole"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK"):
        names = _zip_names(data)
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
        if "mimetype" in names:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                mimetype = archive.read("mimetype").decode("ascii", "replace")
            if mimetype.endswith("opendocument.text"):
                return "odt"
            if mimetype.endswith("opendocument.spreadsheet"):
                return "ods"
        if names:
            return "zip"
    return None


def _content_matches(ext: str, sniffed: str | None) -> bool:
    expected = {"doc": "ole", "xls": "ole", "jpeg": "jpg"}.get(ext, ext)
    if expected in ("pdf", "docx", "xlsx", "ole", "odt", "ods", "png", "jpg"):
        return sniffed == expected
    return True  # a type the campaign allows but no signature is known for: the extension decides


def _extension(name: str) -> str:
    suffix = Path(name.replace("\\", "/")).suffix.lower().lstrip(".")
    return suffix if re.fullmatch(r"[a-z0-9]{1,10}", suffix) else ""


def _shown_name(original_name: str) -> str:
    # Kept for people to read; control characters would garble the CLI and logs.
    text = "".join(ch for ch in nfc(original_name) if ch.isprintable())
    return text[:300] or "tệp"


def _check_file(defn: CampaignDefinition, source: Path, shown: str, ext: str) -> tuple[bytes, str]:
    """The file's bytes and MIME type, or DossierFileError saying what is wrong."""
    allowed = list(defn.dossier.allowed_types)
    if ext not in allowed:
        raise DossierFileError(
            f"{shown}: loại tệp “{ext or '(không có đuôi)'}” không được nhận; chỉ nhận: {', '.join(allowed)}"
        )
    limit = defn.dossier.max_file_mb * 1024 * 1024
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise DossierFileError(f"{shown}: không đọc được tệp ({exc.strerror or type(exc).__name__})") from exc
    if size > limit:
        raise DossierFileError(
            f"{shown}: tệp {size / 1024 / 1024:.1f} MB, quá giới hạn {defn.dossier.max_file_mb} MB của "
            "phong trào".replace(".", ",", 1)
        )
    if size == 0:
        raise DossierFileError(f"{shown}: tệp rỗng (0 byte)")
    data = source.read_bytes()
    if len(data) > limit:  # the file grew between stat() and read
        raise DossierFileError(f"{shown}: tệp quá giới hạn {defn.dossier.max_file_mb} MB của phong trào")
    sniffed = sniff_type(data)
    if not _content_matches(ext, sniffed):
        what = _TYPE_NAMES.get(sniffed or "", "không nhận ra định dạng")
        raise DossierFileError(
            f"{shown}: đuôi tệp là .{ext} nhưng nội dung là {what}; hãy gửi đúng tệp "
            f"{_TYPE_NAMES.get(ext, ext)} (không đổi đuôi tệp)"
        )
    return data, _MIME.get(ext, "application/octet-stream")


def _part(defn: CampaignDefinition, part_key: str) -> DossierPart:
    key = nfc(part_key)
    for part in defn.dossier.parts:
        if part.key == key:
            return part
    known = "; ".join(f"{p.key} ({p.name})" for p in defn.dossier.parts)
    raise DossierFileError(f"Hồ sơ của phong trào không có thành phần “{key}”; có: {known}")


def _unit(
    session: Session,
    campaign: Campaign,
    unit_code: str,
    error: type[NominationError] = DossierFileError,
) -> EnrolledUnit:
    code = nfc(unit_code)
    unit = session.scalars(
        select(EnrolledUnit).where(
            col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.unit_code) == code
        )
    ).first()
    if unit is None or not _SAFE_CODE.match(code):
        raise error(f"Đơn vị “{code}” không tham gia phong trào {campaign.code}.")
    return unit


def _nomination_of(
    session: Session, campaign: Campaign, unit_code: str, nominee: str, award_key: str | None
) -> Nomination:
    code = nfc(nominee)
    query = select(Nomination).where(
        col(Nomination.campaign_id) == campaign.id,
        col(Nomination.subject_code) == code,
        col(Nomination.nominated_by) == unit_code,
        col(Nomination.status) != NominationStatus.WITHDRAWN,
    )
    if award_key:
        query = query.where(col(Nomination.award_key) == nfc(award_key))
    found = list(session.scalars(query))
    if not found:
        raise DossierFileError(
            f"Đơn vị {unit_code} chưa đề nghị khen thưởng “{code}” trong phong trào {campaign.code}"
            + (f" (hình thức {award_key})" if award_key else "")
            + "; hãy gửi đề nghị trước khi nộp hồ sơ riêng của đối tượng."
        )
    if len(found) > 1:
        keys = ", ".join(n.award_key for n in found)
        raise DossierFileError(
            f"“{code}” được đề nghị nhiều hình thức ({keys}); hãy chọn hình thức khen thưởng của tệp này."
        )
    return found[0]


def add_dossier_file(
    engine: Engine,
    settings: Settings,
    code: str,
    *,
    unit_code: str,
    part_key: str,
    source: Path,
    original_name: str,
    nominee: str | None = None,
    award_key: str | None = None,
    now: datetime,
    actor: str | None = None,
) -> DossierFile:
    """Store one file of a dossier part (the whole unit's, or `nominee`'s own); returns its current row.

    The same bytes as the current revision change nothing; other bytes become a new revision and the previous
    one stays, no longer current. Raises DossierFileError (Vietnamese) for an unknown part, unit or nominee,
    a type the campaign does not accept (checked by extension and by content), a file over the size limit.
    """
    _aware(now)
    shown = _shown_name(original_name)
    ext = _extension(shown)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        part = _part(defn, part_key)
        unit = _unit(s, campaign, unit_code)
        nomination = _nomination_of(s, campaign, unit.unit_code, nominee, award_key) if nominee else None
        data, mime = _check_file(defn, Path(source), shown, ext)
        on_time = local_day(now) <= dossier_deadline(s, campaign.id, defn)
        return _store(
            s,
            settings,
            campaign,
            unit_code=unit.unit_code,
            part=part,
            nomination_id=nomination.id if nomination is not None else None,
            data=data,
            ext=ext,
            mime=mime,
            original_name=shown,
            generated=False,
            on_time=on_time,
            now=now,
            actor=actor,
        )


def _current_file(
    s: Session, campaign_id: int, unit_code: str, part_key: str, nomination_id: int | None
) -> tuple[DossierFile | None, int]:
    where = [
        col(DossierFile.campaign_id) == campaign_id,
        col(DossierFile.unit_code) == unit_code,
        col(DossierFile.part_key) == part_key,
        col(DossierFile.nomination_id).is_(None)
        if nomination_id is None
        else col(DossierFile.nomination_id) == nomination_id,
    ]
    current = s.scalars(select(DossierFile).where(*where, col(DossierFile.is_current).is_(True))).first()
    last = s.execute(select(func.max(col(DossierFile.revision))).where(*where)).scalar_one_or_none()
    return current, int(last or 0)


def _store(
    s: Session,
    settings: Settings,
    campaign: Campaign,
    *,
    unit_code: str,
    part: DossierPart,
    nomination_id: int | None,
    data: bytes,
    ext: str,
    mime: str,
    original_name: str,
    generated: bool,
    on_time: bool,
    now: datetime,
    actor: str | None,
) -> DossierFile:
    assert campaign.id is not None
    sha = hashlib.sha256(data).hexdigest()
    current, last = _current_file(s, campaign.id, unit_code, part.key, nomination_id)
    if current is not None and current.sha256 == sha:
        return current
    revision = last + 1
    # Never the sender's name in a path: checked codes, the part key, a revision and a digest.
    owner = "chung" if nomination_id is None else str(nomination_id)
    name = f"{part.key}-{owner}-r{revision}-{sha[:8]}.{ext}"
    try:
        rel = storage_key(DOSSIER_DIR, campaign.code, unit_code, name)
    except InvalidKey as exc:
        raise DossierFileError(f"Đường dẫn lưu tệp không hợp lệ: {_shown_name(name)}") from exc
    storage_for(settings).put(rel, data)
    if current is not None:
        current.is_current = False
        s.add(current)
        s.flush()
    row = DossierFile(
        campaign_id=campaign.id,
        unit_code=unit_code,
        nomination_id=nomination_id,
        part_key=part.key,
        revision=revision,
        is_current=True,
        original_name=original_name,
        stored_path=rel,
        sha256=sha,
        size_bytes=len(data),
        content_type=mime,
        uploaded_at=now,
        uploaded_by=_actor(actor, 254),
        generated=generated,
        on_time=on_time,
    )
    s.add(row)
    s.flush()
    record_event(
        s,
        campaign_id=campaign.id,
        kind="dossier.file_added",
        now=now,
        actor=_actor(actor, 100),
        subject=f"dossier:{unit_code}/{part.key}" + (f"/{nomination_id}" if nomination_id else ""),
        payload={
            "before": None if current is None else {"revision": current.revision, "sha256": current.sha256},
            "after": {"revision": revision, "sha256": sha},
            "unit": unit_code,
            "part": part.key,
            "nomination_id": nomination_id,
            "file": original_name,
            "size": len(data),
            "on_time": on_time,
            "generated": generated,
        },
    )
    return row
