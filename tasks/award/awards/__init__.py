"""Award stage: decision numbers, decision and certificates, money, award emails, proposals, revocation.

- `allocate_decision_number`: the next number of an issuing authority's register for a year, inside the
  caller's transaction: gap-free and duplicate-free because the counter row stays locked until the issuance
  commits, and a rolled-back issuance takes its number back with it.
- `issue_awards`: for an award the campaign's own authority grants (seed 003, seed 000's Giấy khen), the
  council's selected nominees become a numbered decision (DOCX), one certificate per awardee (PDF), the money
  and one email per awardee to their unit. For an award a higher authority grants on a lower council's
  proposal (seed 000's Bằng khen of the Minister) it builds the proposal package instead (Tờ trình, Danh sách,
  the minutes). Only while the campaign is in review, and for a decision dated between the council meeting
  (and the campaign's close) and the moment the command acts at.
- `record_external_decision`: the higher authority's decision on that proposal, recorded with its own number;
  then grants, certificates and emails as for an own decision; not dated before the Tờ trình.
- `revoke_award`: a grant withdrawn with a reason; the money to recover and an email to the unit.

Every run is idempotent: a decision exists once per campaign and award (a second run returns it and changes
nothing), emails carry dedupe keys, documents are upserted by (campaign, kind, ref). State changes are audit
events (decision.issued, decision.proposed, grant.issued, grant.revoked) with before/after.
"""

from __future__ import annotations

from thidua.tasks.award.awards.errors import (
    AlreadyRevoked,
    AwardError,
    DecisionConflict,
    NotReady,
    UnknownAward,
    UnknownGrant,
)
from thidua.tasks.award.awards.issue import award_keys, issue_all, issue_awards
from thidua.tasks.award.awards.listing import list_awards
from thidua.tasks.award.awards.numbering import allocate_decision_number, decision_reference
from thidua.tasks.award.awards.paperwork import authority_title, campaign_phrase
from thidua.tasks.award.awards.proposals import record_external_decision
from thidua.tasks.award.awards.revocation import revoke_award
from thidua.tasks.award.awards.shared import CERTIFICATE_TITLES, FORM_NAMES, STATUS_LABELS, SUBJECT_LABELS
from thidua.tasks.award.awards.views import DecisionView, GrantView, IssueResult

__all__ = [
    "CERTIFICATE_TITLES",
    "FORM_NAMES",
    "STATUS_LABELS",
    "SUBJECT_LABELS",
    "AlreadyRevoked",
    "AwardError",
    "DecisionConflict",
    "DecisionView",
    "GrantView",
    "IssueResult",
    "NotReady",
    "UnknownAward",
    "UnknownGrant",
    "allocate_decision_number",
    "authority_title",
    "award_keys",
    "campaign_phrase",
    "decision_reference",
    "issue_all",
    "issue_awards",
    "list_awards",
    "record_external_decision",
    "revoke_award",
]
