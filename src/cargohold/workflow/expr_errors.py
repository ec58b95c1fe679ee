"""Errors raised by the expression evaluator; re-exported by :mod:`.expressions`."""

from __future__ import annotations


class ExpressionError(Exception):
    """An expression could not be parsed or evaluated.

    ``expression`` is the text that failed (the whole template for interpolation errors),
    ``position`` the 0-based offset of the offending token in it (``None`` when the error
    is about the expression as a whole), ``reason`` the message without location. A caller
    that knows the file and line adds them: ``f"{path}:{line}: {err}"``.
    """

    def __init__(self, reason: str, expression: str, position: int | None = None) -> None:
        self.reason = reason
        self.expression = expression
        self.position = position
        # Offset in the text the caller passed (a template, for interpolation).
        self.offset = position
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.position is None:
            return f"{self.reason} in expression: {self.expression}"
        return (
            f"{self.reason}. Located at position {self.position + 1} "
            f"within expression: {self.expression}"
        )


class ExpressionSyntaxError(ExpressionError):
    """The expression is malformed: bad token, unknown function or context, wrong arity."""


class ExpressionEvaluationError(ExpressionError):
    """A well-formed expression failed while evaluating (bad ``format``, bad JSON, ...)."""
