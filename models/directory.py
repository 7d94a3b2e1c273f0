"""The organisation directory: units (a tree), people, discipline records."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from thidua.models.states import DisciplineForm, UnitLevel


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
