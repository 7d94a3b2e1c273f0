"""The council's rules, pure and exact: quorum, the approval threshold, and selection within a quota.

Shares are Fractions, so "more than 1/2 of 9 members" is 5 votes and "more than 1/2 of 10" is 6, with no
float rounding at the line. The rules come from the campaign definition's `council` block
(models.definition.Council); the defaults are the DOMAIN.md ones: quorum 2/3 of all members, approval by
more than half of all members.

`select_within_quota` ranks the approved nominees of one award type and subject kind by
(priority title — individuals only —, the main indicator's value, approving votes) and fills the quota.
Nominees tied on all three keys across the quota's edge are all marked TIE for the chair to decide: the
order they were nominated in, or their names, never decide. Every answer carries its reason in Vietnamese.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from thidua.errors import RuleRefused
from thidua.models.definition import Council
from thidua.models.indicators import fmt_percent
from thidua.models.review import ReviewOutcome, SubjectKind
from thidua.models.text import nfc, vn_sort_key

KIND_NOUNS: dict[str, str] = {
    SubjectKind.COLLECTIVE.value: "tập thể",
    SubjectKind.INDIVIDUAL.value: "cá nhân",
}
CHAIR_DECIDES = "chờ Chủ tịch Hội đồng quyết định"


# ---------------------------------------------------------------- quorum and approval


def _at_least(share: Fraction, base: int) -> int:
    """Smallest whole number of people that is at least `share` of `base`."""
    return math.ceil(share * base)


def quorum_required(members: int, rules: Council) -> int:
    """How many members must attend: at least `rules.quorum` of all members (2/3 of 9 -> 6)."""
    return _at_least(Fraction(rules.quorum), members)


def quorum_met(members: int, present: int, rules: Council) -> bool:
    if members <= 0:
        return False
    return Fraction(present, members) >= Fraction(rules.quorum)


def quorum_statement(members: int, present: int, rules: Council) -> str:
    """One sentence for the minutes and for a refused vote."""
    need = quorum_required(members, rules)
    if quorum_met(members, present, rules):
        return (
            f"Số thành viên dự họp {present}/{members}, bảo đảm số lượng theo quy định "
            f"(ít nhất {need}/{members} thành viên)."
        )
    return f"Không đủ số lượng thành viên dự họp theo quy định: {present}/{members}, cần ít nhất {need}."


def _approval_base(members: int, present: int, rules: Council) -> int:
    return members if rules.approval.of == "all_members" else present


def approval_threshold(members: int, present: int, rules: Council) -> Fraction:
    """The line in votes: share × (all members, or those present). 9 members, 1/2 -> 9/2 (4.5 votes)."""
    return Fraction(rules.approval.share) * _approval_base(members, present, rules)


def approvals_needed(members: int, present: int, rules: Council) -> int:
    """The fewest approving votes that pass: strictly above the line, or at least on it."""
    line = approval_threshold(members, present, rules)
    if rules.approval.strict:
        return math.floor(line) + 1
    return math.ceil(line)


def is_approved(approve_votes: int, members: int, present: int, rules: Council) -> bool:
    line = approval_threshold(members, present, rules)
    return approve_votes > line if rules.approval.strict else approve_votes >= line


def approval_statement(members: int, present: int, rules: Council) -> str:
    """'trên 1/2 tổng số thành viên Hội đồng (ít nhất 5/9 phiếu đồng ý)'."""
    share = Fraction(rules.approval.share)
    word = "trên" if rules.approval.strict else "từ"
    tail = "" if rules.approval.strict else " trở lên"
    if rules.approval.of == "all_members":
        whom, base = "tổng số thành viên Hội đồng", members
    else:
        whom, base = "số thành viên dự họp", present
    need = approvals_needed(members, present, rules)
    return f"{word} {share}{tail} {whom} đồng ý (ít nhất {need}/{base} phiếu đồng ý)"


# ---------------------------------------------------------------- selection within a quota


@dataclass(frozen=True)
class Candidate:
    """One nominee of one award type and subject kind, with what the ranking reads."""

    nomination_id: int
    name: str
    subject_kind: str  # "collective" | "individual"
    approve: int
    approved: bool
    title: str | None = None  # a person's title ("Chấp hành viên")
    value: Fraction | None = None  # the main indicator (None: no figures)


@dataclass(frozen=True)
class Selection:
    nomination_id: int
    outcome: ReviewOutcome
    position: int | None  # rank among the approved (ties share a rank); None when not approved
    explanation: str


def is_priority(candidate: Candidate, priority_titles: Iterable[str]) -> bool:
    """Priority titles apply to individuals only (seed 003: 'ưu tiên khen thưởng đối với Chấp hành viên')."""
    if candidate.subject_kind != SubjectKind.INDIVIDUAL.value or not candidate.title:
        return False
    wanted = {nfc(t).casefold() for t in priority_titles}
    return nfc(candidate.title).casefold() in wanted


def _rank_key(c: Candidate, priority_titles: Sequence[str]) -> tuple[int, int, Fraction, int]:
    # Higher is better on every key; a nominee without figures ranks below any figure.
    has_value = 0 if c.value is None else 1
    return (
        1 if is_priority(c, priority_titles) else 0,
        has_value,
        c.value if c.value is not None else Fraction(0),
        c.approve,
    )


def quota_phrase(quota: int, subject_kind: str) -> str:
    """'03 cá nhân' — numbers under 10 with a leading zero, as the plans write quotas."""
    return f"{quota:02d} {KIND_NOUNS.get(subject_kind, subject_kind)}"


def _value_text(c: Candidate, value_label: str) -> str:
    if c.value is None:
        return f"{value_label}: chưa có số liệu"
    return f"{value_label} {fmt_percent(c.value)}"


def _votes_text(c: Candidate, members: int | None) -> str:
    return f"{c.approve}/{members} phiếu đồng ý" if members else f"{c.approve} phiếu đồng ý"


def _facts(c: Candidate, priority_titles: Sequence[str], value_label: str | None, members: int | None) -> str:
    parts = []
    if is_priority(c, priority_titles):
        parts.append(f"ưu tiên {nfc(c.title or '')}")
    if value_label is not None:
        parts.append(_value_text(c, value_label))
    parts.append(_votes_text(c, members))
    return "; ".join(parts)


def _why_behind(
    lower: Candidate,
    upper: Candidate,
    priority_titles: Sequence[str],
    value_label: str | None,
    members: int | None,
) -> str:
    """The first ranking key on which `lower` comes after `upper`."""
    if is_priority(upper, priority_titles) and not is_priority(lower, priority_titles):
        return f"{upper.name} thuộc diện ưu tiên {nfc(upper.title or '')}"
    if value_label is not None and upper.value != lower.value:
        if lower.value is None:
            return f"chưa có số liệu {value_label}"
        return f"{value_label} thấp hơn ({fmt_percent(lower.value)} so với {fmt_percent(upper.value)})"
    return f"ít phiếu đồng ý hơn ({_votes_text(lower, members)} so với {_votes_text(upper, members)})"


def select_within_quota(
    candidates: Sequence[Candidate],
    quota: int | None,
    priority_titles: Sequence[str] = (),
    *,
    value_label: str | None = "chỉ tiêu chính",
    members: int | None = None,
    approvals_needed: int | None = None,
) -> list[Selection]:
    """Fill the quota of one award type and subject kind; one Selection per candidate, best first.

    `quota` None means no limit. `value_label` names the main indicator in the explanations ("tỷ lệ giảm
    ..."); None when the indicator is not measured for this kind of subject, which then does not rank by it.
    `members` is the council's size ("7/9 phiếu đồng ý"), `approvals_needed` the approval line.
    """
    if value_label is None:
        candidates = [replace(c, value=None) for c in candidates]
    kinds = {c.subject_kind for c in candidates}
    if len(kinds) > 1:
        raise ValueError("select_within_quota: mỗi lần chỉ xét một loại đối tượng (tập thể hoặc cá nhân)")
    if quota is not None and quota < 0:
        raise ValueError("chỉ tiêu không được âm")
    titles = list(priority_titles)
    approved = [c for c in candidates if c.approved]
    # Groups of candidates equal on every ranking key, best group first.
    groups: dict[tuple[int, int, Fraction, int], list[Candidate]] = {}
    for c in approved:
        groups.setdefault(_rank_key(c, titles), []).append(c)
    ordered = [groups[k] for k in sorted(groups, reverse=True)]

    out: list[Selection] = []
    filled = 0  # candidates ranked above the current group
    last_selected: Candidate | None = None
    edge: tuple[int, list[Candidate]] | None = None  # the tie group at the edge, and its position
    for group in ordered:
        position = filled + 1
        facts = _facts(group[0], titles, value_label, members)
        if quota is None or filled + len(group) <= quota:
            where = (
                f"trong chỉ tiêu {quota_phrase(quota, group[0].subject_kind)}" if quota is not None else ""
            )
            rank = f"xếp thứ {position}" + (f" {where}" if where else "")
            for c in group:
                out.append(
                    Selection(
                        c.nomination_id, ReviewOutcome.SELECTED, position, f"Được chọn: {rank}; {facts}"
                    )
                )
            last_selected = group[-1]
        elif filled < quota and edge is None:
            seats = quota - filled
            names = _names(group)
            text = (
                f"Bằng nhau tại giới hạn chỉ tiêu {quota_phrase(quota, group[0].subject_kind)} với {names} "
                f"(cùng xếp thứ {position}: {facts}); còn {seats} suất cho {len(group)} người được đề nghị: "
                f"{CHAIR_DECIDES}"
            )
            for c in group:
                out.append(Selection(c.nomination_id, ReviewOutcome.TIE, position, text))
            edge = (position, group)
        else:
            quota_text = quota_phrase(quota, group[0].subject_kind)
            for c in group:
                if edge is not None:
                    ahead = f"sau nhóm bằng nhau ở vị trí thứ {edge[0]} ({_names(edge[1])})"
                    reason = _why_behind(c, edge[1][0], titles, value_label, members)
                elif last_selected is not None:
                    ahead = f"sau {last_selected.name}"
                    reason = _why_behind(c, last_selected, titles, value_label, members)
                if quota == 0 or (last_selected is None and edge is None):
                    text = f"Không được chọn: chỉ tiêu {quota_text} (không xét); {facts}"
                else:
                    text = (
                        f"Không được chọn: vượt chỉ tiêu {quota_text}; xếp thứ {position} ({facts}), "
                        f"{ahead} do {reason}"
                    )
                out.append(Selection(c.nomination_id, ReviewOutcome.OVER_QUOTA, position, text))
        filled += len(group)

    for c in sorted((c for c in candidates if not c.approved), key=lambda c: c.nomination_id):
        need = f", cần ít nhất {approvals_needed}" if approvals_needed is not None else ""
        text = f"Không được chọn: không đủ số phiếu đồng ý theo quy định ({_votes_text(c, members)}{need})"
        out.append(Selection(c.nomination_id, ReviewOutcome.NOT_APPROVED, None, text))
    return out


# ---------------------------------------------------------------- the chair's decision on a tie


class TieBreakError(RuleRefused):
    """The chair's order does not fit the tie it is meant to break."""


def break_tie(
    selections: Sequence[Selection],
    ordered_ids: Sequence[int],
    quota: int,
    *,
    reason: str,
    names: dict[int, str] | None = None,
) -> list[Selection]:
    """Apply the chair's order to the TIE rows of one award type and subject kind.

    The first nominees of `ordered_ids` fill the seats left by the SELECTED ones; the other tied nominees
    (listed later or not at all) become OVER_QUOTA. Returns the changed selections only.
    """
    ties = [s for s in selections if s.outcome == ReviewOutcome.TIE]
    tie_ids = {s.nomination_id for s in ties}
    if not ties:
        raise TieBreakError("không có đề nghị nào đang bằng nhau tại giới hạn chỉ tiêu")
    if len(set(ordered_ids)) != len(ordered_ids):
        raise TieBreakError("thứ tự có đề nghị bị lặp")
    strangers = [i for i in ordered_ids if i not in tie_ids]
    if strangers:
        listed = ", ".join(str(i) for i in strangers)
        raise TieBreakError(f"đề nghị {listed} không nằm trong nhóm bằng nhau ({_ids(tie_ids)})")
    seats = quota - sum(1 for s in selections if s.outcome == ReviewOutcome.SELECTED)
    seats = max(0, min(seats, len(ties)))
    if len(ordered_ids) < seats:
        raise TieBreakError(
            f"còn {seats} suất trong chỉ tiêu: cần chỉ ra ít nhất {seats} đề nghị theo thứ tự "
            f"(nhóm bằng nhau: {_ids(tie_ids)})"
        )
    text_reason = nfc(reason)
    if not text_reason:
        raise TieBreakError("cần ghi lý do quyết định của Chủ tịch Hội đồng")
    start = ties[0].position or 1
    changed: list[Selection] = []
    chosen = list(ordered_ids[:seats])
    rest = list(ordered_ids[seats:]) + sorted(tie_ids - set(ordered_ids))
    label = names or {}
    for offset, nid in enumerate(chosen):
        text = (
            f"Được chọn theo quyết định của Chủ tịch Hội đồng (bằng nhau tại giới hạn chỉ tiêu, "
            f"xếp thứ {start + offset}): {text_reason}"
        )
        changed.append(Selection(nid, ReviewOutcome.SELECTED, start + offset, text))
    picked = ", ".join(label.get(i, f"đề nghị {i}") for i in chosen) or "không ai"
    for offset, nid in enumerate(rest, start=len(chosen)):
        text = (
            f"Không được chọn: bằng nhau tại giới hạn chỉ tiêu, Chủ tịch Hội đồng quyết định chọn {picked}: "
            f"{text_reason}"
        )
        changed.append(Selection(nid, ReviewOutcome.OVER_QUOTA, start + offset, text))
    return changed


def _names(group: Sequence[Candidate]) -> str:
    # Display order only (the tie itself is unordered): people the Vietnamese way, units by name.
    people = group[0].subject_kind == SubjectKind.INDIVIDUAL.value
    ordered = sorted(group, key=lambda c: vn_sort_key(c.name) if people else (nfc(c.name), "", ""))
    return ", ".join(c.name for c in ordered)


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


__all__ = [
    "CHAIR_DECIDES",
    "KIND_NOUNS",
    "Candidate",
    "Selection",
    "TieBreakError",
    "approval_statement",
    "approval_threshold",
    "approvals_needed",
    "break_tie",
    "is_approved",
    "is_priority",
    "quorum_met",
    "quorum_required",
    "quorum_statement",
    "select_within_quota",
]
