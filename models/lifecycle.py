"""The campaign state machine: which transitions are allowed. Pure; tasks write the audit event."""

from __future__ import annotations

from thidua.errors import Conflict
from thidua.models.labels import campaign_status
from thidua.models.states import CampaignStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.LAUNCHED}),
    S.LAUNCHED: frozenset({S.COLLECTING, S.CLOSED}),
    S.COLLECTING: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.IN_REVIEW, S.COLLECTING}),  # an administrator may reopen the final period
    S.IN_REVIEW: frozenset({S.AWARDED}),
    S.AWARDED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}


class TransitionError(Conflict):
    pass


def check_transition(current: S, target: S) -> None:
    if target not in ALLOWED[current]:
        before, after = campaign_status(current), campaign_status(target)
        raise TransitionError(f"Không thể chuyển trạng thái phong trào từ “{before}” sang “{after}”.")
