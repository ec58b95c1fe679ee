"""Evaluation of a parsed expression tree against contexts (plain Python data).

Semantics from GitHub's documentation ("Evaluate expressions in workflows and actions":
Operators, Object filters, Status check functions) and evaluator (``actions/runner``
``src/Sdk/Expressions/Sdk/Operators``):

* ``&&``/``||`` short-circuit and return the deciding operand, not a boolean;
* ``a.b`` and ``a['b']`` look keys up case-insensitively; a missing key, or indexing
  something that is not an object or array, gives ``null``;
* arrays are indexed by number (``'1'`` and ``true`` coerce; negative, NaN and fractional
  indexes floor or miss); the index is evaluated only when the target is a collection;
* ``.*`` / ``[*]`` turn an object's values or an array's items into a new array, and any
  further ``.name``, ``[n]`` or ``.*`` applies to each element of it (``a.*.b`` collects
  ``b`` of each); on a non-collection the filter gives an empty array.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

from cargohold.workflow import expr_functions
from cargohold.workflow.expr_errors import ExpressionEvaluationError
from cargohold.workflow.expr_hashfiles import HashFilesError, hash_files
from cargohold.workflow.expr_tree import (
    Binary,
    Call,
    Index,
    Literal,
    Logical,
    NamedValue,
    Node,
    Not,
    Wildcard,
)
from cargohold.workflow.expr_values import (
    PRIMITIVE_KINDS,
    equals,
    get_property,
    greater_than,
    is_truthy,
    kind_of,
    less_than,
    to_number,
    to_string,
)

_INT32_MAX = 2**31 - 1


class JobStatus(enum.Enum):
    """The job's status so far, which the status check functions read.

    ``success()`` is true for SUCCESS, ``failure()`` for FAILURE, ``cancelled()`` for
    CANCELLED (GitHub's runner compares ``job.status`` the same way); ``always()`` is true.
    For a step, pass the job's status so far (FAILURE once a step failed without
    ``continue-on-error``); for a job, FAILURE when a job it needs (directly or not)
    failed, CANCELLED when the run was cancelled, else SUCCESS.
    """

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


class FilteredArray(list[Any]):
    """The array an object filter (``.*``, ``[*]``) produces; later indexes map over it."""


class Evaluator:
    """Evaluates the nodes of one expression; ``text`` is used in error messages."""

    def __init__(
        self,
        text: str,
        contexts: Mapping[str, Any],
        status: JobStatus | None = None,
        workspace: str | None = None,
    ) -> None:
        self.text = text
        self.contexts = contexts
        self.status = status
        self.workspace = workspace

    def evaluate(self, node: Node) -> Any:
        """The value of ``node``; raises :class:`ExpressionEvaluationError`."""
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, NamedValue):
            return get_property(self.contexts, node.name)[1]
        if isinstance(node, Wildcard):
            return "*"  # only reachable inside an index expression, e.g. a[* == 1]
        if isinstance(node, Index):
            return self._index(node)
        if isinstance(node, Not):
            return not is_truthy(self.evaluate(node.operand))
        if isinstance(node, Binary):
            return _compare(node.op, self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(node, Logical):
            return self._logical(node)
        assert isinstance(node, Call)
        return self._call(node)

    def _logical(self, node: Logical) -> Any:
        value: Any = None
        for operand in node.operands:
            value = self.evaluate(operand)
            if is_truthy(value) == (node.op == "||"):
                break
        return value

    def _call(self, node: Call) -> Any:
        name = node.name
        try:
            if name in expr_functions.FUNCTIONS:
                return expr_functions.FUNCTIONS[name](node.args, self.evaluate)
            if name == "hashfiles":
                assert self.workspace is not None  # only parsed when a workspace is given
                patterns = [to_string(self.evaluate(arg)) for arg in node.args]
                return hash_files(patterns, self.workspace)
        except (expr_functions.FunctionError, HashFilesError) as exc:
            raise ExpressionEvaluationError(str(exc), self.text, node.pos) from exc
        if name == "always":
            return True
        assert self.status is not None  # status functions are only parsed with a status
        return self.status.value == name

    def _index(self, node: Index) -> Any:
        target = self.evaluate(node.target)
        wildcard = isinstance(node.key, Wildcard)
        if isinstance(target, FilteredArray):
            return self._index_filtered(target, node.key, wildcard)
        if isinstance(target, Mapping):
            key = self.evaluate(node.key)
            if wildcard:
                return FilteredArray(target.values())
            if kind_of(key) in PRIMITIVE_KINDS:
                return get_property(target, to_string(key))[1]
            return None
        if isinstance(target, list | tuple):
            key = self.evaluate(node.key)
            if wildcard:
                return FilteredArray(target)
            position = _array_index(key)
            return target[position] if position is not None and position < len(target) else None
        return FilteredArray() if wildcard else None

    def _index_filtered(self, items: FilteredArray, key_node: Node, wildcard: bool) -> Any:
        key = self.evaluate(key_node)
        result = FilteredArray()
        for item in items:
            if isinstance(item, Mapping):
                if wildcard:
                    result.extend(item.values())
                elif kind_of(key) in PRIMITIVE_KINDS:
                    found, value = get_property(item, to_string(key))
                    if found:
                        result.append(value)
            elif isinstance(item, list | tuple):
                if wildcard:
                    result.extend(item)
                else:
                    position = _array_index(key)
                    if position is not None and position < len(item):
                        result.append(item[position])
        return result


def _array_index(key: Any) -> int | None:
    number = to_number(key)
    # NaN, negative and past Int32 (infinity included) miss; fractions are floored.
    if math.isnan(number) or number < 0 or number > _INT32_MAX:
        return None
    return math.floor(number)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return equals(left, right)
    if op == "!=":
        return not equals(left, right)
    if op == "<":
        return less_than(left, right)
    if op == ">":
        return greater_than(left, right)
    if op == "<=":
        return equals(left, right) or less_than(left, right)
    return equals(left, right) or greater_than(left, right)
