"""The review and award errors, as the split packages export them, keep their families and their kinds."""

from __future__ import annotations

import pytest

from thidua.errors import Conflict, InvalidInput, NotFound, RuleRefused, ThiduaError, kind_of
from thidua.tasks.award.awards import (
    AlreadyRevoked,
    AwardError,
    DecisionConflict,
    NotReady,
    UnknownAward,
    UnknownGrant,
)
from thidua.tasks.review.council import (
    CouncilError,
    CouncilNotSetUp,
    MeetingError,
    QuorumNotMet,
    TieBreakRefused,
    VoteAlreadyCast,
    VoteRefused,
)
from thidua.tasks.review.nominations import DossierFileError, NominationError


@pytest.mark.parametrize(
    ("error", "family", "kind"),
    [
        (CouncilNotSetUp("Hội đồng chưa được lập."), CouncilError, NotFound),
        (MeetingError("Cuộc họp đã kết thúc."), CouncilError, Conflict),
        (VoteRefused("Không bỏ phiếu cho chính mình."), CouncilError, RuleRefused),
        (QuorumNotMet("Không đủ số lượng thành viên dự họp."), VoteRefused, RuleRefused),
        (VoteAlreadyCast("Phiếu đã bỏ không thể thay đổi."), VoteRefused, RuleRefused),
        (TieBreakRefused("Chỉ Chủ tịch Hội đồng quyết định."), CouncilError, RuleRefused),
        (DossierFileError("Tệp rỗng."), NominationError, InvalidInput),
        (UnknownAward("Không có hình thức khen thưởng."), AwardError, NotFound),
        (UnknownGrant("Không có khen thưởng."), AwardError, NotFound),
        (NotReady("Chưa có kết quả."), AwardError, Conflict),
        (DecisionConflict("Số quyết định đã dùng."), AwardError, Conflict),
        (AlreadyRevoked("Đã thu hồi."), AwardError, Conflict),
    ],
)
def test_each_error_keeps_its_family_and_has_a_kind(error: ThiduaError, family: type, kind: type) -> None:
    assert isinstance(error, family)
    assert kind_of(error) is kind
