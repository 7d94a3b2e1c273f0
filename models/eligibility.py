"""Eligibility of a nominee: the campaign's rules over plain facts, a pass or fail with a reason per rule.

Pure functions over plain data (no database): tasks.review.eligibility gets the facts of every nomination of
a campaign in a few queries and calls `screen` once per nominee. Every rule that applies gives one `Reason`,
passed or not, in Vietnamese, so the council reads why a nominee passes as well as why one fails.

The rules, from the definition's `eligibility` block (seed 003 in brackets):

- `discipline_window`: no discipline of at least `min_discipline_form` [khiển trách] decided inside the window
  [01/10/2023 – 30/06/2024], both ends inclusive. The order of forms is `DisciplineForm`'s.
- `law_violation` (when `law_violation_disqualifies`): no law violation recorded inside the window. A law
  violation is not a discipline form: it counts by this flag alone, whatever `min_discipline_form` says.
- `clean_members` (collectives, when `collective_requires_clean_members`): no member of the collective
  disciplined or in violation inside the window; each offending member is named with the date.
- `unit_head` (individuals who head their unit, when `unit_head_must_meet_both`): the unit meets the
  collective criteria too — its indicator met (when one is required) and no member disciplined in the window.
- `indicator` (when `require_indicator`): the final figures meet the target — the person's own figures for an
  individual, the unit's for a collective; no figures is a failure saying so.
- `one_award` (when `one_award_per_achievement`): not already granted an award in this campaign, and not also
  nominated for another award type of the campaign (one achievement, one reward: Law 2022).
- `dossier` (when the nomination's dossier status is known): an INCOMPLETE dossier fails, naming the parts
  missing at the deadline; a nomination sent after the deadline says so.
- `ledger` (when the campaign has a case ledger): the nominee's reported figures beside the ledger's
  (models/reconciliation.py) — for a head under the unit-head rule, the unit's too. An unexplained
  difference is marked "cần xác minh" with the figures (`Reason.verify`); it never fails the nominee: the
  council decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from thidua.models.definition import Eligibility, Indicator, Window
from thidua.models.indicators import IndicatorResult, fmt_percent, fmt_target
from thidua.models.labels import DISCIPLINE_LABELS
from thidua.models.reconciliation import VERIFY, LedgerCheck
from thidua.models.states import DisciplineForm
from thidua.models.text import fmt_date

SubjectKindText = Literal["collective", "individual"]
DossierState = Literal["submitted", "complete", "incomplete"]

# Rule keys as stored in EligibilityResult.reasons_json (the council's code reads them).
RULE_DISCIPLINE = "discipline_window"
RULE_LAW = "law_violation"
RULE_MEMBERS = "clean_members"
RULE_HEAD = "unit_head"
RULE_INDICATOR = "indicator"
RULE_ONE_AWARD = "one_award"
RULE_DOSSIER = "dossier"
RULE_LEDGER = "ledger"

_FORM_ORDER: dict[DisciplineForm, int] = {form: index for index, form in enumerate(DisciplineForm)}


# ---------------------------------------------------------------- facts


@dataclass(frozen=True)
class DisciplineFact:
    form: DisciplineForm
    decided_on: date


@dataclass(frozen=True)
class MemberFacts:
    """A person of a collective (or of a head's unit) with their discipline records."""

    code: str
    name: str
    discipline: tuple[DisciplineFact, ...] = ()


@dataclass(frozen=True)
class GrantFact:
    """An award already granted in this campaign to the same subject (another nomination)."""

    award_name: str
    decision_ref: str | None = None  # "05/QĐ-CTHADS"


@dataclass(frozen=True)
class UnitFacts:
    """The collective side of a unit: its final indicator result and its members."""

    code: str
    name: str
    indicator: IndicatorResult | None = None  # None: no final figures for the unit
    members: tuple[MemberFacts, ...] = ()
    ledger: LedgerCheck | None = None  # its reported figures beside the case ledger's; None: no ledger


@dataclass(frozen=True)
class NomineeFacts:
    """What the rules need to know about one nominee.

    For a collective, `code`/`name` are the unit's and `unit` holds its members and figures; for an
    individual, `discipline` and `indicator` are the person's own and `unit` is their unit (read by the
    unit-head rule).
    """

    kind: SubjectKindText
    code: str
    name: str
    unit: UnitFacts
    title: str | None = None
    is_head: bool = False
    discipline: tuple[DisciplineFact, ...] = ()
    indicator: IndicatorResult | None = None  # individuals: the person's final result
    grants: tuple[GrantFact, ...] = ()
    other_awards: tuple[str, ...] = ()  # names of the other award types this subject is nominated for
    dossier: DossierState | None = None  # None: not judged here
    missing_parts: tuple[str, ...] = ()  # part names, for an incomplete dossier
    dossier_deadline: date | None = None
    is_late: bool = False  # the nomination itself came after the dossier deadline
    ledger: LedgerCheck | None = None  # individuals: the person's figures beside the ledger's

    @property
    def label(self) -> str:
        """'Cá nhân Nguyễn Văn A (TQ-SD-05)' / 'Tập thể Chi cục ... (TQ-SD)'."""
        who = "Tập thể" if self.kind == "collective" else "Cá nhân"
        return f"{who} {self.name} ({self.code})"


# ---------------------------------------------------------------- outcome


@dataclass(frozen=True)
class Reason:
    rule: str
    passed: bool
    text: str
    verify: bool = False  # "cần xác minh": for the council to look at; never a failure by itself

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "passed": self.passed, "reason": self.text}
        if self.verify:
            data["verify"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        return cls(str(data["rule"]), bool(data["passed"]), str(data["reason"]), bool(data.get("verify")))

    @property
    def mark(self) -> str:
        """✓ passed, ✗ failed, ⚠ to verify."""
        return "⚠" if self.verify else "✓" if self.passed else "✗"


@dataclass(frozen=True)
class Screening:
    eligible: bool
    reasons: list[Reason] = field(default_factory=list)

    @property
    def failures(self) -> list[Reason]:
        return [r for r in self.reasons if not r.passed]

    @property
    def to_verify(self) -> list[Reason]:
        return [r for r in self.reasons if r.verify]

    def as_json(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.reasons]


# ---------------------------------------------------------------- helpers


def window_text(window: Window) -> str:
    """'01/10/2023 – 30/06/2024'."""
    return f"{fmt_date(window.start)} – {fmt_date(window.end)}"


def counts_as_discipline(form: DisciplineForm, rules: Eligibility) -> bool:
    """A discipline form at or above the campaign's lowest counted form (law violations are apart)."""
    if form is DisciplineForm.VI_PHAM_PHAP_LUAT:
        return False
    return _FORM_ORDER[form] >= _FORM_ORDER[DisciplineForm(rules.min_discipline_form)]


def counts_as_violation(form: DisciplineForm, rules: Eligibility) -> bool:
    return form is DisciplineForm.VI_PHAM_PHAP_LUAT and rules.law_violation_disqualifies


def disqualifying(records: Sequence[DisciplineFact], rules: Eligibility) -> list[DisciplineFact]:
    """Records inside the window (both ends inclusive) that disqualify, oldest first."""
    window = rules.discipline_window
    return sorted(
        (
            r
            for r in records
            if window.contains(r.decided_on)
            and (counts_as_discipline(r.form, rules) or counts_as_violation(r.form, rules))
        ),
        key=lambda r: (r.decided_on, _FORM_ORDER[r.form]),
    )


def _forms_on(records: Sequence[DisciplineFact]) -> str:
    """'Khiển trách ngày 01/10/2023, Cảnh cáo ngày 05/01/2024'."""
    return ", ".join(f"{DISCIPLINE_LABELS[r.form]} ngày {fmt_date(r.decided_on)}" for r in records)


def _member_offences(member: MemberFacts, rules: Eligibility) -> str | None:
    found = disqualifying(member.discipline, rules)
    if not found:
        return None
    discipline = [r for r in found if r.form is not DisciplineForm.VI_PHAM_PHAP_LUAT]
    violations = [r for r in found if r.form is DisciplineForm.VI_PHAM_PHAP_LUAT]
    parts: list[str] = []
    if discipline:
        parts.append(f"bị kỷ luật {_forms_on(discipline)}")
    if violations:
        dates = ", ".join(fmt_date(r.decided_on) for r in violations)
        parts.append(f"vi phạm pháp luật ngày {dates}")
    return f"Cá nhân {member.name} ({member.code}) thuộc đơn vị " + " và ".join(parts)


def _offending_members(unit: UnitFacts, rules: Eligibility) -> list[str]:
    return [text for m in unit.members if (text := _member_offences(m, rules)) is not None]


def _indicator_outcome(
    result: IndicatorResult | None, indicator: Indicator | None, whose: str
) -> tuple[bool, str]:
    label = indicator.label if indicator is not None else "chỉ tiêu thi đua"
    if result is None or result.den == 0 or result.met is None:
        detail = " (mẫu số bằng 0)" if result is not None and result.den == 0 else ""
        return False, f"Không có số liệu kết quả cuối cùng của {whose} về {label}{detail}"
    value = result.value if result.value is not None else Fraction(result.num, result.den)
    comparison = indicator.comparison if indicator is not None else result.comparison
    goal = fmt_target(comparison, result.target)
    if result.met:
        return True, f"Đạt chỉ tiêu {label}: {fmt_percent(value)} (chỉ tiêu {goal})"
    return False, f"Không đạt chỉ tiêu {label}: {fmt_percent(value)} (chỉ tiêu {goal})"


# ---------------------------------------------------------------- rules


def _discipline_reasons(facts: NomineeFacts, rules: Eligibility) -> list[Reason]:
    window = window_text(rules.discipline_window)
    found = disqualifying(facts.discipline, rules)
    out: list[Reason] = []

    discipline = [r for r in found if r.form is not DisciplineForm.VI_PHAM_PHAP_LUAT]
    if discipline:
        text = f"Bị kỷ luật {_forms_on(discipline)}, trong thời gian xét ({window})"
        out.append(Reason(RULE_DISCIPLINE, False, text))
    else:
        text = f"Không bị kỷ luật trong thời gian xét ({window})"
        # Records that do not count are named, so the council sees they were looked at, not missed.
        ignored = [
            r for r in facts.discipline if r.form is not DisciplineForm.VI_PHAM_PHAP_LUAT and r not in found
        ]
        notes: list[str] = []
        outside = [r for r in ignored if not rules.discipline_window.contains(r.decided_on)]
        below = [r for r in ignored if r not in outside]
        if outside:
            notes.append(f"quyết định kỷ luật {_forms_on(outside)} ngoài thời gian xét, không tính")
        if below:
            lowest = DISCIPLINE_LABELS[DisciplineForm(rules.min_discipline_form)]
            notes.append(f"kỷ luật {_forms_on(below)} dưới mức {lowest}, không tính")
        if notes:
            text += "; " + "; ".join(notes)
        out.append(Reason(RULE_DISCIPLINE, True, text))

    if rules.law_violation_disqualifies:
        violations = [r for r in found if r.form is DisciplineForm.VI_PHAM_PHAP_LUAT]
        if violations:
            dates = ", ".join(fmt_date(r.decided_on) for r in violations)
            out.append(
                Reason(RULE_LAW, False, f"Vi phạm pháp luật ngày {dates}, trong thời gian xét ({window})")
            )
        else:
            out.append(Reason(RULE_LAW, True, f"Không vi phạm pháp luật trong thời gian xét ({window})"))
    return out


def _members_reason(facts: NomineeFacts, rules: Eligibility) -> Reason:
    offences = _offending_members(facts.unit, rules)
    if offences:
        return Reason(RULE_MEMBERS, False, "; ".join(offences))
    window = window_text(rules.discipline_window)
    what = "bị kỷ luật hoặc vi phạm pháp luật" if rules.law_violation_disqualifies else "bị kỷ luật"
    return Reason(
        RULE_MEMBERS,
        True,
        f"Không có cá nhân thuộc đơn vị {what} trong thời gian xét ({window}); "
        f"đã xét {len(facts.unit.members)} cá nhân",
    )


def _head_reason(facts: NomineeFacts, rules: Eligibility, indicator: Indicator | None) -> Reason:
    unit = facts.unit
    problems: list[str] = []
    if rules.require_indicator is not None:
        met, text = _indicator_outcome(unit.indicator, indicator, f"đơn vị {unit.name}")
        if not met:
            problems.append(text)
    problems.extend(_offending_members(unit, rules))
    if problems:
        return Reason(
            RULE_HEAD,
            False,
            f"Là Thủ trưởng đơn vị nhưng đơn vị {unit.name} ({unit.code}) không đạt tiêu chuẩn tập thể: "
            + "; ".join(problems),
        )
    checked = ["không có cá nhân bị kỷ luật trong thời gian xét"]
    if rules.require_indicator is not None:
        checked.insert(0, "đạt chỉ tiêu")
    return Reason(
        RULE_HEAD,
        True,
        f"Là Thủ trưởng đơn vị: đơn vị {unit.name} ({unit.code}) cũng đạt tiêu chuẩn tập thể "
        f"({', '.join(checked)})",
    )


def _one_award_reason(facts: NomineeFacts) -> Reason:
    problems: list[str] = []
    for grant in facts.grants:
        ref = f" (Quyết định số {grant.decision_ref})" if grant.decision_ref else ""
        problems.append(f"đã được tặng {grant.award_name}{ref} trong phong trào này")
    for name in facts.other_awards:
        problems.append(f"đồng thời được đề nghị tặng {name} trong phong trào này")
    if problems:
        return Reason(
            RULE_ONE_AWARD,
            False,
            "Một thành tích chỉ được khen thưởng một lần, một hình thức: " + "; ".join(problems),
        )
    return Reason(
        RULE_ONE_AWARD,
        True,
        "Chưa được khen thưởng và không được đề nghị hình thức khác cho thành tích này trong phong trào",
    )


def _dossier_reason(facts: NomineeFacts) -> Reason | None:
    if facts.dossier is None:
        return None
    deadline = f" ({fmt_date(facts.dossier_deadline)})" if facts.dossier_deadline else ""
    late = f"Đề nghị gửi sau hạn nộp hồ sơ{deadline}" if facts.is_late else ""
    if facts.dossier == "incomplete":
        parts: list[str] = []
        if late:
            parts.append(late)
        if facts.missing_parts:
            parts.append(f"hồ sơ thiếu khi hết hạn nộp{deadline}: {', '.join(facts.missing_parts)}")
        text = "; ".join(parts) or f"Hồ sơ không đầy đủ khi hết hạn nộp{deadline}"
        return Reason(RULE_DOSSIER, False, text[0].upper() + text[1:])
    if facts.dossier == "complete":
        due = f" (hạn nộp {fmt_date(facts.dossier_deadline)})" if facts.dossier_deadline else ""
        return Reason(RULE_DOSSIER, True, f"Hồ sơ đủ các thành phần, nộp đúng hạn{due}")
    missing = f"; còn thiếu: {', '.join(facts.missing_parts)}" if facts.missing_parts else ""
    return Reason(RULE_DOSSIER, True, f"Hồ sơ đang được bổ sung, chưa hết hạn nộp{deadline}{missing}")


def _ledger_reason(facts: NomineeFacts, rules: Eligibility) -> Reason | None:
    unit = facts.unit
    own = unit.ledger if facts.kind == "collective" else facts.ledger
    checks = [("", own)] if own is not None else []
    if facts.kind == "individual" and facts.is_head and rules.unit_head_must_meet_both and unit.ledger:
        checks.append((f" của đơn vị {unit.name} ({unit.code})", unit.ledger))
    if not checks:
        return None
    flagged = [check.sentence(whose) for whose, check in checks if check.to_verify]
    if not flagged:
        return Reason(RULE_LEDGER, True, checks[0][1].sentence(checks[0][0]))
    text = "; ".join(s[:1].lower() + s[1:] for s in flagged)
    return Reason(
        RULE_LEDGER,
        True,
        f"{VERIFY}: {text}. Hội đồng xem xét, quyết định; chênh lệch này không làm thay đổi kết quả xét "
        "điều kiện",
        verify=True,
    )


def screen(facts: NomineeFacts, rules: Eligibility, indicator: Indicator | None = None) -> Screening:
    """Check one nominee against the campaign's rules; `indicator` is the definition's `require_indicator`
    (its label and comparison word the reason). Eligible when every reason passed."""
    reasons: list[Reason] = []
    if facts.kind == "individual":
        reasons.extend(_discipline_reasons(facts, rules))
        if facts.is_head and rules.unit_head_must_meet_both:
            reasons.append(_head_reason(facts, rules, indicator))
        if rules.require_indicator is not None:
            met, text = _indicator_outcome(facts.indicator, indicator, "cá nhân")
            reasons.append(Reason(RULE_INDICATOR, met, text))
    else:
        if rules.collective_requires_clean_members:
            reasons.append(_members_reason(facts, rules))
        if rules.require_indicator is not None:
            met, text = _indicator_outcome(facts.unit.indicator, indicator, "đơn vị")
            reasons.append(Reason(RULE_INDICATOR, met, text))
    ledger = _ledger_reason(facts, rules)
    if ledger is not None:
        reasons.append(ledger)
    if rules.one_award_per_achievement:
        reasons.append(_one_award_reason(facts))
    dossier = _dossier_reason(facts)
    if dossier is not None:
        reasons.append(dossier)
    return Screening(eligible=all(r.passed for r in reasons), reasons=reasons)


__all__ = [
    "RULE_DISCIPLINE",
    "RULE_DOSSIER",
    "RULE_HEAD",
    "RULE_INDICATOR",
    "RULE_LAW",
    "RULE_LEDGER",
    "RULE_MEMBERS",
    "RULE_ONE_AWARD",
    "DisciplineFact",
    "GrantFact",
    "MemberFacts",
    "NomineeFacts",
    "Reason",
    "Screening",
    "UnitFacts",
    "counts_as_discipline",
    "counts_as_violation",
    "disqualifying",
    "screen",
    "window_text",
]
