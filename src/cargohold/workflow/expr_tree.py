"""The syntax tree of a GitHub Actions expression, shaped like GitHub's own.

Nodes mirror ``actions/runner``'s (``Index`` for both ``a.b`` and ``a[b]``, n-ary ``&&``
and ``||`` with nested ones flattened, no node for parentheses), so the depth limit of 50
counts the same nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False, slots=True)
class Node:
    """A node of the syntax tree; ``pos`` is the 0-based offset of its token."""

    pos: int


@dataclass(eq=False, slots=True)
class Literal(Node):
    value: Any


@dataclass(eq=False, slots=True)
class NamedValue(Node):
    name: str


@dataclass(eq=False, slots=True)
class Wildcard(Node):
    pass


@dataclass(eq=False, slots=True)
class Index(Node):
    target: Node
    key: Node


@dataclass(eq=False, slots=True)
class Not(Node):
    operand: Node


@dataclass(eq=False, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True)
class Logical(Node):
    """``&&`` or ``||`` over two or more operands (nested ones are flattened, as GitHub does)."""

    op: str
    operands: list[Node]


@dataclass(eq=False, slots=True)
class Call(Node):
    """A function call; ``name`` is lower-cased (function names are case-insensitive)."""

    name: str
    args: list[Node] = field(default_factory=list)


def children(node: Node) -> list[Node]:
    """The direct sub-nodes of a node."""
    if isinstance(node, Index):
        return [node.target, node.key]
    if isinstance(node, Not):
        return [node.operand]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Call):
        return node.args
    return []
