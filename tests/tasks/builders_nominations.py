"""Builders for the nomination, dossier and eligibility tests: final results, files, a full dossier."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from tests.factories import at
from thidua.models.review import FinalResult
from thidua.models.settings import Settings
from thidua.tasks.review.nominations import add_dossier_file

CODE = "TQ-2024-GIAM-AN"
AWARD = "giay_khen_cuc_truong"
PARTS = ("to_trinh", "danh_sach", "bien_ban", "bao_cao_thanh_tich", "tong_hop_ket_qua")
ON_TIME = at("02/07/2024", 9)


def final_result(
    engine: Engine,
    campaign_id: int,
    kind: str,
    code: str,
    unit: str,
    finished: int,
    total: int = 150,
) -> None:
    """A FinalResult as the close stage stores it: reduction = finished / total against the 10% target."""
    met = None if total == 0 else finished * 10 >= total
    with Session(engine) as s, s.begin():
        s.add(
            FinalResult(
                campaign_id=campaign_id,
                subject_kind=kind,
                subject_code=code,
                unit_code=unit,
                values_json=json.dumps({"carried_over": total - 30, "arising": 30, "finished": finished}),
                indicators_json=json.dumps(
                    {"reduction": {"num": finished, "den": total, "target": "0.1", "met": met}}
                ),
                main_met=met,
                computed_at=at("01/07/2024", 7),
            )
        )


def final_results(engine: Engine, campaign_id: int, rows: Iterable[tuple[str, str, str, int]]) -> None:
    for kind, code, unit, finished in rows:
        final_result(engine, campaign_id, kind, code, unit, finished)


def pdf_bytes(text: str = "hồ sơ") -> bytes:
    return b"%PDF-1.4\n%" + text.encode() + b"\n%%EOF\n"


def ooxml_bytes(kind: str = "word") -> bytes:
    """A minimal .docx ("word") or .xlsx ("xl") package: enough for the content sniffing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{kind}/document.xml", "<document/>")
    return buffer.getvalue()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / "uploads" / name.replace("/", "_")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def full_dossier(
    engine: Engine,
    settings: Settings,
    tmp: Path,
    unit: str,
    nominees: Iterable[str],
    *,
    now: datetime = ON_TIME,
    skip: Iterable[str] = (),
) -> None:
    """Every part of a unit's dossier on time: unit-wide parts once, the achievement report per nominee."""
    left_out = set(skip)
    source = write(tmp, f"{unit}.pdf", pdf_bytes(unit))
    for part in PARTS:
        if part in left_out:
            continue
        if part == "bao_cao_thanh_tich":
            for nominee in nominees:
                add_dossier_file(
                    engine, settings, CODE, unit_code=unit, part_key=part, source=source,
                    original_name=f"{nominee}.pdf", nominee=nominee, now=now,
                )  # fmt: skip
        else:
            add_dossier_file(
                engine, settings, CODE, unit_code=unit, part_key=part, source=source,
                original_name=f"{part}.pdf", now=now,
            )  # fmt: skip
