"""Every error thidua raises on purpose, as one tree.

A caller decides what to do by the *kind* of an error, never by the module that raised it::

    ThiduaError                 base: a Vietnamese message a user can read, and what to do next (`hint`)
    ├── NotFound                a campaign, unit, person, meeting, award … that does not exist
    ├── Conflict                the request clashes with the current state (a campaign in another stage,
    │   │                       a decision already recorded, a second import of the same thing)
    │   └── WrongState          a campaign is not in the state a command needs; names the state it is in
    │                           and the command that reaches the one needed
    ├── RuleRefused             a rule of the campaign or of the law refuses it (quorum, self-vote, a
    │                           decision dated before its meeting, a late dossier)
    ├── InvalidInput            a file or value that cannot be used; `problems` locates each one
    │                           (file, sheet, row, column, what was expected); nothing was changed
    └── Unavailable             something thidua depends on is not ready (schema behind, mail server,
                                scheduler mode)

Specific errors subclass one kind (for example `CampaignNotFound(NotFound)`), so existing `except` clauses on
specific names keep working while the entry points (the CLI here, the HTTP API later) map only the kinds:
`EXIT_CODES` for the command line and `HTTP_STATUS` for the web, both in this module so the two never drift.

An unexpected exception (a bug) is not a ThiduaError: the CLI lets it surface with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


class ThiduaError(Exception):
    """Base of every deliberate error: `message` says what is wrong, `hint` what to do next (Vietnamese)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class NotFound(ThiduaError):
    """The thing asked for does not exist."""


class Conflict(ThiduaError):
    """The request clashes with the current state of what it names."""


class RuleRefused(ThiduaError):
    """A rule of the campaign (or of the law it applies) refuses the request."""


class Unavailable(ThiduaError):
    """Something thidua depends on is not ready: the schema, the mail server, the scheduler mode."""


@dataclass(frozen=True)
class Problem:
    """One located problem of an input: where (file, sheet, row, column) and what was expected."""

    problem: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = [part for part in (self.file,) if part]
        if self.sheet:
            where.append(f"trang “{self.sheet}”")
        if self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột “{self.column}”")
        text = self.problem + (f" (cần: {self.expected})" if self.expected else "")
        return f"{', '.join(where)}: {text}" if where else text


@runtime_checkable
class Locatable(Protocol):
    """A stage's own located problem (a report cell, a directory row) that converts to a Problem."""

    def as_problem(self) -> Problem: ...


def _as_problem(item: object) -> Problem:
    if isinstance(item, Problem):
        return item
    if isinstance(item, Locatable):
        return item.as_problem()
    return Problem(str(item))


class InvalidInput(ThiduaError):
    """An input that cannot be used, rejected whole: nothing was changed. `problems` locates each problem."""

    def __init__(
        self,
        message: str,
        problems: Iterable[Any] = (),
        *,
        hint: str | None = None,
    ) -> None:
        # Problem objects, or a module's own located-problem type with the same str() contract.
        self.problems: list[Any] = list(problems)
        super().__init__(message, hint=hint)

    def located(self) -> list[Problem]:
        """Every problem as a Problem (file, sheet, row, column, expected), whatever type the raiser used."""
        return [_as_problem(p) for p in self.problems]

    def __str__(self) -> str:
        lines = [self.message, *(f"  {p}" for p in self.problems)]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


# ---------------------------------------------------------------- specific errors shared by every stage


class CampaignNotFound(NotFound):
    """No campaign has this code."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"Không có phong trào mã “{code}”.",
            hint="Xem các phong trào đã phát động: `thidua campaign list`.",
        )


class WrongState(Conflict):
    """A campaign is in a state the request cannot be served in."""

    def __init__(self, code: str, current: str, needed: str, *, hint: str | None = None) -> None:
        self.code, self.current, self.needed = code, current, needed
        super().__init__(
            f"Phong trào “{code}” đang ở trạng thái {current}; việc này cần trạng thái {needed}.",
            hint=hint,
        )


# ---------------------------------------------------------------- mapping the kinds, once

#: Exit codes of the command line, by kind (the most specific kind in the error's ancestry wins).
#: 0 success, 1 an unexpected failure (a bug: the traceback is printed), 2 a usage error of the command line
#: itself (unknown option, missing argument) — the same code as invalid input, both mean "what you gave".
EXIT_CODES: dict[type[ThiduaError], int] = {
    InvalidInput: 2,
    NotFound: 3,
    Conflict: 4,
    RuleRefused: 5,
    Unavailable: 6,
    ThiduaError: 1,
}

#: HTTP statuses of the web API, by kind.
HTTP_STATUS: dict[type[ThiduaError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    RuleRefused: 422,
    Unavailable: 503,
    ThiduaError: 400,
}

KIND_LABELS: dict[type[ThiduaError], str] = {
    InvalidInput: "Dữ liệu không hợp lệ",
    NotFound: "Không tìm thấy",
    Conflict: "Không phù hợp với trạng thái hiện tại",
    RuleRefused: "Bị từ chối theo quy định",
    Unavailable: "Hệ thống chưa sẵn sàng",
    ThiduaError: "Lỗi",
}


def kind_of(exc: ThiduaError) -> type[ThiduaError]:
    """The kind an error belongs to: its nearest ancestor among the mapped kinds."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return cls  # type: ignore[return-value]
    return ThiduaError


def exit_code(exc: ThiduaError) -> int:
    return EXIT_CODES[kind_of(exc)]


def http_status(exc: ThiduaError) -> int:
    return HTTP_STATUS[kind_of(exc)]
