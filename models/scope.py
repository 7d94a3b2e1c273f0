"""Which units a campaign covers: pure tree rules over plain data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from thidua.errors import InvalidInput


@dataclass(frozen=True)
class UnitNode:
    id: int
    code: str
    parent_id: int | None
    level: str
    active: bool = True


class SubtreeRule(Protocol):
    @property
    def subtree(self) -> str: ...
    @property
    def levels(self) -> Sequence[str] | None: ...
    @property
    def include_root(self) -> bool: ...


class ScopeError(InvalidInput):
    """The scope names a unit the directory does not have."""


def resolve_scope(units: Iterable[UnitNode], rules: Iterable[SubtreeRule]) -> list[UnitNode]:
    """Active units in any rule's subtree whose level the rule admits, in tree order (parents first)."""
    nodes = list(units)
    by_code = {n.code: n for n in nodes}
    children: dict[int | None, list[UnitNode]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    for kids in children.values():
        kids.sort(key=lambda n: n.code)

    chosen: dict[int, UnitNode] = {}
    missing = []
    for rule in rules:
        root = by_code.get(rule.subtree)
        if root is None:
            missing.append(rule.subtree)
            continue
        levels = set(rule.levels) if rule.levels is not None else None
        stack = [(root, True)]
        while stack:
            node, is_root = stack.pop()
            if (
                node.active
                and (not is_root or rule.include_root)
                and (levels is None or node.level in levels)
            ):
                chosen[node.id] = node
            stack.extend((kid, False) for kid in reversed(children.get(node.id, [])))
    if missing:
        raise ScopeError(
            "Phạm vi phong trào nêu đơn vị không có trong danh bạ: " + ", ".join(sorted(set(missing))) + ".",
            hint="Sửa mục scope của định nghĩa, hoặc nhập các đơn vị đó: `thidua directory import`.",
        )
    return _tree_order(chosen, children)


def _tree_order(chosen: dict[int, UnitNode], children: dict[int | None, list[UnitNode]]) -> list[UnitNode]:
    ordered: list[UnitNode] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        if node.id in chosen:
            ordered.append(node)
        stack.extend(reversed(children.get(node.id, [])))
    return ordered
