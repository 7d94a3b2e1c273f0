"""The demo council: chosen from the demo directory by title, so the demos need no council file."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from thidua.models.directory import Person, Unit, UnitLevel
from thidua.models.review import CouncilRole
from thidua.tasks.review.council import (
    CouncilNotSetUp,
    CouncilSetup,
    CouncilSetupError,
    MemberInput,
    SetupProblem,
    plain_text,
    set_up_council,
)

__all__ = ["demo_council"]


def demo_council(
    engine: Engine, code: str, unit_code: str, *, now: datetime, size: int = 9, actor: str = "demo"
) -> CouncilSetup:
    """A council for the demo, from the directory: the unit's head (chair), its deputies ("Phó ..."), the
    deputy head of its personnel department (secretary) and the heads of its departments, up to `size`.

    Tuyên Quang, size 9: TQ-01 chair; TQ-02..04 deputies; TQ-TCCB-02 secretary; the heads of TQ-VP, TQ-TCCB,
    TQ-NV and TQ-KT. Size 7 keeps the first two department heads.
    """
    if size < 3:
        raise CouncilSetupError(None, [SetupProblem(None, None, "Hội đồng cần ít nhất 3 thành viên.")])
    with Session(engine) as s:
        unit = s.execute(select(col(Unit.id)).where(col(Unit.code) == unit_code)).first()
        if unit is None:
            raise CouncilNotSetUp(f"Không có đơn vị mã “{unit_code}” trong danh bạ.")
        own = s.execute(
            select(col(Person.code), col(Person.title), col(Person.is_head))
            .where(col(Person.unit_id) == unit.id, col(Person.active).is_(True))
            .order_by(col(Person.id))
        ).all()
        departments = s.execute(
            select(col(Unit.id), col(Unit.name))
            .where(
                col(Unit.parent_id) == unit.id,
                col(Unit.level).in_([UnitLevel.PHONG, UnitLevel.BAN]),
                col(Unit.active).is_(True),
            )
            .order_by(col(Unit.id))
        ).all()
        staff = s.execute(
            select(col(Person.code), col(Person.unit_id), col(Person.is_head))
            .where(col(Person.unit_id).in_([d.id for d in departments]), col(Person.active).is_(True))
            .order_by(col(Person.id))
        ).all()
    heads = [p for p in own if p.is_head]
    if not heads:
        problem = f"Đơn vị “{unit_code}” chưa có thủ trưởng trong danh bạ để làm Chủ tịch Hội đồng."
        raise CouncilSetupError(None, [SetupProblem(None, None, problem)])
    chair = heads[0].code
    deputies = [p.code for p in own if p.code != chair and plain_text(p.title).startswith("pho ")]
    by_unit: dict[int, list[Any]] = defaultdict(list)
    for p in staff:
        by_unit[p.unit_id].append(p)
    dept_heads = [next((p.code for p in by_unit[d.id] if p.is_head), None) for d in departments]
    personnel = next((d for d in departments if "to chuc can bo" in plain_text(d.name)), None)
    secretary: str | None = None
    if personnel is not None:
        secretary = next((p.code for p in by_unit[personnel.id] if not p.is_head), None)
    chosen: list[MemberInput] = [MemberInput(chair, CouncilRole.CHAIR)]
    chosen += [MemberInput(c, CouncilRole.DEPUTY) for c in deputies]
    if secretary is not None:
        chosen.append(MemberInput(secretary, CouncilRole.SECRETARY))
    chosen += [MemberInput(c, CouncilRole.MEMBER) for c in dept_heads if c is not None]
    chosen = chosen[:size]
    if secretary is None and len(chosen) > 1:
        chosen[-1] = MemberInput(chosen[-1].person_code, CouncilRole.SECRETARY)
    return set_up_council(engine, code, unit_code, chosen, now=now, actor=actor)
