"""The emulation council: its members, its meetings, the secret ballot, the quota selection, the minutes.

A council belongs to a campaign and a unit (seed 003: the Cục's council, TQ; seed 000: the Cục Quản lý's,
CQL). It reviews the nominations for the award types whose `authority_unit_code` — or, for an award a higher
authority grants on its proposal, `proposed_by.unit_code` — is its unit.

Secrecy of the ballot. `cast_vote` writes, in one transaction, a BallotCast row (who voted on whom, never how)
and an increment of the per-nominee BallotTally counters; no row, id or timestamp ties a choice to a member,
and the audit event `ballot.cast` names the member and the nominee, never the choice. Results are shown only
once the meeting is closed, so no one can watch the tallies move vote by vote.

Recusal ("own unit", when the rules set `recuse_own_unit`): a member's unit is CouncilMember.unit_code. A
member does not vote on the collective that IS their unit, nor on an individual of that unit (a colleague
they work beside). The units above or below theirs are not "own": the Cục's leaders vote on the Chi cục.

Quorum: a meeting may open without it (the attendance is recorded as it was), but no vote is taken, and
closing it records `quorum_met` False with no results. The chair breaks a tie at a quota's edge with a
recorded reason; award issuance checks `unresolved_ties` first.
"""

from __future__ import annotations

from thidua.tasks.review.council.ballot import (
    BallotPaper,
    BallotReceipt,
    ballot_nominees,
    ballot_paper,
    cast_ballot,
    cast_vote,
)
from thidua.tasks.review.council.errors import (
    CouncilError,
    CouncilNotSetUp,
    CouncilSetupError,
    MeetingError,
    QuorumNotMet,
    SetupProblem,
    TieBreakRefused,
    VoteAlreadyCast,
    VoteRefused,
)
from thidua.tasks.review.council.lookups import reviewed_awards
from thidua.tasks.review.council.meetings import open_meeting
from thidua.tasks.review.council.minutes import minutes_content, minutes_path, write_minutes
from thidua.tasks.review.council.paper import (
    PaperCount,
    enter_paper_count,
    paper_count_template,
    read_paper_count,
)
from thidua.tasks.review.council.results import (
    AttendanceLine,
    ReviewLine,
    ReviewSummary,
    close_meeting,
    meeting_summary,
)
from thidua.tasks.review.council.setup import (
    CouncilSetup,
    MemberInput,
    import_council,
    parse_role,
    plain_text,
    set_up_council,
)
from thidua.tasks.review.council.shared import CHOICES, ROLE_LABELS, Choice
from thidua.tasks.review.council.ties import break_tie, final_results, unresolved_ties

__all__ = [
    "CHOICES",
    "ROLE_LABELS",
    "AttendanceLine",
    "BallotPaper",
    "BallotReceipt",
    "Choice",
    "CouncilError",
    "CouncilNotSetUp",
    "CouncilSetup",
    "CouncilSetupError",
    "MeetingError",
    "MemberInput",
    "PaperCount",
    "QuorumNotMet",
    "ReviewLine",
    "ReviewSummary",
    "SetupProblem",
    "TieBreakRefused",
    "VoteAlreadyCast",
    "VoteRefused",
    "ballot_nominees",
    "ballot_paper",
    "break_tie",
    "cast_ballot",
    "cast_vote",
    "close_meeting",
    "enter_paper_count",
    "final_results",
    "import_council",
    "meeting_summary",
    "minutes_content",
    "minutes_path",
    "open_meeting",
    "paper_count_template",
    "parse_role",
    "plain_text",
    "read_paper_count",
    "reviewed_awards",
    "set_up_council",
    "unresolved_ties",
    "write_minutes",
]
