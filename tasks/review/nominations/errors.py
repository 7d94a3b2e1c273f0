"""Errors of nominations and dossier files."""

from __future__ import annotations

from collections.abc import Sequence

from thidua.errors import Conflict, InvalidInput, NotFound, ThiduaError, WrongState
from thidua.models.directory_rows import RowError


class NominationError(ThiduaError):
    """Base of this module's errors."""


class NominationsClosed(NominationError, WrongState):
    """The campaign does not take nominations (or declarations) in its present state."""


class NominationRejected(NominationError, InvalidInput):
    """The whole list was refused; nothing was written. `.errors` locates every problem."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: list[RowError] = list(errors)
        super().__init__(str(self), self.errors)

    def __str__(self) -> str:
        head = (
            f"Không tiếp nhận đề nghị khen thưởng: có {len(self.errors)} lỗi, không đề nghị nào được ghi. "
            "Hãy sửa các lỗi sau rồi gửi lại toàn bộ danh sách:"
        )
        return "\n".join([head, *(f"- {e}" for e in self.errors)])


class NominationImportError(NominationRejected):
    """A nomination file that cannot be imported (unreadable, wrong headers or bad rows)."""


class UnknownUnit(NominationError, NotFound):
    """A unit that does not take part in the campaign."""


class DeclineRefused(NominationError, Conflict):
    """A unit that has nominations cannot declare it proposes nobody."""


class DossierFileError(NominationError, InvalidInput):
    """A dossier file refused: unknown part or unit, wrong type, too large, empty."""
