"""A unit's declaration that it proposes nobody for a campaign (“không đề nghị”).

`decline_nominations` records it with who, when and why, in the audit trail too, and withdraws the unit's
dossier reminders still waiting in the outbox; declaring it again changes nothing. A unit that already has
nominations (not withdrawn) cannot declare it: what it sent is reviewed. A later nomination of the unit takes
the declaration back (`withdraw_declines`, called by the nomination itself): proposing remains the unit's
right until the review. `declined_units` is what the reminders, the closing report and the review papers
read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from thidua.models.campaign import EnrolledUnit
from thidua.models.db import transaction
from thidua.models.reminders import KIND_REMINDER, reminder_key_prefix
from thidua.models.review import Nomination, NominationDecline, NominationStatus
from thidua.models.schedule import DOSSIER_KEY
from thidua.models.text import fmt_date, nfc
from thidua.notifications.outbox import cancel_unsent
from thidua.tasks.core.campaigns import require_state
from thidua.tasks.core.declines import Decline, _utc, declined_units
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations.dossier import _unit
from thidua.tasks.review.nominations.errors import DeclineRefused, NominationsClosed, UnknownUnit
from thidua.tasks.review.nominations.lookups import _actor, _aware, campaign_and_definition, local_day
from thidua.tasks.review.nominations.shared import OPEN_FOR_NOMINATIONS

DECLINED_EVENT = "nomination.declined"
WITHDRAWN_EVENT = "nomination.decline_withdrawn"


@dataclass(frozen=True)
class DeclineResult:
    decline: Decline
    created: bool  # False: the unit had already declared it; nothing changed
    cancelled: int  # dossier reminders withdrawn from the outbox

    def lines(self) -> list[str]:
        d = self.decline
        when = fmt_date(local_day(d.declined_at))
        if not self.created:
            return [f"{d.unit_name} ({d.unit_code}) đã báo không đề nghị từ ngày {when}; không thay đổi gì."]
        out = [f"Đã ghi: {d.text()} (ngày {when}, người ghi: {d.declined_by or 'không rõ'})."]
        if self.cancelled:
            out.append(f"  Đã huỷ {self.cancelled} thư nhắc hồ sơ chưa gửi.")
        return out


def decline_nominations(
    engine: Engine,
    code: str,
    unit_code: str,
    *,
    reason: str | None = None,
    now: datetime,
    actor: str | None,
) -> DeclineResult:
    """Record that `unit_code` proposes nobody for campaign `code` (idempotent). Refused for a unit not in
    the campaign (UnknownUnit), one with nominations (DeclineRefused), or a campaign that no longer takes
    nominations (WrongState)."""
    now = _aware(now)
    with transaction(engine) as s:
        campaign, _defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        unit = _unit(s, campaign, unit_code, UnknownUnit)
        existing = s.scalars(
            select(NominationDecline).where(
                col(NominationDecline.campaign_id) == campaign.id,
                col(NominationDecline.unit_code) == unit.unit_code,
            )
        ).first()
        if existing is not None:
            return DeclineResult(_view(existing, unit.unit_name), created=False, cancelled=0)
        require_state(campaign, OPEN_FOR_NOMINATIONS, NominationsClosed)
        _refuse_with_nominations(s, campaign.id, unit)
        row = NominationDecline(
            campaign_id=campaign.id,
            unit_code=unit.unit_code,
            reason=(nfc(reason).strip() or None) if reason else None,
            declined_by=_actor(actor, 254),
            declined_at=now,
        )
        s.add(row)
        s.flush()
        record_event(
            s,
            campaign_id=campaign.id,
            kind=DECLINED_EVENT,
            now=now,
            actor=_actor(actor, 100),
            subject=f"unit:{unit.unit_code}",
            payload={"before": None, "after": {"unit": unit.unit_code, "reason": row.reason}},
        )
        prefix = reminder_key_prefix(campaign.code, DOSSIER_KEY, unit.unit_code)
        cancelled = cancel_unsent(s, campaign.id, kind=KIND_REMINDER, key_prefix=prefix)
        return DeclineResult(_view(row, unit.unit_name), created=True, cancelled=cancelled)


def _refuse_with_nominations(s: Session, campaign_id: int, unit: EnrolledUnit) -> None:
    names = list(
        s.execute(
            select(col(Nomination.subject_name))
            .where(
                col(Nomination.campaign_id) == campaign_id,
                col(Nomination.nominated_by) == unit.unit_code,
                col(Nomination.status) != NominationStatus.WITHDRAWN,
            )
            .order_by(col(Nomination.id))
        ).scalars()
    )
    if names:
        raise DeclineRefused(
            f"{unit.unit_name} ({unit.unit_code}) đã đề nghị khen thưởng {len(names)} tập thể, cá nhân "
            f"({', '.join(names)}): không thể báo không đề nghị; các đề nghị đã gửi vẫn được xét."
        )


def withdraw_declines(
    s: Session, campaign_id: int, unit_codes: Iterable[str], *, now: datetime, actor: str | None
) -> list[str]:
    """Take back the declarations of units that now nominate (in the caller's transaction); their codes."""
    codes = sorted(set(unit_codes))
    if not codes:
        return []
    rows = list(
        s.scalars(
            select(NominationDecline).where(
                col(NominationDecline.campaign_id) == campaign_id, col(NominationDecline.unit_code).in_(codes)
            )
        )
    )
    for row in rows:
        record_event(
            s,
            campaign_id=campaign_id,
            kind=WITHDRAWN_EVENT,
            now=now,
            actor=_actor(actor, 100),
            subject=f"unit:{row.unit_code}",
            payload={"before": {"unit": row.unit_code, "reason": row.reason}, "after": None},
        )
    if rows:
        s.execute(delete(NominationDecline).where(col(NominationDecline.id).in_([r.id for r in rows])))
    return [r.unit_code for r in rows]


def list_declines(engine: Engine, code: str) -> list[Decline]:
    """The declarations of campaign `code`, by unit code (what `nomination list` shows)."""
    with Session(engine) as s:
        campaign, _defn = campaign_and_definition(s, code)
        assert campaign.id is not None
        return declined_units(s, campaign.id)


def _view(row: NominationDecline, unit_name: str) -> Decline:
    return Decline(row.unit_code, unit_name, row.reason, row.declined_by, _utc(row.declined_at))
