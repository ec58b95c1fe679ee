"""Malformed expressions and failing functions: typed errors with the expression and position.

Messages follow GitHub's (RUNNER: actions/runner src/Sdk/Expressions/ParseException.cs and
Resources/ExpressionResources.resx); EXPR#literals says double quotes "will throw an error".
"""

from __future__ import annotations

import pytest

from cargohold.workflow.expressions import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    evaluate,
    parse,
)

CONTEXTS = {"github": {"ref": "refs/heads/main"}, "a": 1}

SYNTAX = [
    # (expression, message prefix, 0-based position or None)
    ('"double"', "Unexpected symbol: '\"double\"'", 0),
    ("'unclosed", "Unexpected symbol: ''unclosed'", 0),
    ("'a' 'b'", "Unexpected symbol: ''b''", 4),
    ("1 +", "Unexpected symbol: '+'", 2),
    ("- 1", "Unexpected symbol: '-'", 0),
    ("0.1+0", "Unexpected symbol: '0.1+0'", 0),
    ("1.2.3", "Unexpected symbol: '1.2.3'", 0),
    ("0b11", "Unexpected symbol: '0b11'", 0),
    ("0X10", "Unexpected symbol: '0X10'", 0),
    ("0x", "Unexpected symbol: '0x'", 0),
    ("0xg", "Unexpected symbol: '0xg'", 0),
    ("0x100000000", "Unexpected symbol: '0x100000000'", 0),
    ("0o8", "Unexpected symbol: '0o8'", 0),
    ("-NaN", "Unexpected symbol: '-NaN'", 0),
    ("1e", "Unexpected symbol: '1e'", 0),
    ("a a", "Unexpected symbol: 'a'", 2),
    ("github.", "Unexpected end of expression: '.'", 6),
    ("github..ref", "Unexpected symbol: '.'", 7),
    ("github.[0]", "Unexpected symbol: '['", 7),
    ("github.5", "Unexpected symbol: '5'", 7),
    ("github.*ref", "Unexpected symbol: 'ref'", 8),
    ("github.ref(1)", "Unexpected symbol: '('", 10),
    ("[0]", "Unexpected symbol: '['", 0),
    ("github[]", "Unexpected symbol: ']'", 7),
    ("github[0", "Unexpected end of expression: '0'", 7),
    ("github]", "Unexpected symbol: ']'", 6),
    ("()", "Unexpected symbol: ')'", 1),
    ("(1", "Unexpected end of expression: '1'", 1),
    ("((1)", "Unexpected end of expression: ')'", 3),
    ("1)", "Unexpected symbol: ')'", 1),
    ("(1)(2)", "Unexpected symbol: '('", 3),
    ("!", "Unexpected end of expression: '!'", 0),
    ("==", "Unexpected symbol: '=='", 0),
    ("1 ==", "Unexpected end of expression: '=='", 2),
    ("1 = 1", "Unexpected symbol: '='", 2),
    ("1 =! 1", "Unexpected symbol: '='", 2),
    ("1 === 1", "Unexpected symbol: '='", 4),
    ("1 & 2", "Unexpected symbol: '&'", 2),
    ("1 | 2", "Unexpected symbol: '|'", 2),
    ("1 !", "Unexpected symbol: '!'", 2),
    ("a'b'", "Unexpected symbol: 'a'b''", 0),
    ("*", "Unexpected symbol: '*'", 0),
    ("github*", "Unexpected symbol: 'github*'", 0),
    ("github[*", "Unexpected end of expression: '*'", 7),
    ("true.x", "Unexpected symbol: '.'", 4),
    ("'a'[0]", "Unexpected symbol: '['", 3),
    ("null(1)", "Unexpected symbol: '('", 4),
    ("1,2", "Unexpected symbol: ','", 1),
    ("github[0,1]", "Unexpected symbol: ','", 8),
    ("format(,1)", "Unexpected symbol: ','", 7),
    ("format(1,)", "Unexpected symbol: ')'", 9),
    ("format((1,2))", "Unexpected symbol: ','", 9),
    ("format(1", "Unexpected end of expression: '1'", 7),
    ("format(", "Unexpected end of expression: '('", 6),
    ("fromJSON('[1]')(0)", "Unexpected symbol: '('", 15),
    # EXPR#literals: only lower-case true/false/null are literals; other names are contexts
    ("TRUE", "Unrecognized named-value: 'TRUE'", 0),
    ("Null", "Unrecognized named-value: 'Null'", 0),
    ("nan", "Unrecognized named-value: 'nan'", 0),
    ("infinity", "Unrecognized named-value: 'infinity'", 0),
    ("nope.x", "Unrecognized named-value: 'nope'", 0),
    ("1 == matrix.os", "Unrecognized named-value: 'matrix'", 5),
    ("unknownfn()", "Unrecognized function: 'unknownfn'", 0),
    ("github (1)", "Unrecognized function: 'github'", 0),
    # hashFiles needs a workspace; status functions exist only in if: conditions
    ("hashFiles('x')", "Unrecognized function: 'hashFiles'", 0),
    ("success()", "Unrecognized function: 'success'", 0),
    ("always()", "Unrecognized function: 'always'", 0),
    # argument counts are checked when the call closes; the position is its "("
    ("contains('a')", "Too few parameters supplied: '('", 8),
    ("contains('a','b','c')", "Too many parameters supplied: '('", 8),
    ("startsWith()", "Too few parameters supplied: '('", 10),
    ("endsWith(1,2,3)", "Too many parameters supplied: '('", 8),
    ("format()", "Too few parameters supplied: '('", 6),
    ("join()", "Too few parameters supplied: '('", 4),
    ("join(1,2,3)", "Too many parameters supplied: '('", 4),
    ("toJSON()", "Too few parameters supplied: '('", 6),
    ("toJSON(1,2)", "Too many parameters supplied: '('", 6),
    ("fromJSON()", "Too few parameters supplied: '('", 8),
    # EXPR#case: an odd number of arguments, at least three
    ("case()", "Too few parameters supplied: '('", 4),
    ("case(true, 1)", "Too few parameters supplied: '('", 4),
    ("case(true, 1, false, 2)", "Even number of parameters supplied", 4),
    # errors come token by token: the first problem wins
    ("unknownfn(1) && &&", "Unrecognized function: 'unknownfn'", 0),
    ("contains(1) && nope", "Too few parameters supplied: '('", 8),
    ('nope && "x"', "Unrecognized named-value: 'nope'", 0),
    ('"x" && nope', "Unexpected symbol: '\"x\"'", 0),
]


@pytest.mark.parametrize(("expression", "message", "position"), SYNTAX)
def test_syntax_error(expression: str, message: str, position: int | None) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        evaluate(expression, CONTEXTS)
    assert caught.value.reason.startswith(message)
    assert caught.value.position == position
    assert caught.value.expression == expression
    assert str(caught.value).endswith(f"within expression: {expression}")


@pytest.mark.parametrize("expression", ["", "   ", "\n\t"])
def test_empty_expression(expression: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="An expression was expected"):
        evaluate(expression, CONTEXTS)
    assert parse(expression).root is None
    with pytest.raises(ExpressionSyntaxError, match="An expression was expected"):
        parse(expression).evaluate(CONTEXTS)


def test_max_length() -> None:
    # RUNNER ExpressionConstants.MaxLength = 21000 (UTF-16 code units)
    ok = "'" + "x" * 20998 + "'"
    assert evaluate(ok, {}) == "x" * 20998
    with pytest.raises(ExpressionSyntaxError, match="Exceeded max expression length 21000"):
        evaluate(ok + " ", {})
    astral = "'" + "\U0001f600" * 10499 + "'"  # two code units each: 21000 in all
    assert len(evaluate(astral, {})) == 10499
    with pytest.raises(ExpressionSyntaxError) as caught:
        evaluate("'" + "\U0001f600" * 10500 + "'", {})
    assert caught.value.position is None
    assert "in expression:" in str(caught.value)


def test_max_depth() -> None:
    # RUNNER ExpressionConstants.MaxDepth = 50 nodes from the root to the deepest leaf
    assert evaluate("!" * 49 + "true", {}) is False
    with pytest.raises(ExpressionSyntaxError, match="Exceeded max expression depth 50"):
        evaluate("!" * 50 + "true", {})
    assert evaluate("github" + ".a" * 49, {"github": {}}) is None
    with pytest.raises(ExpressionSyntaxError, match="depth"):
        evaluate("github" + ".a" * 50, {"github": {}})


def test_parentheses_do_not_add_depth_and_cannot_overflow_the_stack() -> None:
    assert evaluate("(" * 10000 + "1" + ")" * 10000, {}) == 1
    assert evaluate("1" + " && 1" * 3000, {}) == 1  # && is flattened: depth 2
    with pytest.raises(ExpressionSyntaxError, match="depth"):
        evaluate("(" * 10000 + "!" * 60 + "1" + ")" * 10000, {})
    with pytest.raises(ExpressionSyntaxError):
        evaluate("(" * 20000, {})


EVALUATION = [
    # EXPR#format: a placeholder past the arguments, or unbalanced braces, are errors
    (
        "format('{0}')",
        "The following format string references more arguments than were supplied: {0}",
    ),
    ("format('{1}', 'a')", "references more arguments"),
    ("format('{')", "The following format string is invalid: {"),
    ("format('}')", "The following format string is invalid: }"),
    ("format('a}b', 1)", "is invalid"),
    ("format('{a}', 1)", "is invalid"),
    ("format('{0', 1)", "is invalid"),
    ("format('{}', 1)", "is invalid"),
    ("format('{ 0}', 1)", "is invalid"),
    ("format('{256}', 1)", "is invalid"),
    ("format('{\u0661}', 1)", "is invalid"),
    ("format('{0:x', 1)", "is invalid"),
    ("format('{0:}}', 1)", "is invalid"),
    ("format('{0,5}', 1)", "is invalid"),
    ("format('{0:x}', 1)", "The format specifiers 'x' are not valid for objects of type 'Number'"),
    (
        "format('{0:}}}', 'a')",
        "The format specifiers '}' are not valid for objects of type 'String'",
    ),
    ("format('{0:d}', github)", "not valid for objects of type 'Object'"),
    ("format(format('{0}', '{'))", "The following format string is invalid: {"),
    # EXPR#fromjson: the argument must be JSON
    ("fromJSON('')", "Error parsing fromJson"),
    ("fromJSON('{')", "Error parsing fromJson"),
    ("fromJSON('nul')", "Error parsing fromJson"),
    ("fromJSON(null)", "Error parsing fromJson"),
    # EXPR#case: "predicates must evaluate to boolean"
    ("case(1, 'a', 'b')", "case predicate must evaluate to a boolean value"),
    ("case('true', 'a', 'b')", "case predicate must evaluate to a boolean value"),
    ("case(null, 1, 2)", "case predicate"),
    ("case(false, 1, 'x', 2, 3)", "case predicate"),
]


@pytest.mark.parametrize(("expression", "message"), EVALUATION)
def test_evaluation_error(expression: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        evaluate(expression, CONTEXTS)
    assert message in caught.value.reason
    assert caught.value.expression == expression
    assert caught.value.position == 0  # the failing call
    assert isinstance(caught.value, ExpressionError)


def test_evaluation_error_position_is_the_failing_call() -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        evaluate("true && toJSON(fromJSON('x'))", CONTEXTS)
    assert caught.value.position == 15
    assert "Located at position 16 within expression" in str(caught.value)


def test_deeply_nested_json_is_refused_cleanly() -> None:
    with pytest.raises(ExpressionEvaluationError, match="Error parsing fromJson"):
        evaluate("fromJSON('" + "[" * 20000 + "')", {})


def test_to_json_of_too_deep_data_is_refused_cleanly() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ExpressionEvaluationError, match="nested too deeply"):
        evaluate("toJSON(x)", {"x": deep})


def test_results_past_the_memory_limit_are_refused() -> None:
    # 10 MiB, two bytes a character (RUNNER: TemplateMemory, MemoryCounter)
    mib = "x" * (1 << 20)
    five = "format('" + "{0}" * 5 + "', s)"
    assert len(evaluate(five, {"s": mib})) == 5 << 20
    with pytest.raises(ExpressionEvaluationError, match="maximum allowed memory"):
        evaluate(five, {"s": mib + "x"})
    with pytest.raises(ExpressionEvaluationError, match="maximum allowed memory"):
        evaluate("join(a, s)", {"a": [""] * 7, "s": mib})
    with pytest.raises(ExpressionEvaluationError, match="maximum allowed memory"):
        evaluate("toJSON(a)", {"a": [mib] * 6})


HOSTILE = [
    # no Python attribute or dunder is reachable: properties are dictionary keys only
    ("github.__class__", None),
    ("github['__dict__']", None),
    ("toJSON(github.__init__)", "null"),
    ("github.ref.__len__", None),
    ("fromJSON('{\"__proto__\": 1}').__proto__", 1),
    # format placeholders take an index and nothing else
    ("join(fromJSON('[\"{0}\"]'))", "{0}"),
]


@pytest.mark.parametrize(("expression", "expected"), HOSTILE)
def test_hostile_expressions_see_only_data(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXTS) == expected


@pytest.mark.parametrize(
    "expression", ["format('{0.__class__}', github)", "format('{0[ref]}', github)"]
)
def test_format_has_no_attribute_or_item_access(expression: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match="format string is invalid"):
        evaluate(expression, CONTEXTS)
