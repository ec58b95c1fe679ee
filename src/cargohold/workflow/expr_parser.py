"""Lexer and parser for GitHub Actions expressions (the text inside ``${{ }}``).

The grammar and its corners are GitHub's (documentation: "Evaluate expressions in workflows
and actions"; behaviour: ``actions/runner`` ``src/Sdk/Expressions``, whose lexer decides
whether each token may follow the previous one and whose parser is a shunting-yard):

    precedence   ( )  >  [ ] .  >  !  >  < <= > >=  >  == !=  >  &&  >  ||

* literals: ``null``, ``true``, ``false`` (lower case only), numbers (``-9.2``, ``1e3``,
  ``0xff``, ``0o17``, ``Infinity``, ``NaN``), strings in single quotes with ``''`` for a
  quote; a double quote is an unexpected symbol;
* identifiers are ``[A-Za-z_][A-Za-z0-9_-]*``; an identifier followed by ``(`` is a function,
  after ``.`` a property name, otherwise a named value (a context);
* ``*`` is only allowed right after ``[`` or ``.`` (object filters);
* errors come in GitHub's order, token by token: an unexpected symbol, an unknown function
  or named value, a wrong argument count when the call closes, then the end of the text;
  expressions longer than 21000 characters or deeper than 50 nodes are refused.

The parser is iterative (an operator stack), so nesting cannot exhaust Python's stack.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cargohold.workflow.expr_errors import ExpressionSyntaxError
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
    children,
)
from cargohold.workflow.expr_values import WHITESPACE, parse_number

MAX_LENGTH = 21000
MAX_DEPTH = 50


class _T(enum.Enum):
    START_GROUP = enum.auto()
    START_INDEX = enum.auto()
    START_PARAMS = enum.auto()
    END_GROUP = enum.auto()
    END_INDEX = enum.auto()
    END_PARAMS = enum.auto()
    SEPARATOR = enum.auto()
    DEREF = enum.auto()
    WILDCARD = enum.auto()
    OPERATOR = enum.auto()
    NULL = enum.auto()
    BOOLEAN = enum.auto()
    NUMBER = enum.auto()
    STRING = enum.auto()
    PROPERTY = enum.auto()
    FUNCTION = enum.auto()
    NAMED = enum.auto()


@dataclass(slots=True)
class _Token:
    kind: _T
    raw: str
    index: int
    value: Any = None


# What may precede each kind of token (None: the start of the expression).
_START = frozenset(
    {None, _T.SEPARATOR, _T.START_GROUP, _T.START_PARAMS, _T.START_INDEX, _T.OPERATOR}
)
_AFTER_VALUE = frozenset(
    {
        _T.END_GROUP,
        _T.END_PARAMS,
        _T.END_INDEX,
        _T.WILDCARD,
        _T.NULL,
        _T.BOOLEAN,
        _T.NUMBER,
        _T.STRING,
        _T.PROPERTY,
        _T.NAMED,
    }
)
_POSTFIX = frozenset(
    {_T.END_GROUP, _T.END_PARAMS, _T.END_INDEX, _T.WILDCARD, _T.PROPERTY, _T.NAMED}
)
_LEGAL_AFTER: dict[_T, frozenset[_T | None]] = {
    _T.START_GROUP: _START,
    _T.START_INDEX: _POSTFIX,
    _T.START_PARAMS: frozenset({_T.FUNCTION}),
    _T.END_GROUP: _AFTER_VALUE,
    _T.END_INDEX: _AFTER_VALUE,
    _T.END_PARAMS: _AFTER_VALUE | {_T.START_PARAMS},
    _T.SEPARATOR: _AFTER_VALUE,
    _T.DEREF: _POSTFIX,
    _T.WILDCARD: frozenset({_T.START_INDEX, _T.DEREF}),
    _T.NULL: _START,
    _T.BOOLEAN: _START,
    _T.NUMBER: _START,
    _T.STRING: _START,
    _T.PROPERTY: frozenset({_T.DEREF}),
    _T.FUNCTION: _START,
    _T.NAMED: _START,
}
_OPENERS = frozenset({_T.START_GROUP, _T.START_INDEX, _T.START_PARAMS})
_CLOSER_OF = {
    _T.END_GROUP: _T.START_GROUP,
    _T.END_INDEX: _T.START_INDEX,
    _T.END_PARAMS: _T.START_PARAMS,
}
_NUMBER_AFTER = frozenset(
    {None, _T.SEPARATOR, _T.START_GROUP, _T.START_INDEX, _T.START_PARAMS, _T.OPERATOR}
)
_BOUNDARY = frozenset("([)],.!><=&|") | WHITESPACE
_TWO_CHAR_OPERATORS = frozenset({"!=", ">=", "<=", "==", "&&", "||"})
_KEYWORDS: dict[str, tuple[_T, Any]] = {
    "null": (_T.NULL, None),
    "true": (_T.BOOLEAN, True),
    "false": (_T.BOOLEAN, False),
    "NaN": (_T.NUMBER, math.nan),
    "Infinity": (_T.NUMBER, math.inf),
}
_PRECEDENCE = {"!": 16, ">": 11, ">=": 11, "<": 11, "<=": 11, "==": 10, "!=": 10, "&&": 6, "||": 5}


# ---------------------------------------------------------------------------- parser

Arity = tuple[int, int]


def parse(
    expression: str,
    functions: Mapping[str, Arity],
    is_named_value: Callable[[str], bool],
) -> Node | None:
    """Parse ``expression``; ``None`` when it holds no token at all.

    ``functions`` maps lower-cased function names to their (min, max) argument counts;
    ``is_named_value`` says whether a context name is available. Raises
    :class:`ExpressionSyntaxError`.
    """
    if len(expression.encode("utf-16-le", "surrogatepass")) // 2 > MAX_LENGTH:
        raise ExpressionSyntaxError(f"Exceeded max expression length {MAX_LENGTH}", expression)
    parser = _Parser(expression, functions, is_named_value)
    root = parser.run()
    if root is not None:
        _check_depth(expression, root, 1)
    return root


def _check_depth(expression: str, node: Node, depth: int) -> None:
    # Stops at the first node past the limit, so recursion never goes deeper than that.
    if depth > MAX_DEPTH:
        raise ExpressionSyntaxError(f"Exceeded max expression depth {MAX_DEPTH}", expression)
    for child in children(node):
        _check_depth(expression, child, depth + 1)


class _Parser:
    def __init__(
        self,
        text: str,
        functions: Mapping[str, Arity],
        is_named_value: Callable[[str], bool],
    ) -> None:
        self.text = text
        self.functions = functions
        self.is_named_value = is_named_value
        self.i = 0
        self.last: _Token | None = None
        self.unclosed: list[_Token] = []
        self.operators: list[_Token] = []
        self.operands: list[Node] = []

    def fail(self, reason: str, token: _Token) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(f"{reason}: '{token.raw}'", self.text, token.index)

    # -- driving loop

    def run(self) -> Node | None:
        while (token := self.next_token()) is not None:
            if token.kind in _OPERAND_KINDS:
                self.push_operand(token)
            else:
                self.push_operator(token)
            self.last = token
        if self.last is None:
            return None
        if self.unclosed or self.last.kind in _DANGLING:
            raise self.fail("Unexpected end of expression", self.last)
        while self.operators:
            self.flush_top()
        return self.operands[-1]

    # -- lexer

    def next_token(self) -> _Token | None:
        text = self.text
        while self.i < len(text) and text[self.i] in WHITESPACE:
            self.i += 1
        if self.i >= len(text):
            return None
        start, char = self.i, text[self.i]
        last_kind = self.last.kind if self.last else None
        if char == "(":
            self.i += 1
            kind = _T.START_PARAMS if last_kind is _T.FUNCTION else _T.START_GROUP
            return self.make(kind, char, start)
        if char in "[]),*":
            self.i += 1
            if char == ")":
                in_call = bool(self.unclosed) and self.unclosed[-1].kind is _T.START_PARAMS
                return self.make(_T.END_PARAMS if in_call else _T.END_GROUP, char, start)
            return self.make(_SINGLE[char], char, start)
        if char == "'":
            return self.read_string()
        if char in "!><=&|":
            return self.read_operator()
        if char == "." and last_kind not in _NUMBER_AFTER:
            self.i += 1
            return self.make(_T.DEREF, char, start)
        if char in "-+.0123456789":
            return self.read_number()
        return self.read_keyword()

    def read_to_boundary(self, start: int, *, allow_dot: bool = False) -> str:
        text = self.text
        self.i = start + 1
        while self.i < len(text) and (
            text[self.i] not in _BOUNDARY or (allow_dot and text[self.i] == ".")
        ):
            self.i += 1
        return text[start : self.i]

    def read_number(self) -> _Token:
        start = self.i
        raw = self.read_to_boundary(start, allow_dot=True)
        number = parse_number(raw)
        if math.isnan(number):
            raise self.fail("Unexpected symbol", _Token(_T.NUMBER, raw, start))
        return self.make(_T.NUMBER, raw, start, number)

    def read_keyword(self) -> _Token:
        start = self.i
        raw = self.read_to_boundary(start)
        if not _is_keyword(raw):
            raise self.fail("Unexpected symbol", _Token(_T.NAMED, raw, start))
        if self.last is not None and self.last.kind is _T.DEREF:
            return self.make(_T.PROPERTY, raw, start, raw)
        if raw in _KEYWORDS:
            kind, value = _KEYWORDS[raw]
            return self.make(kind, raw, start, value)
        ahead = self.i
        while ahead < len(self.text) and self.text[ahead] in WHITESPACE:
            ahead += 1
        if ahead < len(self.text) and self.text[ahead] == "(":
            return self.make(_T.FUNCTION, raw, start)
        return self.make(_T.NAMED, raw, start)

    def read_string(self) -> _Token:
        text, start = self.text, self.i
        chars: list[str] = []
        self.i += 1
        while self.i < len(text):
            char = text[self.i]
            self.i += 1
            if char == "'":
                if self.i >= len(text) or text[self.i] != "'":
                    return self.make(_T.STRING, text[start : self.i], start, "".join(chars))
                self.i += 1  # '' is an escaped quote
            chars.append(char)
        raise self.fail("Unexpected symbol", _Token(_T.STRING, text[start:], start))

    def read_operator(self) -> _Token:
        text, start = self.text, self.i
        pair = text[start : start + 2]
        if pair in _TWO_CHAR_OPERATORS:
            self.i += 2
            return self.make(_T.OPERATOR, pair, start)
        if text[start] in "!<>":
            self.i += 1
            return self.make(_T.OPERATOR, text[start], start)
        raw = self.read_to_boundary(start)
        raise self.fail("Unexpected symbol", _Token(_T.OPERATOR, raw, start))

    def make(self, kind: _T, raw: str, index: int, value: Any = None) -> _Token:
        """Create a token after checking it may follow the previous one (GitHub's lexer rules)."""
        token = _Token(kind, raw, index, value)
        last_kind = self.last.kind if self.last else None
        if kind is _T.OPERATOR:
            legal = last_kind in (_START if raw == "!" else _AFTER_VALUE)
        else:
            legal = last_kind in _LEGAL_AFTER[kind]
        if legal and kind in _OPENERS:
            self.unclosed.append(token)
        elif legal and kind in _CLOSER_OF:
            legal = bool(self.unclosed) and self.unclosed[-1].kind is _CLOSER_OF[kind]
            if legal:
                self.unclosed.pop()
        elif legal and kind is _T.SEPARATOR:
            legal = bool(self.unclosed) and self.unclosed[-1].kind is _T.START_PARAMS
        if not legal:
            raise self.fail("Unexpected symbol", token)
        return token

    # -- shunting-yard

    def push_operand(self, token: _Token) -> None:
        kind = token.kind
        node: Node
        if kind is _T.FUNCTION:
            name = token.raw.lower()
            if name not in self.functions:
                raise self.fail("Unrecognized function", token)
            node = Call(token.index, name)
        elif kind is _T.NAMED:
            if not self.is_named_value(token.raw):
                raise self.fail("Unrecognized named-value", token)
            node = NamedValue(token.index, token.raw)
        elif kind is _T.WILDCARD:
            node = Wildcard(token.index)
        else:
            node = Literal(token.index, token.value)
        self.operands.append(node)

    def push_operator(self, token: _Token) -> None:
        precedence = _precedence(token)
        if token.kind is not _T.START_GROUP and token.raw != "!":
            # Left-associative: first reduce what binds at least as tightly.
            while self.operators:
                top = self.operators[-1]
                if top.kind in _OPENERS or top.kind is _T.SEPARATOR:
                    break
                if precedence > _precedence(top):
                    break
                self.flush_top()
        self.operators.append(token)
        if token.kind in _CLOSER_OF:
            self.flush_top()

    def flush_top(self) -> None:
        token = self.operators.pop()
        kind = token.kind
        if kind is _T.END_GROUP:
            self.operators.pop()  # its "("
        elif kind is _T.END_INDEX:
            opener = self.operators.pop()
            key = self.operands.pop()
            self.operands.append(Index(opener.index, self.operands.pop(), key))
        elif kind is _T.END_PARAMS:
            self.close_call()
        elif kind is _T.DEREF:
            key = self.operands.pop()
            self.operands.append(Index(token.index, self.operands.pop(), key))
        elif token.raw == "!":
            self.operands.append(Not(token.index, self.operands.pop()))
        else:
            right = self.operands.pop()
            left = self.operands.pop()
            if token.raw in ("&&", "||"):
                operands: list[Node] = []
                for operand in (left, right):
                    if isinstance(operand, Logical) and operand.op == token.raw:
                        operands.extend(operand.operands)
                    else:
                        operands.append(operand)
                self.operands.append(Logical(token.index, token.raw, operands))
            else:
                self.operands.append(Binary(token.index, token.raw, left, right))

    def close_call(self) -> None:
        args: list[Node] = []
        assert self.last is not None  # a ")" always follows a token
        if self.last.kind is not _T.START_PARAMS:
            count = 1
            while self.operators[-1].kind is _T.SEPARATOR:
                self.operators.pop()
                count += 1
            args = self.operands[-count:]
            del self.operands[-count:]
        opener = self.operators.pop()
        call = self.operands[-1]
        assert isinstance(call, Call)
        call.args = args
        low, high = self.functions[call.name]
        if len(args) < low:
            raise self.fail("Too few parameters supplied", opener)
        if len(args) > high:
            raise self.fail("Too many parameters supplied", opener)
        if call.name == "case" and len(args) % 2 == 0:
            raise self.fail(
                "Even number of parameters supplied, requires an odd number of parameters", opener
            )


_OPERAND_KINDS = frozenset(
    {_T.NULL, _T.BOOLEAN, _T.NUMBER, _T.STRING, _T.PROPERTY, _T.WILDCARD, _T.FUNCTION, _T.NAMED}
)
# A text may not end on one of these (nor with an opener left unclosed).
_DANGLING = frozenset(
    {_T.START_GROUP, _T.START_INDEX, _T.START_PARAMS, _T.SEPARATOR, _T.DEREF, _T.OPERATOR}
)
_SINGLE = {"[": _T.START_INDEX, "]": _T.END_INDEX, ",": _T.SEPARATOR, "*": _T.WILDCARD}


def _precedence(token: _Token) -> int:
    kind = token.kind
    if kind is _T.OPERATOR:
        return _PRECEDENCE[token.raw]
    if kind in (_T.START_INDEX, _T.START_PARAMS, _T.DEREF):
        return 19
    return 1  # closers and the separator; "(" never compares (it is never reduced)


def _is_keyword(raw: str) -> bool:
    first = raw[0]
    if not (first == "_" or ("a" <= first <= "z") or ("A" <= first <= "Z")):
        return False
    return all(c in "_-" or "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" for c in raw)
