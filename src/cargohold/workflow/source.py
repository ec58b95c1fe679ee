"""Workflow files as YAML with positions: ruamel.yaml's round-trip loader, YAML 1.2.

PyYAML (YAML 1.1) reads the key ``on:`` as the boolean ``True``; ruamel.yaml's 1.2 loader keeps
it a string, and its round-trip nodes remember where each key and item was, which the parser
and the linter need to say ``release.yml:12:9: ...``.

Positions are 1-based (editors and ``file:line:col`` annotations count from one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


@dataclass(frozen=True, slots=True)
class Pos:
    """Where something is in a file: 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class WorkflowError(Exception):
    """A workflow file that cannot be read or run; ``str()`` is ``file:line:col: message``."""

    def __init__(self, message: str, pos: Pos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos else self.message


def load(text: str, file: str) -> CommentedMap:
    """Parse ``text``; the top level must be a mapping. Raises ``WorkflowError`` with a position."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise WorkflowError(f"invalid YAML: {problem}", pos) from exc
    except YAMLError as exc:
        raise WorkflowError(f"invalid YAML: {exc}", Pos(file, 1, 1)) from exc
    if not isinstance(data, CommentedMap):
        raise WorkflowError("a workflow must be a mapping (name:, on:, jobs:)", Pos(file, 1, 1))
    return data


def key_pos(node: Any, key: Any, file: str) -> Pos:
    """Position of ``key`` in mapping ``node`` (the node's own position when unknown)."""
    if isinstance(node, CommentedMap):
        try:
            line, col = node.lc.key(key)
            return Pos(file, line + 1, col + 1)
        except (KeyError, TypeError):
            pass
    return node_pos(node, file)


def value_pos(node: Any, key: Any, file: str) -> Pos:
    """Position of the value under ``key`` in a mapping, or item ``key`` of a sequence."""
    try:
        if isinstance(node, CommentedMap):
            line, col = node.lc.value(key)
            return Pos(file, line + 1, col + 1)
        if isinstance(node, CommentedSeq):
            line, col = node.lc.item(key)
            return Pos(file, line + 1, col + 1)
    except (KeyError, TypeError, IndexError):
        pass
    return node_pos(node, file)


def node_pos(node: Any, file: str) -> Pos:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return Pos(file, lc.line + 1, lc.col + 1)
    return Pos(file, 1, 1)


def plain(node: Any) -> Any:
    """A ruamel node as plain Python data (dict, list, str, int, float, bool, None)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


def scalar_text(value: Any) -> str:
    """A scalar as GitHub turns it into a string (``true``, ``1``, ``1.5``; null is empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
