"""``${{ }}`` in strings (interpolate, split_template), ``if:`` conditions, and ``parse``.

EXPR#about-expressions: "${{ <expression> }}"; EXPR#status-check-functions: "A default
status check of success() is applied unless you include one of these functions";
"if: conditionals ... you can omit the ${{ }} expression syntax". Where GitHub's docs are
silent, RUNNER: actions/runner ObjectTemplating/TemplateReader.cs (templates become a
format() call) and WorkflowTemplateConverter.cs (ConvertToIfCondition).
"""

from __future__ import annotations

from typing import Any

import pytest

from cargohold.workflow.expressions import (
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    JobStatus,
    TemplateExpression,
    evaluate_condition,
    interpolate,
    parse,
    split_template,
)

CONTEXTS: dict[str, Any] = {
    "github": {
        "ref": "refs/heads/main",
        "ref_name": "main",
        "actor": "Octocat",
        "event": {
            "release": {"tag_name": "v0.0.10"},
            "issue": {"labels": [{"name": "bug"}]},
        },
    },
    "env": {"IMAGE": "ghcr.io/acme/shop", "EMPTY": ""},
    "list": [1, 2],
}

INTERPOLATIONS = [
    ("no expressions", "no expressions"),
    ("", ""),
    ("${{ 1 }}", "1"),
    ("a${{ 1 }}b", "a1b"),
    ("${{1}}", "1"),
    ("${{ null }}", ""),
    ("x${{ null }}y", "xy"),
    ("${{ true }}", "true"),
    ("${{ 1.5 }}-${{ 1e15 }}", "1.5-1E+15"),
    ("${{ env.IMAGE }}:${{ github.event.release.tag_name }}", "ghcr.io/acme/shop:v0.0.10"),
    ("${{ env.MISSING }}", ""),
    # arrays and objects inside text become 'Array'/'Object' (RUNNER: format() ConvertToString)
    ("${{ github.event }} ", "Object "),
    ("[${{ list }}]", "[Array]"),
    ("${{ toJSON(list) }}", "[\n  1,\n  2\n]"),
    # }} inside a string literal does not close the expression (RUNNER TemplateReader.cs)
    ("${{ '}}' }}", "}}"),
    ("${{ 'a''}}b' }}", "a'}}b"),
    ("${{ format('{0}}}', 1) }}", "1}"),
    ("${{ '{{ not an expression }}' }}", "{{ not an expression }}"),
    ("$${{ 1 }}", "$1"),
    ("${ { 1 }}", "${ { 1 }}"),
    ("{{ 1 }}", "{{ 1 }}"),
    ("${{ 1 }}${{ 2 }}", "12"),
    ("${{ 1 }} }}", "1 }}"),
    ("it's {0} ${{ 'x' }}", "it's {0} x"),
    ("héllo ${{ github.actor }}", "héllo Octocat"),
    ("line1\n${{ github.ref_name }}\nline3", "line1\nmain\nline3"),
]


@pytest.mark.parametrize(("template", "expected"), INTERPOLATIONS)
def test_interpolate(template: str, expected: str) -> None:
    assert interpolate(template, CONTEXTS) == expected


def test_split_template_reports_offsets() -> None:
    pieces = split_template("a ${{  github.ref }} b ${{'x'}}")
    assert pieces == [
        "a ",
        TemplateExpression("github.ref", offset=7, start=2),
        " b ",
        TemplateExpression("'x'", offset=26, start=23),
    ]


@pytest.mark.parametrize(
    ("template", "message", "offset"),
    [
        ("${{ 1", "The expression is not closed", 0),
        ("ok ${{ '}} }}", "The expression is not closed", 3),
        ("a ${{ }}", "An expression was expected", 2),
        ("a ${{}}", "An expression was expected", 2),
        ("x ${{ nope }}", "Unrecognized named-value: 'nope'", 6),
        ("x ${{ 1 == == }}", "Unexpected symbol: '=='", 11),
        ("x ${{ fromJSON('') }} y", "Error parsing fromJson", 6),
    ],
)
def test_interpolate_errors_carry_the_template_offset(
    template: str, message: str, offset: int
) -> None:
    with pytest.raises((ExpressionSyntaxError, ExpressionEvaluationError)) as caught:
        interpolate(template, CONTEXTS)
    assert message in caught.value.reason
    assert caught.value.offset == offset


@pytest.mark.parametrize(
    ("template", "word"), [("${{ github.event }}", "mapping"), ("${{ list }}", "sequence")]
)
def test_a_whole_value_expression_must_give_a_string(template: str, word: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=f"A {word} was not expected"):
        interpolate(template, CONTEXTS)


def test_text_with_expressions_obeys_the_format_length_limit() -> None:
    # GitHub evaluates the whole string as format('...', ...): long scripts hit 21000
    assert interpolate("x" * 30000, {}) == "x" * 30000
    assert len(interpolate("x" * 20980 + "${{ 1 }}", {})) == 20981
    with pytest.raises(ExpressionSyntaxError, match="Exceeded max expression length 21000"):
        interpolate("x" * 21000 + "${{ 1 }}", {})
    with pytest.raises(ExpressionSyntaxError, match="Exceeded max expression length 21000"):
        interpolate("{" * 10500 + "${{ 1 }}", {})  # braces are doubled in the format string


def test_text_with_expressions_obeys_the_depth_limit() -> None:
    deep = "!" * 49 + "true"
    assert interpolate("${{ " + deep + " }}", {}) == "false"
    with pytest.raises(ExpressionSyntaxError, match="Exceeded max expression depth 50"):
        interpolate("x ${{ " + deep + " }}", {})


CONDITIONS = [
    # (condition, status, expected)
    ("", JobStatus.SUCCESS, True),
    ("", JobStatus.FAILURE, False),
    ("  ", JobStatus.CANCELLED, False),
    (None, JobStatus.SUCCESS, True),
    ("true", JobStatus.SUCCESS, True),
    ("true", JobStatus.FAILURE, False),
    ("false", JobStatus.SUCCESS, False),
    (True, JobStatus.SUCCESS, True),
    (False, JobStatus.SUCCESS, False),
    (1.5, JobStatus.SUCCESS, True),
    (0, JobStatus.SUCCESS, False),
    ("1", JobStatus.SUCCESS, True),
    ("0", JobStatus.SUCCESS, False),
    ("''", JobStatus.SUCCESS, False),
    ("'false'", JobStatus.SUCCESS, True),
    # EXPR#always / EXPR#failure / EXPR#cancelled / EXPR#success
    ("always()", JobStatus.FAILURE, True),
    ("always()", JobStatus.CANCELLED, True),
    ("failure()", JobStatus.FAILURE, True),
    ("failure()", JobStatus.SUCCESS, False),
    ("failure()", JobStatus.CANCELLED, False),
    ("cancelled()", JobStatus.CANCELLED, True),
    ("cancelled()", JobStatus.SUCCESS, False),
    ("success()", JobStatus.SUCCESS, True),
    ("success()", JobStatus.FAILURE, False),
    ("success() || failure()", JobStatus.FAILURE, True),
    ("!cancelled()", JobStatus.FAILURE, True),
    ("ALWAYS()", JobStatus.FAILURE, True),
    ("failure() && github.ref == 'refs/heads/main'", JobStatus.FAILURE, True),
    # EXPR#example-expression-in-an-if-conditional: ${{ }} may be omitted, or used
    ("github.ref == 'refs/heads/main'", JobStatus.SUCCESS, True),
    ("${{ github.ref == 'refs/heads/main' }}", JobStatus.SUCCESS, True),
    ("${{ github.ref == 'refs/heads/dev' }}", JobStatus.SUCCESS, False),
    ("${{ github.ref == 'refs/heads/main' }}", JobStatus.FAILURE, False),
    ("${{ failure() }}", JobStatus.FAILURE, True),
    ("contains(github.event.issue.labels.*.name, 'bug')", JobStatus.SUCCESS, True),
    ("env.EMPTY", JobStatus.SUCCESS, False),
    ("env.IMAGE", JobStatus.SUCCESS, True),
    # text around ${{ }} makes the whole condition a non-empty string, which is truthy
    # (docs warn about this in EXPR#example-expression-in-an-if-conditional)
    ("${{ false }} && true", JobStatus.SUCCESS, True),
    ("${{ github.ref == 'nope' }} ", JobStatus.SUCCESS, True),
    # ${{ 'text' }} becomes the plain string "text", which is then read as an expression
    ("${{ 'true' }}", JobStatus.SUCCESS, True),
    ("${{ 'github.ref == ''refs/heads/main''' }}", JobStatus.SUCCESS, True),
    # the implicit success() && short-circuits: the condition is not evaluated at all
    ("fromJSON('not json')", JobStatus.FAILURE, False),
]


@pytest.mark.parametrize(("condition", "status", "expected"), CONDITIONS)
def test_condition(condition: Any, status: JobStatus, expected: bool) -> None:
    assert evaluate_condition(condition, CONTEXTS, status) is expected


def test_condition_errors() -> None:
    with pytest.raises(ExpressionEvaluationError):
        evaluate_condition("fromJSON('not json')", CONTEXTS, JobStatus.SUCCESS)
    with pytest.raises(ExpressionSyntaxError, match="Unrecognized named-value: 'abc'"):
        evaluate_condition("${{ 'abc' }}", CONTEXTS, JobStatus.SUCCESS)
    with pytest.raises(ExpressionSyntaxError, match="Unrecognized function: 'hashFiles'"):
        evaluate_condition("hashFiles('x') == ''", CONTEXTS, JobStatus.SUCCESS)
    with pytest.raises(ExpressionSyntaxError, match="Too many parameters"):
        evaluate_condition("always(1)", CONTEXTS, JobStatus.SUCCESS)
    with pytest.raises(ExpressionSyntaxError, match="not closed"):
        evaluate_condition("${{ true", CONTEXTS, JobStatus.SUCCESS)


def test_condition_limits_count_the_implicit_success() -> None:
    # GitHub parses "success() && (condition)" again: one level deeper, 15 characters longer
    assert evaluate_condition("!" * 48 + "true", {}, JobStatus.SUCCESS) is True  # 49 + 1
    with pytest.raises(ExpressionSyntaxError, match="depth"):
        evaluate_condition("!" * 49 + "true", {}, JobStatus.SUCCESS)  # 50 + 1
    # with a status function there is no rewrite: 49 "!" under && is depth 51 again
    assert evaluate_condition("always() && " + "!" * 48 + "true", {}, JobStatus.FAILURE) is True
    with pytest.raises(ExpressionSyntaxError, match="depth"):
        evaluate_condition("always() && " + "!" * 49 + "true", {}, JobStatus.FAILURE)
    long = "'" + "x" * 20983 + "'"  # 20985 characters: 21000 once wrapped
    assert evaluate_condition(long, {}, JobStatus.SUCCESS) is True
    with pytest.raises(ExpressionSyntaxError, match="length"):
        evaluate_condition(long + " ", {}, JobStatus.SUCCESS)


def test_step_condition_with_hash_files(tmp_path: Any) -> None:
    (tmp_path / "f").write_text("x")
    workspace = str(tmp_path)
    assert evaluate_condition("hashFiles('nope') == ''", {}, JobStatus.SUCCESS, workspace=workspace)
    assert evaluate_condition("hashFiles('f') != ''", {}, JobStatus.SUCCESS, workspace=workspace)
    assert interpolate("${{ hashFiles('nope') }}", {}, workspace=workspace) == ""


def test_parse_for_linting() -> None:
    assert parse("anything.goes").text == "anything.goes"
    assert not parse("anything.goes").uses_status_function
    with pytest.raises(ExpressionSyntaxError, match="Unrecognized named-value: 'matrix'"):
        parse("matrix.os", contexts=["github", "env"])
    assert parse("GITHUB.ref", contexts=["github"]).evaluate(CONTEXTS) == "refs/heads/main"
    with pytest.raises(ExpressionSyntaxError, match="Unrecognized function: 'success'"):
        parse("success()")
    status = parse("github.ref && (x || !cancelled())", status_functions=True)
    assert status.uses_status_function
    assert status.evaluate({"github": {}, "x": 0}, status=JobStatus.FAILURE) is None
    assert parse("hashFiles('a', 'b')", hash_files=True).root is not None
    with pytest.raises(ExpressionSyntaxError, match="Too few parameters"):
        parse("hashFiles()", hash_files=True)
