"""Nominations and their dossiers: units propose collectives and individuals and attach the dossier parts;
the system tells which nominations are complete by the deadline and drafts the lists it can write itself.

- `nominate` is the service function for one nomination (`import_nominations` reads a CSV/XLSX list
  into the same rows): every row is checked against the campaign's definition and enrolment snapshot, all or
  nothing; a nomination is keyed by (campaign, award, subject kind, subject code), so sending it again changes
  nothing. One sent after the dossier deadline is kept, marked `is_late`.
- `add_dossier_file` stores one file of a dossier part under `<data>/dossiers/<CODE>/<UNIT>/` with a name the
  system chooses (the user's file name is only shown, never a path), after checking its type (extension and
  content) and size; a different file for the same part is a new revision, the same bytes again are a no-op.
- `refresh_completeness` sets every nomination's status from the files there on time, for the whole campaign
  in a few statements: COMPLETE when every required part arrived by the deadline, SUBMITTED while parts are
  missing before it, INCOMPLETE (missing parts listed) after it.
- `decline_nominations` records that a unit proposes nobody (“không đề nghị”): no nomination or dossier
  reminder from then on, and the closing and review papers list it; its own later nomination takes it back.
- `draft_documents` writes a proposing unit's Danh sách (DOCX, Decree 30) and Tổng hợp kết quả (XLSX) from
  the system's own data, as generated dossier files.

Every state change of a nomination or dossier is an audit event (tasks.launch.campaign.record_event).
"""

from __future__ import annotations

from thidua.tasks.core.declines import NO_PROPOSAL, Decline, declined_units
from thidua.tasks.review.nominations.completeness import refresh_completeness
from thidua.tasks.review.nominations.declines import DeclineResult, decline_nominations, list_declines
from thidua.tasks.review.nominations.dossier import add_dossier_file
from thidua.tasks.review.nominations.drafts import DraftResult, draft_documents
from thidua.tasks.review.nominations.errors import (
    DeclineRefused,
    DossierFileError,
    NominationError,
    NominationImportError,
    NominationRejected,
    UnknownUnit,
)
from thidua.tasks.review.nominations.import_file import import_nominations, read_nomination_file
from thidua.tasks.review.nominations.listing import NominationView, list_nominations
from thidua.tasks.review.nominations.lookups import (
    campaign_and_definition,
    dossier_deadline,
    parse_subject_kind,
)
from thidua.tasks.review.nominations.nominate import (
    NominationInput,
    NominationOutcome,
    NominationResult,
    nominate,
)
from thidua.tasks.review.nominations.shared import COLUMNS, DOSSIER_DIR

__all__ = [
    "COLUMNS",
    "DOSSIER_DIR",
    "NO_PROPOSAL",
    "Decline",
    "DeclineRefused",
    "DeclineResult",
    "DossierFileError",
    "DraftResult",
    "NominationError",
    "NominationImportError",
    "NominationInput",
    "NominationOutcome",
    "NominationRejected",
    "NominationResult",
    "NominationView",
    "UnknownUnit",
    "add_dossier_file",
    "campaign_and_definition",
    "decline_nominations",
    "declined_units",
    "dossier_deadline",
    "draft_documents",
    "import_nominations",
    "list_declines",
    "list_nominations",
    "nominate",
    "parse_subject_kind",
    "read_nomination_file",
    "refresh_completeness",
]
