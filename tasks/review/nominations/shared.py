"""What the parts of the nominations stage share: the list columns and their aliases, the dossier folder."""

from __future__ import annotations

import re

from sqlmodel import SQLModel

from thidua.models.campaign import CampaignStatus
from thidua.models.review import (
    Nomination,
    SubjectKind,
)

DOSSIER_DIR = "dossiers"
NOMINATION_TABLE = SQLModel.metadata.tables[Nomination.__tablename__]

# Column key -> the header a template shows; errors name the header as the file writes it.
COLUMNS: dict[str, str] = {
    "award": "Hình thức khen thưởng",
    "kind": "Đối tượng",
    "code": "Mã tập thể, cá nhân",
    "name": "Họ và tên / Tên tập thể",
    "nominated_by": "Đơn vị đề nghị",
    "achievement": "Thành tích",
}
OPTIONAL_COLUMNS = frozenset({"name", "achievement"})
# What clerks write instead (compared without case, diacritics or punctuation).
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "award": ("Hình thức khen thưởng", "Hình thức", "Mã hình thức khen thưởng", "Danh hiệu, hình thức"),
    "kind": ("Đối tượng", "Tập thể / cá nhân", "Tập thể, cá nhân", "Loại đối tượng"),
    "code": (
        "Mã tập thể, cá nhân",
        "Mã tập thể / cá nhân",
        "Mã đối tượng",
        "Mã đơn vị, cán bộ",
        "Mã cán bộ, đơn vị",
        "Mã",
    ),
    "name": (
        "Họ và tên / Tên tập thể",
        "Họ và tên",
        "Họ tên",
        "Tên tập thể, cá nhân",
        "Tên tập thể / cá nhân",
        "Tên tập thể, họ và tên cá nhân",
    ),
    "nominated_by": ("Đơn vị đề nghị", "Mã đơn vị đề nghị"),
    "achievement": ("Thành tích", "Tóm tắt thành tích", "Thành tích đạt được"),
}
_KIND_WORDS: dict[str, SubjectKind] = {
    "collective": SubjectKind.COLLECTIVE,
    "tap the": SubjectKind.COLLECTIVE,
    "individual": SubjectKind.INDIVIDUAL,
    "ca nhan": SubjectKind.INDIVIDUAL,
}
_KIND_LABELS = {SubjectKind.COLLECTIVE: "tập thể", SubjectKind.INDIVIDUAL: "cá nhân"}
# The states in which units may propose (or declare they propose nobody): from launch until the awards.
OPEN_FOR_NOMINATIONS = (
    CampaignStatus.LAUNCHED,
    CampaignStatus.COLLECTING,
    CampaignStatus.CLOSED,
    CampaignStatus.IN_REVIEW,
)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
