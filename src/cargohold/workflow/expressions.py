"""GitHub Actions expressions (``${{ ... }}``), evaluated as GitHub evaluates them.

Public interface::

    evaluate(expression, contexts, *, workspace=None) -> Any
    interpolate(template, contexts, *, workspace=None) -> str
    evaluate_condition(condition, contexts, status, *, workspace=None) -> bool
    parse(expression, *, contexts=None, status_functions=False, hash_files=False) -> Expression
    split_template(template) -> list[str | TemplateExpression]
    to_string(value) -> str
    JobStatus, ExpressionError > ExpressionSyntaxError | ExpressionEvaluationError

``contexts`` maps context names (``github``, ``env``, ``secrets``, ``steps``, ``needs``,
``matrix``, ...) to plain Python data; a context name absent from it is an
"Unrecognized named-value" error, as in GitHub, where each workflow key allows a fixed set of
contexts. ``hashFiles`` exists only when ``workspace`` (the root it hashes under) is given,
the status functions ``success()``, ``failure()``, ``cancelled()``, ``always()`` only in
:func:`evaluate_condition`. Errors carry the expression, the offset of the offending token
and, for templates, ``offset`` into the template, so callers can add file and line.

Reference: docs.github.com, "Evaluate expressions in workflows and actions" and "Contexts
reference"; the corners follow GitHub's runner (``actions/runner`` ``src/Sdk/Expressions``,
``ObjectTemplating/TemplateReader.cs`` for templates, ``WorkflowTemplateConverter.cs`` for
``if``). The pieces live in ``expr_values`` (kinds, coercion, comparison, number format),
``expr_tree``, ``expr_parser``, ``expr_eval``, ``expr_functions`` and ``expr_hashfiles``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cargohold.workflow.expr_errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
)
from cargohold.workflow.expr_eval import Evaluator, FilteredArray, JobStatus
from cargohold.workflow.expr_functions import ARITY, HASHFILES_ARITY, STATUS_ARITY
from cargohold.workflow.expr_parser import MAX_DEPTH, MAX_LENGTH
from cargohold.workflow.expr_parser import parse as _parse_tree
from cargohold.workflow.expr_tree import Call, Node, children
from cargohold.workflow.expr_values import WHITESPACE, format_number, get_property, is_truthy
from cargohold.workflow.expr_values import kind_of as _kind_of
from cargohold.workflow.expr_values import to_string as to_string

__all__ = [
    "Expression",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FilteredArray",
    "JobStatus",
    "TemplateExpression",
    "evaluate",
    "evaluate_condition",
    "interpolate",
    "is_truthy",
    "parse",
    "split_template",
    "to_string",
]

_OPEN, _CLOSE = "${{", "}}"
_STATUS_FUNCTIONS = frozenset(STATUS_ARITY)
_WS = "".join(sorted(WHITESPACE))


@dataclass(frozen=True)
class Expression:
    """A parsed expression; evaluate it as often as needed."""

    text: str
    root: Node | None

    @property
    def uses_status_function(self) -> bool:
        """Whether it calls success(), failure(), cancelled() or always() anywhere."""
        return any(isinstance(n, Call) and n.name in _STATUS_FUNCTIONS for n in _walk(self.root))

    def evaluate(
        self,
        contexts: Mapping[str, Any],
        *,
        status: JobStatus | None = None,
        workspace: str | None = None,
    ) -> Any:
        """Evaluate against ``contexts``; raises :class:`ExpressionEvaluationError`.

        ``status`` must be given when the expression was parsed with status functions,
        ``workspace`` when it was parsed with ``hashFiles``.
        """
        if self.root is None:
            raise ExpressionSyntaxError("An expression was expected", self.text)
        return Evaluator(self.text, contexts, status, workspace).evaluate(self.root)


@dataclass(frozen=True)
class TemplateExpression:
    """One ``${{ ... }}`` of a template: the trimmed expression and where it starts."""

    expression: str
    offset: int  # offset of the expression text (after "${{" and blanks) in the template
    start: int  # offset of "${{"


def parse(
    expression: str,
    *,
    contexts: Iterable[str] | None = None,
    status_functions: bool = False,
    hash_files: bool = False,
) -> Expression:
    """Parse without evaluating (for linting); raises :class:`ExpressionSyntaxError`.

    ``contexts`` lists the available context names (``None``: accept any name).
    """
    if contexts is None:
        return Expression(
            expression, _parse_tree(expression, _functions(status_functions, hash_files), _any)
        )
    names = {name.lower() for name in contexts}
    known = _functions(status_functions, hash_files)
    return Expression(expression, _parse_tree(expression, known, lambda n: n.lower() in names))


def evaluate(expression: str, contexts: Mapping[str, Any], *, workspace: str | None = None) -> Any:
    """Evaluate one expression (the text inside ``${{ }}``) and return its value.

    Numbers come back as Python ``float`` (``int`` values of the contexts as they are),
    arrays as lists, objects as the mappings of the contexts (``fromJSON`` gives dicts).
    Raises :class:`ExpressionSyntaxError` or :class:`ExpressionEvaluationError`.
    """
    parsed = _parse_with(expression, contexts, workspace, status=False)
    if parsed.root is None:
        raise ExpressionSyntaxError("An expression was expected", expression)
    return parsed.evaluate(contexts, workspace=workspace)


def split_template(template: str) -> list[str | TemplateExpression]:
    """Split a string into literal text and ``${{ }}`` expressions, as GitHub's reader does.

    ``}}`` inside a single-quoted string literal does not close an expression. Raises
    :class:`ExpressionSyntaxError` for an unclosed or empty ``${{ }}``.
    """
    pieces: list[str | TemplateExpression] = []
    i = 0
    while (start := template.find(_OPEN, i)) >= 0:
        if start > i:
            pieces.append(template[i:start])
        end = _closing(template, start + len(_OPEN))
        if end < 0:
            raise ExpressionSyntaxError(
                "The expression is not closed. An unescaped ${{ sequence was found, but the "
                "closing }} sequence was not found",
                template,
                start,
            )
        inner = template[start + len(_OPEN) : end - 1]
        text = inner.strip(_WS)
        if not text:
            raise ExpressionSyntaxError("An expression was expected", template, start)
        offset = start + len(_OPEN) + (len(inner) - len(inner.lstrip(_WS)))
        pieces.append(TemplateExpression(text, offset, start))
        i = end + 1
    if i < len(template):
        pieces.append(template[i:])
    return pieces


def interpolate(template: str, contexts: Mapping[str, Any], *, workspace: str | None = None) -> str:
    """Replace each ``${{ expr }}`` in ``template`` with its value converted to a string.

    Conversion is GitHub's: ``null`` -> ``''``, ``true``/``false``, numbers as
    :func:`to_string` formats them, and, when text surrounds the expression, arrays and
    objects as the words ``Array``/``Object`` (GitHub builds ``format()`` here; use
    ``toJSON()`` for JSON). A template that is one expression must produce a string,
    number, boolean or null. Errors carry ``offset`` into the template.
    """
    pieces = split_template(template)
    expressions = [p for p in pieces if isinstance(p, TemplateExpression)]
    if not expressions:
        return template
    parsed = [_parse_piece(piece, contexts, workspace) for piece in expressions]
    if len(pieces) == 1:
        value = _evaluate_piece(parsed[0], expressions[0], contexts, workspace)
        if _kind_of(value).value in ("Array", "Object"):
            raise ExpressionEvaluationError(
                f"A {'sequence' if _kind_of(value).value == 'Array' else 'mapping'} was not "
                "expected where a string is required",
                expressions[0].expression,
                None,
            )
        return to_string(value)
    _check_format_limits(pieces, parsed)
    out: list[str] = []
    values = iter(zip(parsed, expressions, strict=True))
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        else:
            expression, source = next(values)
            out.append(to_string(_evaluate_piece(expression, source, contexts, workspace)))
    return "".join(out)


def evaluate_condition(
    condition: str | bool | float | None,
    contexts: Mapping[str, Any],
    status: JobStatus,
    *,
    workspace: str | None = None,
) -> bool:
    """Decide a job's or step's ``if:`` the way GitHub does.

    The condition may be bare (``github.ref == 'refs/heads/main'``) or wrapped in
    ``${{ }}``; empty means ``success()``. Unless it calls a status function, it runs as
    ``success() && (condition)``, so a failed or cancelled job skips it without evaluating
    it. Text around a ``${{ }}`` turns the whole condition into a (truthy) string, as on
    GitHub. Pass ``workspace`` for step conditions (where ``hashFiles`` is allowed).
    """
    text = _condition_text(condition)
    if text.strip(_WS) == "":
        return status is JobStatus.SUCCESS
    parsed = _parse_with(text, contexts, workspace, status=True)
    if not parsed.uses_status_function:
        # GitHub rewrites the text and parses it again, so the limits apply to the whole.
        parsed = _parse_with(f"success() && ({text})", contexts, workspace, status=True)
    return is_truthy(parsed.evaluate(contexts, status=status, workspace=workspace))


# ---------------------------------------------------------------------------- helpers


def _any(_name: str) -> bool:
    return True


def _functions(status: bool, hash_files: bool) -> dict[str, tuple[int, int]]:
    functions = dict(ARITY)
    if status:
        functions |= STATUS_ARITY
    if hash_files:
        functions |= HASHFILES_ARITY
    return functions


def _parse_with(
    text: str, contexts: Mapping[str, Any], workspace: str | None, *, status: bool
) -> Expression:
    functions = _functions(status, workspace is not None)
    known: Callable[[str], bool] = lambda name: get_property(contexts, name)[0]  # noqa: E731
    return Expression(text, _parse_tree(text, functions, known))


def _walk(root: Node | None) -> Iterable[Node]:
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        yield node
        stack.extend(children(node))


def _closing(template: str, i: int) -> int:
    """Offset of the second brace of the ``}}`` that closes an expression, or -1."""
    in_string = False
    while i < len(template):
        char = template[i]
        if char == "'":
            in_string = not in_string  # '' (an escaped quote) toggles twice: no harm
        elif not in_string and char == "}" and template[i - 1] == "}":
            return i
        i += 1
    return -1


def _parse_piece(
    piece: TemplateExpression, contexts: Mapping[str, Any], workspace: str | None
) -> Expression:
    try:
        return _parse_with(piece.expression, contexts, workspace, status=False)
    except ExpressionError as exc:
        raise _located(exc, piece) from exc


def _evaluate_piece(
    parsed: Expression,
    piece: TemplateExpression,
    contexts: Mapping[str, Any],
    workspace: str | None,
) -> Any:
    try:
        return parsed.evaluate(contexts, workspace=workspace)
    except ExpressionError as exc:
        raise _located(exc, piece) from exc


def _located(exc: ExpressionError, piece: TemplateExpression) -> ExpressionError:
    located = type(exc)(exc.reason, exc.expression, exc.position)
    located.offset = piece.offset + (exc.position or 0)
    return located


def _check_format_limits(pieces: list[str | TemplateExpression], parsed: list[Expression]) -> None:
    """GitHub evaluates text with several expressions as one ``format(...)`` expression, so
    the whole must respect the length and depth limits (long ``run:`` scripts hit them)."""
    combined = _format_expression(pieces)
    length = len(combined.encode("utf-16-le", "surrogatepass")) // 2
    if length > MAX_LENGTH:
        raise ExpressionSyntaxError(f"Exceeded max expression length {MAX_LENGTH}", "format(...)")
    for expression in parsed:
        assert expression.root is not None  # split_template refuses empty expressions
        if _height(expression.root) + 1 > MAX_DEPTH:
            raise ExpressionSyntaxError(
                f"Exceeded max expression depth {MAX_DEPTH}", expression.text
            )


def _height(node: Node) -> int:
    # Trees are at most MAX_DEPTH high here (the parser refused deeper ones).
    return 1 + max((_height(child) for child in children(node)), default=0)


def _condition_text(condition: str | bool | float | None) -> str:
    """The expression an ``if:`` value stands for, following GitHub's template reader."""
    if condition is None:
        return ""
    if isinstance(condition, bool):
        return "true" if condition else "false"
    if isinstance(condition, int | float):
        return format_number(condition)
    pieces = split_template(condition)
    if not any(isinstance(p, TemplateExpression) for p in pieces):
        return condition
    if len(pieces) == 1:
        piece = pieces[0]
        assert isinstance(piece, TemplateExpression)
        literal = _string_literal_only(piece.expression)
        # ${{ 'text' }} becomes the plain string "text", which is then read as an expression.
        return literal if literal is not None else piece.expression
    return _format_expression(pieces)


def _format_expression(pieces: list[str | TemplateExpression]) -> str:
    """The ``format(...)`` expression GitHub builds for text mixed with expressions."""
    fmt: list[str] = []
    args: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            fmt.append(piece.replace("'", "''").replace("{", "{{").replace("}", "}}"))
        else:
            fmt.append("{" + str(len(args)) + "}")
            args.append(piece.expression)
    return "format('" + "".join(fmt) + "'" + "".join(", " + a for a in args) + ")"


def _string_literal_only(expression: str) -> str | None:
    """The text of an expression made only of single-quoted string(s), else ``None``."""
    out: list[str] = []
    in_string = False
    for i, char in enumerate(expression):
        if char == "'":
            in_string = not in_string
            if in_string and i != 0:
                out.append(char)
        elif not in_string:
            return None
        else:
            out.append(char)
    return "".join(out)
