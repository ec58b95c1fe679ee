"""Properties over arbitrary input: the evaluator fails only with ExpressionError, and
gives the same answer every time; the value rules keep their algebraic shape."""

from __future__ import annotations

import contextlib
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cargohold.workflow.expr_values import (
    equals,
    format_number,
    greater_than,
    less_than,
    parse_number,
)
from cargohold.workflow.expressions import (
    ExpressionError,
    JobStatus,
    evaluate,
    evaluate_condition,
    interpolate,
    to_string,
)

CONTEXTS: dict[str, Any] = {
    "github": {"ref": "refs/heads/main", "event": {"labels": [{"name": "bug"}]}, "n": 3},
    "env": {"A": "1", "B": ""},
    "list": [1, "two", None, True, [3], {"k": "v"}],
    "obj": {"Key": [1, 2], "nested": {"x": 1.5}},
}

TOKENS = [
    "github", "env", "list", "obj", "nope", ".", "*", "[", "]", "(", ")", ",", "!", "==", "!=",
    "<", "<=", ">", ">=", "&&", "||", " ", "'a'", "'}}'", "''", "'", '"', "0", "1", "-1.5",
    "0xff", "0o7", "1e3", "NaN", "Infinity", "null", "true", "false", "ref", "Key", "x",
    "contains(", "startsWith(", "endsWith(", "format(", "join(", "toJSON(", "fromJSON(",
    "case(", "hashFiles(", "success(", "always(", "'{0}'", "'{'", "'[1]'", "'{\"a\":1}'",
    "=", "&", "|", "+", "-", "_", "é",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
any_text = st.text(max_size=60)
expressions = st.one_of(token_soup, any_text)


def _normal(value: Any) -> Any:
    """A comparable form: NaN as a marker, containers recursively."""
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _outcome(expression: str) -> tuple[str, Any]:
    try:
        return "value", _normal(evaluate(expression, CONTEXTS))
    except ExpressionError as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=600, deadline=None)
@given(expressions)
def test_evaluate_fails_only_with_expression_errors_and_is_deterministic(expression: str) -> None:
    assert _outcome(expression) == _outcome(expression)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(any_text, token_soup.map(lambda e: "${{ " + e + " }}")), max_size=4))
def test_interpolate_fails_only_with_expression_errors(parts: list[str]) -> None:
    template = "".join(parts)
    try:
        assert isinstance(interpolate(template, CONTEXTS), str)
    except ExpressionError as exc:
        assert exc.offset is None or 0 <= exc.offset <= len(template)


@settings(max_examples=300, deadline=None)
@given(expressions, st.sampled_from(list(JobStatus)))
def test_conditions_are_booleans_or_expression_errors(expression: str, status: JobStatus) -> None:
    with contextlib.suppress(ExpressionError):
        assert evaluate_condition(expression, CONTEXTS, status) in (True, False)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(alphabet="01xo.e+- aAbB", max_size=6),
)


@given(scalars, scalars)
def test_equality_is_symmetric_and_ordering_consistent(a: Any, b: Any) -> None:
    assert equals(a, b) == equals(b, a)
    assert less_than(a, b) == greater_than(b, a)
    assert not (less_than(a, b) and greater_than(a, b))
    if less_than(a, b) or greater_than(a, b):
        assert not equals(a, b)


# (15 digits of the very largest doubles round past the largest double: infinity)
@given(st.floats(min_value=-1e308, max_value=1e308))
def test_number_strings_round_trip_to_fifteen_digits(x: float) -> None:
    text = format_number(x)
    back = parse_number(text)
    assert back == x or math.isclose(back, x, rel_tol=1e-14)
    assert to_string(x) == text
