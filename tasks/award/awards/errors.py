"""Errors of the award stage."""

from __future__ import annotations

from thidua.errors import Conflict, InvalidInput, NotFound, RuleRefused, ThiduaError


class AwardError(ThiduaError):
    """Base of this module's errors. A refused operation changes nothing (its transaction is rolled back)."""


class UnknownAward(AwardError, NotFound):
    pass


class NotReady(AwardError, Conflict):
    """The campaign, its council or its results do not allow issuing yet (state, meeting, ties, none)."""


class DecisionDateRefused(AwardError, RuleRefused):
    """A decision dated before the meeting, the close or the proposal it rests on, or in the future."""


class DecisionConflict(AwardError, Conflict):
    """A decision number or a recorded decision that contradicts what is stored."""


class UnknownGrant(AwardError, NotFound):
    pass


class AlreadyRevoked(AwardError, Conflict):
    pass


class RevocationReasonRequired(AwardError, InvalidInput):
    pass
