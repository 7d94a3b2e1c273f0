"""Errors of the council: its setup, its meetings, the ballot and the chair's tie-break."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thidua.errors import Conflict, InvalidInput, NotFound, RuleRefused, ThiduaError


class CouncilError(ThiduaError):
    """Base of this module's errors."""


class CouncilNotSetUp(CouncilError, NotFound):
    """No council of that unit for the campaign, or no such unit."""


@dataclass(frozen=True)
class SetupProblem:
    row: int | None  # the file's row (1-based), or the member's position in the list given
    column: str | None
    message: str

    def where(self, in_file: bool) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"dòng {self.row}" if in_file else f"thành viên thứ {self.row}")
        if self.column:
            parts.append(f"cột “{self.column}”")
        return ", ".join(parts)


class CouncilSetupError(CouncilError, InvalidInput):
    """A membership that was not stored (nothing was written); `problems` lists every one."""

    def __init__(self, source_name: str | None, problems: Sequence[SetupProblem]) -> None:
        self.source_name = source_name
        self.problems = list(problems)
        super().__init__(str(self), self.problems)

    def __str__(self) -> str:
        prefix = f"{self.source_name}: " if self.source_name else ""
        head = f"{prefix}không lập được Hội đồng ({len(self.problems)} lỗi)"
        lines = []
        for p in self.problems:
            where = p.where(self.source_name is not None)
            lines.append(f"  {prefix}{where}: {p.message}" if where else f"  {prefix}{p.message}")
        return "\n".join([head, *lines])


class MeetingError(CouncilError, Conflict):
    """A meeting that cannot be opened, found or closed as asked."""


class VoteRefused(CouncilError, RuleRefused):
    """A ballot that was not recorded; nothing was written."""


class QuorumNotMet(VoteRefused):
    pass


class VoteAlreadyCast(VoteRefused):
    pass


class TieBreakRefused(CouncilError, RuleRefused):
    pass
