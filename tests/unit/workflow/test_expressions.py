"""Expression cases checked against GitHub's documented results.

Sections cite docs.github.com/en/actions/reference/workflows-and-actions/expressions (EXPR#...)
and .../contexts (CTX#...). Where the documentation is silent, the case pins the behaviour of
GitHub's own evaluator (RUNNER: actions/runner src/Sdk/Expressions, file named).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from cargohold.workflow.expr_values import Kind, kind_of
from cargohold.workflow.expressions import evaluate

INF, NAN = math.inf, math.nan

CONTEXTS: dict[str, Any] = {
    "github": {
        "ref": "refs/heads/main",
        "ref_name": "main",
        "repository": "acme/shop",
        "run_number": 7,
        "event_name": "release",
        "event": {
            "release": {"tag_name": "v0.0.10"},
            "issue": {"labels": [{"name": "bug"}, {"name": "help wanted"}]},
        },
    },
    "env": {"NUMBER": 5, "HUGE": 2**70, "TEXT": 'line\nbreak\t"q"\x01\u2028', "EMPTY": ""},
    "job": {"status": "success"},
    "steps": {"build": {"outputs": {"digest": "sha256:abc"}, "outcome": "success"}},
    "fruits": [
        {"name": "apple", "quantity": 1},
        {"name": "orange", "quantity": 2},
        {"name": "pear", "quantity": 1},
    ],
    "vegetables": {
        "scallions": {"colors": ["green", "white", "red"], "ediblePortions": ["roots", "stalks"]},
        "beets": {"colors": ["purple", "red"], "ediblePortions": ["roots", "stems", "leaves"]},
        "artichokes": {"colors": ["green", "purple"], "ediblePortions": ["hearts", "stems"]},
    },
}


def same(actual: Any, expected: Any) -> bool:
    """Equal in kind and value; NaN equals NaN; nested arrays and objects compared deeply."""
    if kind_of(actual) is not kind_of(expected):
        return False
    kind = kind_of(actual)
    if kind is Kind.NUMBER:
        a, b = float(actual), float(expected)
        return (math.isnan(a) and math.isnan(b)) or a == b
    if kind is Kind.ARRAY:
        return len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(actual, Mapping):
        return list(actual) == list(expected) and all(same(actual[k], expected[k]) for k in actual)
    return bool(actual == expected)


LITERALS = [
    # EXPR#literals: "boolean: true or false", "null", "number: any number format supported by JSON"
    ("null", None),
    ("true", True),
    ("false", False),
    ("711", 711),
    ("-9.2", -9.2),
    ("0xff", 255),
    ("-2.99e-2", -0.0299),
    ("'It''s open source!'", "It's open source!"),
    ("'Mona the Octocat'", "Mona the Octocat"),
    ("''", ""),
    ("''''", "'"),
    ("'a'' ''b'", "a' 'b"),
    ("'日本語'", "日本語"),
    ("'}}'", "}}"),
    ("'${{ x }}'", "${{ x }}"),
    ("'\"'", '"'),
    # RUNNER ExpressionUtility.ParseNumber / LexicalAnalyzer: every form .NET and it accept
    ("1e3", 1000),
    ("1E3", 1000),
    ("1e+3", 1000),
    ("1.", 1),
    (".5", 0.5),
    ("+1", 1),
    ("-0", 0),
    ("00012", 12),
    ("0xFF", 255),
    ("0x0", 0),
    ("0o17", 15),
    ("0o0", 0),
    ("0x7fffffff", 2147483647),
    ("0xffffffff", -1),
    ("0x80000000", -2147483648),
    ("0o37777777777", -1),
    ("Infinity", INF),
    ("-Infinity", -INF),
    ("+Infinity", INF),
    ("-infinity", -INF),
    ("NaN", NAN),
    ("1e400", INF),
    ("  1  ", 1),
    ("\t\n1\r\n", 1),
    ("\u3000true\xa0", True),
]

OPERATORS = [
    # EXPR#operators: ( ) grouping, ! not, < <= > >= == != && ||
    ("(1)", 1),
    ("((true))", True),
    ("!true", False),
    ("!false", True),
    ("!!'a'", True),
    ("!1", False),
    ("!!1", True),
    ("!(1 == 2)", True),
    # "!" binds tighter than comparisons: (!0) > 1 is true > 1, i.e. 1 > 1 (RUNNER Token.cs)
    ("!0 > 1", False),
    ("1 < 2 == true", True),
    ("1 == 1 == true", True),
    ("'a' == 'a' != false", True),
    # && binds tighter than ||
    ("true || false && false", True),
    ("false && false || true", True),
    ("(true || false) && false", False),
    ("2 > 1 && 'x'", "x"),
    # EXPR#operators: "&& and || ... return the value of an operand" (ternary-like use)
    ("'a' && 'b'", "b"),
    ("'' && 'b'", ""),
    ("0 && 'b'", 0),
    ("null && 'b'", None),
    ("'a' || 'b'", "a"),
    ("null || 'x'", "x"),
    ("null || 0", 0),
    ("null || ''", ""),
    ("false || null", None),
    ("1 && 2 && 3", 3),
    ("1 && 0 && 3", 0),
    ("1 && (2 && 3)", 3),
    ("0 || (0 || 5)", 5),
    ("github.ref == 'refs/heads/main' && 'main' || 'other'", "main"),
    ("github.ref == 'refs/heads/dev' && 'dev' || 'other'", "other"),
    # short-circuit: the right side is not evaluated, so its error never happens
    ("false && fromJSON('not json')", False),
    ("true || fromJSON('not json')", True),
    ("'' && fromJSON('not json')", ""),
]

FALSY = [
    # EXPR#operators / truthiness: false, 0, -0, "", null and NaN are falsy; the rest truthy
    ("!null", True),
    ("!''", True),
    ("!0", True),
    ("!-0", True),
    ("!NaN", True),
    ("!false", True),
    ("!'false'", False),
    ("!'0'", False),
    ("!' '", False),
    ("!fromJSON('[]')", False),
    ("!fromJSON('{}')", False),
    ("!-1", False),
    ("!Infinity", False),
    ("!0.0001", False),
    ("!github", False),
    ("!env.EMPTY", True),
]

EQUALITY = [
    # EXPR#operators: "If the types do not match, GitHub coerces the type to a number":
    # null -> 0, true -> 1, false -> 0, strings parsed (empty -> 0, else NaN), arrays and
    # objects -> NaN; strings compare ignoring case; objects equal only to themselves.
    ("null == 0", True),
    ("null == false", True),
    ("null == null", True),
    ("null == ''", True),
    ("null != ''", False),
    ("true == 1", True),
    ("false == 0", True),
    ("true == 2", False),
    ("'' == 0", True),
    ("'' == false", True),
    ("'1' == 1", True),
    ("' 1 ' == 1", True),
    ("'1.0' == 1", True),
    ("'1e2' == 100", True),
    ("'0x10' == 16", True),
    ("'0o10' == 8", True),
    ("'0b1' == 1", False),
    ("'1_000' == 1000", False),
    ("'\u0661' == 1", False),  # ARABIC-INDIC DIGIT ONE is not a number
    ("'abc' == 0", False),
    ("'abc' == NaN", False),
    ("'Infinity' == Infinity", True),
    ("'infinity' == Infinity", True),
    ("'-infinity' == -Infinity", True),
    ("'true' == true", False),
    ("'1' == true", True),
    ("'0' == false", True),
    ("NaN == NaN", False),
    ("NaN != NaN", True),
    ("0 == -0", True),
    ("1 == 1.0", True),
    ("0.1 == 0.10", True),
    ("Infinity == Infinity", True),
    ("'A' == 'a'", True),
    ("'ABC' != 'abc'", False),
    ("'é' == 'É'", True),
    ("'ß' == 'SS'", False),
    ("'a' == 'a '", False),
    ("fromJSON('[]') == fromJSON('[]')", False),
    ("fromJSON('{}') == fromJSON('{}')", False),
    ("github == github", True),
    ("github.event == github['event']", True),
    ("github != github", False),
    ("fromJSON('{}') == 'Object'", False),
    ("fromJSON('[]') == 0", False),
    ("fromJSON('[]') == false", False),
    ("fromJSON('[]') == null", False),
    ("fromJSON('[]') != ''", True),
    ("env.NUMBER == 5", True),
    ("env.NUMBER == '5'", True),
    ("github.run_number == 7.0", True),
]

COMPARISON = [
    # EXPR#operators: relational comparisons; NaN on either side is always false; strings
    # ignore case (RUNNER EvaluationResult.cs: OrdinalIgnoreCase, i.e. upper-cased code units)
    ("1 < 2", True),
    ("2 <= 2", True),
    ("3 > 2", True),
    ("2 >= 3", False),
    ("2 < 1", False),
    ("'a' < 'B'", True),
    ("'A' < '['", True),
    ("'a' < '['", True),
    ("'_' < 'a'", False),
    ("'abc' < 'abd'", True),
    ("'ab' < 'abc'", True),
    ("'' < 'a'", True),
    ("'b' > 'A'", True),
    ("'B' >= 'b'", True),
    ("'b' <= 'B'", True),
    ("'1' < 2", True),
    ("'10' > 9", True),
    ("'a' < 1", False),
    ("'a' > 1", False),
    ("'a' >= 1", False),
    ("NaN < 1", False),
    ("NaN > 1", False),
    ("NaN >= NaN", False),
    ("NaN <= Infinity", False),
    ("null < 1", True),
    ("null >= 0", True),
    ("null > null", False),
    ("null >= null", True),
    ("null <= false", True),
    ("true > false", True),
    ("false < true", True),
    ("true > true", False),
    ("true >= 1", True),
    ("true > 0", True),
    ("fromJSON('[]') < 1", False),
    ("fromJSON('{}') >= fromJSON('{}')", False),
    ("github >= github", True),
    ("github > github", False),
    ("-Infinity < -1e308", True),
    ("'\U0001f600' > '\uffff'", False),
]

PROPERTIES = [
    # CTX#about-contexts: "property dereference syntax" github.sha, or index syntax github['sha']
    ("github.ref", "refs/heads/main"),
    ("github['ref']", "refs/heads/main"),
    ("GitHub.Ref", "refs/heads/main"),
    ("github['REF']", "refs/heads/main"),
    ("(github).ref", "refs/heads/main"),
    ("github.event.release.tag_name", "v0.0.10"),
    ("github.event['release'].tag_name", "v0.0.10"),
    ("steps.build.outputs.digest", "sha256:abc"),
    ("steps.build.outcome == 'success'", True),
    # CTX#about-contexts: a property that does not exist evaluates to an empty string when
    # converted (it is null)
    ("github.nothing", None),
    ("github.nothing.deeper", None),
    ("steps.missing.outputs.digest", None),
    ("github.ref.length", None),
    ("github.event.release.tag_name[0]", None),
    ("github.event.issue.labels[0].name", "bug"),
    ("github.event.issue.labels[1]['name']", "help wanted"),
    ("github.event.issue.labels[2]", None),
    # RUNNER Operators/Index.cs: array indexes coerce to numbers, floor, and miss below 0
    ("github.event.issue.labels[-1]", None),
    ("github.event.issue.labels['1'].name", "help wanted"),
    ("github.event.issue.labels[1.9].name", "help wanted"),
    ("github.event.issue.labels[true].name", "help wanted"),
    ("github.event.issue.labels[null].name", "bug"),
    ("github.event.issue.labels['x']", None),
    ("github.event.issue.labels[NaN]", None),
    ("github.event.issue.labels[Infinity]", None),
    ("github.event.issue.labels[fromJSON('[]')]", None),
    # object keys are the index converted to a string
    ('fromJSON(\'{"1": "one"}\')[1]', "one"),
    ("fromJSON('{\"true\": 1}')[true]", 1),
    ("fromJSON('{\"\": 5}')[null]", 5),
    ("fromJSON('{\"a\": 5}')[fromJSON('[]')]", None),
    ("fromJSON('{\"A\": 1}').a", 1),
    ("fromJSON('{\"null\": 2}').null", 2),
    ("fromJSON('{\"a-b\": 3}').a-b", 3),
    ("fromJSON('[10, 20]')[1]", 20),
    ("env.NUMBER", 5),
]

FILTERS = [
    # EXPR#object-filters: "fruits.*.name returns the array [ 'apple', 'orange', 'pear' ]"
    ("fruits.*.name", ["apple", "orange", "pear"]),
    ("fruits[*].name", ["apple", "orange", "pear"]),
    ("fruits.*.quantity", [1, 2, 1]),
    # EXPR#object-filters: vegetables.*.ediblePortions (order: the object's own)
    (
        "vegetables.*.ediblePortions",
        [["roots", "stalks"], ["roots", "stems", "leaves"], ["hearts", "stems"]],
    ),
    (
        "vegetables.*.ediblePortions.*",
        ["roots", "stalks", "roots", "stems", "leaves", "hearts", "stems"],
    ),
    ("vegetables.*.colors[0]", ["green", "purple", "green"]),
    ("vegetables.*.colors[5]", []),
    ("fruits.*.missing", []),
    ("fruits.*[0]", []),
    ("github.ref.*", []),
    ("github.nothing.*", []),
    ("github.nothing[*].x", []),
    ("fromJSON('[[1,2],[3]]').*[0]", [1, 3]),
    ("fromJSON('[[1,2],[3]]')[*][1]", [2]),
    ("fromJSON('[1,\"a\",null]').*.x", []),
    ("fromJSON('[1,\"a\",null]').*", [1, "a", None]),
    ('fromJSON(\'[{"a":1},{"b":2},{"A":3}]\').*.a', [1, 3]),
    ('fromJSON(\'{"x":{"y":1},"z":[2]}\').*.*', [1, 2]),
    ('fromJSON(\'[{"a":[1,2]},{"a":[3]}]\').*.a[1]', [2]),
    ("fromJSON('[{\"a\":1}]').*[fromJSON('[]')]", []),
    ("fruits.* == fruits.*", False),
    ("fromJSON('{\"*\": 1}')[* == '*']", None),
    # EXPR#contains: contains(github.event.issue.labels.*.name, 'bug')
    ("contains(github.event.issue.labels.*.name, 'bug')", True),
    ("contains(github.event.issue.labels.*.name, 'BUG')", True),
    # EXPR#join: join(github.event.issue.labels.*.name, ', ') returns 'bug, help wanted'
    ("join(github.event.issue.labels.*.name, ', ')", "bug, help wanted"),
]

CONTAINS = [
    # EXPR#contains: contains('Hello world', 'llo') returns true; case-insensitive; arrays by item
    ("contains('Hello world', 'llo')", True),
    ("contains('Hello world', 'LLO')", True),
    ("contains('Hello world', 'xyz')", False),
    ("contains('Hello', '')", True),
    ("contains('', 'a')", False),
    ("contains(null, '')", True),
    ("contains(123, 2)", True),
    ("contains(1.5, '.')", True),
    ("contains(true, 'ru')", True),
    ("contains(fromJSON('[\"push\", \"pull_request\"]'), 'push')", True),
    ("contains(fromJSON('[\"push\"]'), 'PUSH')", True),
    ("contains(fromJSON('[\"push\"]'), 'pus')", False),
    ("contains(fromJSON('[1,2]'), '2')", True),
    ("contains(fromJSON('[1,2]'), 3)", False),
    ("contains(fromJSON('[]'), null)", False),
    ("contains(fromJSON('[null]'), null)", True),
    ("contains(fromJSON('[0]'), false)", True),
    ("contains(fromJSON('[[1]]'), fromJSON('[1]'))", False),
    ("contains(fromJSON('{\"a\":1}'), 'a')", False),
    ("contains('Object', fromJSON('{}'))", False),
    # RUNNER Functions/Contains.cs: the second argument is only evaluated when it can matter
    ("contains(fromJSON('{}'), fromJSON('not json'))", False),
    ("contains(fromJSON('[]'), fromJSON('not json'))", False),
    ("Contains('a', 'A')", True),
]

STARTS_ENDS = [
    # EXPR#startswith / EXPR#endswith: case-insensitive, values converted to strings
    ("startsWith('Hello world', 'He')", True),
    ("startsWith('Hello world', 'he')", True),
    ("startsWith('Hello world', 'world')", False),
    ("startsWith('Hello', '')", True),
    ("startsWith(12, 1)", True),
    ("startsWith(null, 'a')", False),
    ("startsWith(fromJSON('[\"a\"]'), 'a')", False),
    ("startsWith('a', fromJSON('[]'))", False),
    ("startsWith(github.ref, 'refs/tags/')", False),
    ("STARTSWITH('ab', 'A')", True),
    ("endsWith('Hello world', 'ld')", True),
    ("endsWith('Hello world', 'LD')", True),
    ("endsWith('Hello world', 'He')", False),
    ("endsWith(1.5, '.5')", True),
    ("endsWith(null, '')", True),
    ("endsWith(true, 'E')", True),
    ("endsWith(github, 't')", False),
    ("endsWith('Object', github)", False),
]

FORMAT = [
    # EXPR#format: format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat') -> 'Hello Mona the Octocat'
    ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
    # EXPR#format: "{{Hello {0} {1} {2}!}}" -> "{Hello Mona the Octocat!}"
    ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
    ("format('{0}{0}', 'a')", "aa"),
    ("format('{1}{0}', 'a', 'b')", "ba"),
    ("format('no args')", "no args"),
    ("format('}}{{')", "}{"),
    ("format('{{0}}', 'a')", "{0}"),
    ("format('{{{0}}}', 'a')", "{a}"),
    ("format('{00}', 'a')", "a"),
    ("format('{0:}', 'a')", "a"),
    ("format('', 'a')", ""),
    ("format(1)", "1"),
    ("format('{0}', 'a', 'unused')", "a"),
    # EXPR#functions: values are converted with null -> '', booleans, numbers; arrays and
    # objects are "not converted" (RUNNER EvaluationResult.ConvertToString: 'Array'/'Object')
    ("format('{0}', null)", ""),
    ("format('{0}', true)", "true"),
    ("format('{0}', false)", "false"),
    ("format('{0}', fromJSON('[]'))", "Array"),
    ("format('{0}', github)", "Object"),
    # RUNNER Functions/Format.cs: only the arguments a placeholder uses are evaluated
    ("format('{0}', 'a', fromJSON('not json'))", "a"),
    ("FORMAT('{0}', 1)", "1"),
]

NUMBER_STRINGS = [
    # EXPR#functions: "Number: Decimal format, exponential for large numbers" (RUNNER: .NET
    # Double.ToString("G15"), -0 printed as 0)
    ("1", "1"),
    ("1.5", "1.5"),
    ("-9.2", "-9.2"),
    ("0.1", "0.1"),
    ("100", "100"),
    ("0xff", "255"),
    ("-0", "0"),
    ("1e14", "100000000000000"),
    ("1e15", "1E+15"),
    ("123456789012345", "123456789012345"),
    ("1234567890123456", "1.23456789012346E+15"),
    ("0.0001", "0.0001"),
    ("0.00001", "1E-05"),
    ("1.5e-7", "1.5E-07"),
    ("1e300", "1E+300"),
    ("2147483648", "2147483648"),
    ("0.1 ", "0.1"),
    ("fromJSON('0.3333333333333333')", "0.333333333333333"),
    ("fromJSON('2.675')", "2.675"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("env.NUMBER", "5"),
    ("env.HUGE", "1.18059162071741E+21"),
    ("github.run_number", "7"),
]

JOIN = [
    # EXPR#join: join(array, optionalSeparator), default separator ','; a string is returned as is
    ('join(fromJSON(\'["a","b"]\'))', "a,b"),
    ("join(fromJSON('[\"a\",\"b\"]'), ', ')", "a, b"),
    ("join(fromJSON('[1, true, null, 1.5]'), '-')", "1-true--1.5"),
    ("join(fromJSON('[[1],{}]'))", "Array,Object"),
    ("join('abc')", "abc"),
    ("join('abc', '-')", "abc"),
    ("join(1)", "1"),
    ("join(null)", ""),
    ("join(fromJSON('{}'))", ""),
    ("join(fromJSON('[]'))", ""),
    ("join(fromJSON('[\"a\",\"b\"]'), fromJSON('[]'))", "a,b"),
    ('join(fromJSON(\'["a","b"]\'), 1)', "a1b"),
    ('join(fromJSON(\'["a","b"]\'), null)', "ab"),
    # RUNNER Functions/Join.cs: the separator is evaluated only with two items or more
    ("join(fromJSON('[\"a\"]'), fromJSON('not json'))", "a"),
]

TO_JSON = [
    # EXPR#tojson: toJSON(job) returns { "status": "success" } pretty-printed
    ("toJSON(job)", '{\n  "status": "success"\n}'),
    ("toJSON(null)", "null"),
    ("toJSON(true)", "true"),
    ("toJSON(1)", "1"),
    ("toJSON(1.5)", "1.5"),
    ("toJSON(1e21)", "1E+21"),
    ("toJSON('a\"b\\\\c')", '"a\\"b\\\\\\\\c"'),
    ("toJSON('é')", '"é"'),
    ("toJSON(env.TEXT)", '"line\\nbreak\\t\\"q\\"\\u0001\\u2028"'),
    ("toJSON(fromJSON('[]'))", "[]"),
    ("toJSON(fromJSON('{}'))", "{}"),
    ("toJSON(fromJSON('[1,[2,{}]]'))", "[\n  1,\n  [\n    2,\n    {}\n  ]\n]"),
    (
        'toJSON(fromJSON(\'{"a":{"b":[]},"c":null}\'))',
        '{\n  "a": {\n    "b": []\n  },\n  "c": null\n}',
    ),
    ("toJSON(fruits.*.name)", '[\n  "apple",\n  "orange",\n  "pear"\n]'),
    (
        "toJSON(steps)",
        '{\n  "build": {\n    "outputs": {\n      "digest": "sha256:abc"\n    },\n'
        '    "outcome": "success"\n  }\n}',
    ),
    ("ToJson('x')", '"x"'),
]

FROM_JSON = [
    # EXPR#fromjson: "Returns a JSON object or JSON data type for the value"
    ("fromJSON('true')", True),
    ("fromJSON('1')", 1),
    ("fromJSON('-1.5e2')", -150),
    ("fromJSON('\"a\"')", "a"),
    ("fromJSON('null')", None),
    ("fromJSON('[1,2]')", [1, 2]),
    ("fromJSON('{\"a\":[true]}')", {"a": [True]}),
    ("fromJSON(' 5 ')", 5),
    ("fromJSON('1e400')", INF),
    ("fromJSON('\"\\u00e9\"')", "é"),
    ("fromJSON(toJSON(fruits))[1].name", "orange"),
    ("fromJSON(format('[{0}]', 7))[0]", 7),
    ("fromjson('[]')", []),
]

CASE = [
    # EXPR#case: case(pred1, val1, pred2, val2, ..., default)
    ("case(true, 'first', 'default')", "first"),
    ("case(false, 'first', 'default')", "default"),
    ("case(false, 'a', true, 'b', 'c')", "b"),
    ("case(false, 'a', false, 'b', 'c')", "c"),
    ("case(true, 'a', true, 'b', 'c')", "a"),
    ("case(1 == 1, 'equal', 'not equal')", "equal"),
    ("case(github.ref == 'refs/heads/main', 'prod', 'dev')", "prod"),
    ("case(true, fromJSON('[1]'), 0)", [1]),
    ("case(false, 0, null)", None),
    # RUNNER Functions/Case.cs: values after the match are never evaluated
    ("case(true, 'a', fromJSON('not json'))", "a"),
    ("case(false, fromJSON('not json'), 'c')", "c"),
    ("CASE(true, 1, 2)", 1),
]

ALL_CASES = (
    LITERALS
    + OPERATORS
    + FALSY
    + EQUALITY
    + COMPARISON
    + PROPERTIES
    + FILTERS
    + CONTAINS
    + STARTS_ENDS
    + FORMAT
    + JOIN
    + TO_JSON
    + FROM_JSON
    + CASE
)


@pytest.mark.parametrize(("expression", "expected"), ALL_CASES)
def test_expression_value(expression: str, expected: Any) -> None:
    assert same(evaluate(expression, CONTEXTS), expected)


@pytest.mark.parametrize(("expression", "expected"), NUMBER_STRINGS)
def test_number_to_string(expression: str, expected: str) -> None:
    # format('{0}', x) converts exactly as GitHub converts a number to a string
    assert evaluate(f"format('{{0}}', {expression})", CONTEXTS) == expected


def test_case_count() -> None:
    assert len(ALL_CASES) + len(NUMBER_STRINGS) >= 250


def test_contexts_are_not_mutated() -> None:
    before = repr(CONTEXTS)
    evaluate("toJSON(fruits.*.name) && vegetables.*.colors[0]", CONTEXTS)
    assert repr(CONTEXTS) == before


def test_filter_result_is_a_new_list() -> None:
    result = evaluate("fruits.*", CONTEXTS)
    assert result == CONTEXTS["fruits"]
    assert result is not CONTEXTS["fruits"]


def test_objects_keep_identity() -> None:
    assert evaluate("github.event", CONTEXTS) is CONTEXTS["github"]["event"]


def test_exact_key_wins_over_other_case() -> None:
    contexts = {"o": {"Key": 1, "key": 2}}
    assert evaluate("o.key", contexts) == 2
    assert evaluate("o.KEY", contexts) == 1


def test_tuples_are_arrays_and_unknown_objects_are_objects() -> None:
    contexts = {"t": (1, 2), "o": object()}
    assert evaluate("t[1]", contexts) == 2
    assert evaluate("join(t, '+')", contexts) == "1+2"
    assert evaluate("o.x", contexts) is None
    assert evaluate("format('{0}', o)", contexts) == "Object"
    assert evaluate("toJSON(o)", contexts) == "{}"
    assert evaluate("o == o", contexts) is True


def test_context_names_are_case_insensitive() -> None:
    assert evaluate("ENV.number", CONTEXTS) == 5


def test_huge_int_index_and_numbers() -> None:
    contexts = {"a": [1], "big": 10**400, "neg": -(10**400)}
    assert evaluate("big", contexts) == 10**400
    assert evaluate("format('{0}', big)", contexts) == "Infinity"
    assert evaluate("format('{0}', neg)", contexts) == "-Infinity"
    assert evaluate("a[big]", contexts) is None
    assert evaluate("a[2147483648]", contexts) is None


def test_deep_from_json_values_become_strings() -> None:
    # RUNNER Data/JTokenExtensions.cs: values nested 100 deep become their text
    deep = "[" * 99 + "1" + "]" * 99
    value = evaluate(f"fromJSON('{deep}')", {})
    for _ in range(98):
        value = value[0]
    assert value == ["1"]
    nested = evaluate(
        "fromJSON('" + "[" * 99 + '[2, true], true, null, {}, "s"]' + "]" * 98 + "')", {}
    )
    for _ in range(98):
        nested = nested[0]
    assert nested == ["[\n  2,\n  true\n]", "True", "", "{}", "s"]
