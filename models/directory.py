"""The organisation directory: units (a tree), people, discipline records."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel, UniqueConstraint


class UnitLevel(StrEnum):
    """Position in the THADS tree. Values are stable identifiers; labels are what a clerk writes."""

    BO = "bo"  # Bộ Tư pháp
    CUC = "cuc"  # Cục Quản lý THADS (formerly Tổng cục THADS)
    BAN = "ban"  # a department of the Cục (Ban, Văn phòng Cục)
    TINH = "tinh"  # provincial THADS body (formerly Cục THADS tỉnh)
    KHU_VUC = "khu_vuc"  # regional office (Phòng THADS khu vực; formerly Chi cục THADS)
    PHONG = "phong"  # a department inside a provincial body or regional office


LEVEL_LABELS: dict[UnitLevel, str] = {
    UnitLevel.BO: "Bộ",
    UnitLevel.CUC: "Cục",
    UnitLevel.BAN: "Ban",
    UnitLevel.TINH: "Tỉnh",
    UnitLevel.KHU_VUC: "Khu vực",
    UnitLevel.PHONG: "Phòng",
}


class DisciplineForm(StrEnum):
    """Discipline and law-violation forms, lowest first (the order matters for 'from khiển trách up')."""

    KHIEN_TRACH = "khien_trach"
    CANH_CAO = "canh_cao"
    HA_BAC_LUONG = "ha_bac_luong"
    GIANG_CHUC = "giang_chuc"
    CACH_CHUC = "cach_chuc"
    BUOC_THOI_VIEC = "buoc_thoi_viec"
    VI_PHAM_PHAP_LUAT = "vi_pham_phap_luat"


DISCIPLINE_LABELS: dict[DisciplineForm, str] = {
    DisciplineForm.KHIEN_TRACH: "Khiển trách",
    DisciplineForm.CANH_CAO: "Cảnh cáo",
    DisciplineForm.HA_BAC_LUONG: "Hạ bậc lương",
    DisciplineForm.GIANG_CHUC: "Giáng chức",
    DisciplineForm.CACH_CHUC: "Cách chức",
    DisciplineForm.BUOC_THOI_VIEC: "Buộc thôi việc",
    DisciplineForm.VI_PHAM_PHAP_LUAT: "Vi phạm pháp luật",
}


class UnitBase(SQLModel):
    code: str = Field(max_length=40, index=True, unique=True)
    name: str = Field(max_length=300)
    level: UnitLevel = Field(max_length=20)
    email: str | None = Field(default=None, max_length=254)
    place_name: str | None = Field(default=None, max_length=100)
    active: bool = True


class Unit(UnitBase, table=True):
    __tablename__ = "unit"
    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    updated_at: datetime | None = None


class PersonBase(SQLModel):
    code: str = Field(max_length=40, index=True, unique=True)
    full_name: str = Field(max_length=200)
    title: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    is_head: bool = False
    active: bool = True


class Person(PersonBase, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    updated_at: datetime | None = None


class Discipline(SQLModel, table=True):
    __tablename__ = "discipline"
    __table_args__ = (UniqueConstraint("person_id", "form", "decision_date", name="uq_discipline_natural"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    form: DisciplineForm = Field(max_length=30)
    decision_date: date
    reason: str | None = Field(default=None, max_length=1000)
