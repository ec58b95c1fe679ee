"""The string and JSON functions of GitHub Actions expressions.

Documented in "Evaluate expressions in workflows and actions" > Functions; the corners
(which arguments are evaluated, what non-strings become, ``format``'s brace rules) follow
GitHub's evaluator in ``actions/runner`` ``src/Sdk/Expressions/Sdk/Functions``.

Each function takes the already-parsed argument nodes and an ``evaluate`` callback, because
GitHub evaluates some arguments lazily (``contains`` skips its second argument when the
first is an object; ``format`` evaluates only the arguments its placeholders use, after the
whole format string has been checked).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cargohold.workflow.expr_values import (
    PRIMITIVE_KINDS,
    Kind,
    equals,
    fold,
    kind_of,
    to_string,
)

# GitHub caps the memory an evaluation may use (TemplateMemory: 10 MiB for the runner's
# step templates); strings count two bytes a character, as in .NET.
MAX_RESULT_BYTES = 10 * 1024 * 1024
# fromJSON converts values nested this deep to strings (JTokenExtensions' maxDepth).
_FROMJSON_MAX_DEPTH = 100


class FunctionError(Exception):
    """A function failed; the evaluator turns it into an ExpressionEvaluationError."""


Evaluate = Callable[[Any], Any]  # node -> value


def check_size(text: str) -> str:
    """Refuse a result larger than GitHub's evaluation memory limit."""
    if len(text) * 2 > MAX_RESULT_BYTES:
        raise FunctionError("The maximum allowed memory size was exceeded")
    return text


def _is_primitive(value: Any) -> bool:
    return kind_of(value) in PRIMITIVE_KINDS


def contains(args: list[Any], ev: Evaluate) -> bool:
    """Substring test (case-insensitive) on primitives, or element equality in an array."""
    left = ev(args[0])
    if _is_primitive(left):
        right = ev(args[1])
        return _is_primitive(right) and fold(to_string(right)) in fold(to_string(left))
    if kind_of(left) is Kind.ARRAY and len(left) > 0:
        right = ev(args[1])
        return any(equals(right, item) for item in left)
    return False


def starts_with(args: list[Any], ev: Evaluate) -> bool:
    """Case-insensitive prefix test; ``false`` when either side is not a primitive."""
    left = ev(args[0])
    if _is_primitive(left):
        right = ev(args[1])
        return _is_primitive(right) and fold(to_string(left)).startswith(fold(to_string(right)))
    return False


def ends_with(args: list[Any], ev: Evaluate) -> bool:
    """Case-insensitive suffix test; ``false`` when either side is not a primitive."""
    left = ev(args[0])
    if _is_primitive(left):
        right = ev(args[1])
        return _is_primitive(right) and fold(to_string(left)).endswith(fold(to_string(right)))
    return False


def join(args: list[Any], ev: Evaluate) -> str:
    """Join array items with a separator (default ``,``); a primitive comes back as a string."""
    items = ev(args[0])
    if kind_of(items) is Kind.ARRAY and len(items) > 0:
        separator = ","
        # GitHub evaluates the separator only when there is something to separate.
        if len(items) > 1 and len(args) > 1:
            given = ev(args[1])
            if _is_primitive(given):
                separator = to_string(given)
        return check_size(separator.join(to_string(item) for item in items))
    if _is_primitive(items):
        return to_string(items)
    return ""


def case(args: list[Any], ev: Evaluate) -> Any:
    """``case(pred1, val1, ..., default)``: the value after the first ``true`` predicate."""
    for i in range(0, len(args) - 1, 2):
        predicate = ev(args[i])
        if kind_of(predicate) is not Kind.BOOLEAN:
            raise FunctionError("case predicate must evaluate to a boolean value")
        if predicate:
            return ev(args[i + 1])
    return ev(args[-1])


# ---------------------------------------------------------------------------- format


def format_(args: list[Any], ev: Evaluate) -> str:
    """``format('{0} {1}', a, b)``: ``{{``/``}}`` escape braces; a bad index or brace fails."""
    text = to_string(ev(args[0]))
    pieces = _parse_format(text, len(args) - 1)
    cache: dict[int, Any] = {}
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        index, specifiers = piece
        if index not in cache:
            cache[index] = ev(args[index + 1])
        if specifiers:
            kind = kind_of(cache[index]).value
            raise FunctionError(
                f"The format specifiers '{specifiers}' are not valid for objects of type '{kind}'"
            )
        out.append(to_string(cache[index]))
    return check_size("".join(out))


def _parse_format(text: str, arg_count: int) -> list[str | tuple[int, str]]:
    """Split a format string into literal text and (argument index, specifiers) pairs."""
    pieces: list[str | tuple[int, str]] = []
    invalid = FunctionError(f"The following format string is invalid: {text}")
    i = 0
    while i < len(text):
        left, right = text.find("{", i), text.find("}", i)
        if left >= 0 and (right < 0 or right > left):
            if _char_at(text, left + 1) == "{":
                pieces.append(text[i : left + 1])
                i = left + 2
                continue
            placeholder = _read_placeholder(text, left + 1) if right > left + 1 else None
            if placeholder is None:
                raise invalid
            index, specifiers, end = placeholder
            if index > arg_count - 1:
                raise FunctionError(
                    f"The following format string references more arguments than were "
                    f"supplied: {text}"
                )
            pieces.append(text[i:left])
            pieces.append((index, specifiers))
            i = end + 1
        elif right >= 0:
            if _char_at(text, right + 1) != "}":
                raise invalid
            pieces.append(text[i : right + 1])
            i = right + 2
        else:
            pieces.append(text[i:])
            break
    return pieces


def _read_placeholder(text: str, start: int) -> tuple[int, str, int] | None:
    """Read ``N}`` or ``N:spec}`` at ``start``: (index, specifiers, offset of the closing brace)."""
    end = start
    while _char_at(text, end).isdecimal():
        end += 1
    digits = text[start:end]
    # .NET's Byte.TryParse: ASCII digits only, at most 255.
    if not digits or not digits.isascii() or int(digits) > 255:
        return None
    char = _char_at(text, end)
    if char == "}":
        return int(digits), "", end
    if char != ":":
        return None
    specifiers: list[str] = []
    i = end + 1
    while i < len(text):
        if text[i] != "}":
            specifiers.append(text[i])
            i += 1
        elif _char_at(text, i + 1) == "}":
            specifiers.append("}")
            i += 2
        else:
            return int(digits), "".join(specifiers), i
    return None


def _char_at(text: str, index: int) -> str:
    return text[index] if index < len(text) else "\0"


# ---------------------------------------------------------------------------- JSON


def to_json(args: list[Any], ev: Evaluate) -> str:
    """``toJSON(value)``: pretty-printed with two-space indentation, as GitHub prints it."""
    out: list[str] = []
    try:
        _write_json(ev(args[0]), 0, out)
    except RecursionError as exc:
        raise FunctionError("The value is nested too deeply to convert to JSON") from exc
    return check_size("".join(out))


def _write_json(value: Any, level: int, out: list[str]) -> None:
    kind = kind_of(value)
    if kind is Kind.ARRAY and len(value) > 0:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + "\n" + "  " * (level + 1))
            _write_json(item, level + 1, out)
        out.append("\n" + "  " * level + "]")
    elif kind is Kind.ARRAY:
        out.append("[]")
    elif isinstance(value, Mapping) and len(value) > 0:
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + "\n" + "  " * (level + 1))
            out.append(_json_string(to_string(key)) + ": ")
            _write_json(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif kind is Kind.NULL:
        out.append("null")
    elif kind is Kind.STRING:
        out.append(_json_string(value))
    elif kind in (Kind.BOOLEAN, Kind.NUMBER):
        out.append(to_string(value))
    else:
        out.append("{}")  # an empty mapping, or an object GitHub cannot traverse


# Newtonsoft's default escaping: quote, backslash, control characters and three
# line-breaking code points; short forms where JSON has them, \u00xx (lower case) otherwise.
_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_JSON_ESCAPES["\t"] = "\\t"
for _code in [*range(0x20), 0x85, 0x2028, 0x2029]:
    _JSON_ESCAPES.setdefault(chr(_code), f"\\u{_code:04x}")
_JSON_TABLE = str.maketrans(_JSON_ESCAPES)


def _json_string(text: str) -> str:
    return '"' + text.translate(_JSON_TABLE) + '"'


def from_json(args: list[Any], ev: Evaluate) -> Any:
    """``fromJSON(text)``: parse one JSON value (numbers become floats); bad JSON fails."""
    text = to_string(ev(args[0]))
    decoder = json.JSONDecoder(parse_int=float, strict=False)
    # Like Newtonsoft's JToken.ReadFrom, read one value and ignore what follows it.
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, _ = decoder.raw_decode(text, start)
    except (ValueError, RecursionError) as exc:
        raise FunctionError(f"Error parsing fromJson: {exc}") from exc
    return _cap_depth(value, 1)


def _cap_depth(value: Any, depth: int) -> Any:
    if depth >= _FROMJSON_MAX_DEPTH:
        return _deep_string(value)
    if isinstance(value, dict):
        return {key: _cap_depth(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_cap_depth(item, depth + 1) for item in value]
    return value


def _deep_string(value: Any) -> str:
    # GitHub turns values nested past its limit into their JSON text (JToken.ToString()).
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    out: list[str] = []
    _write_json(value, 0, out)
    return "".join(out)


FUNCTIONS: dict[str, Callable[[list[Any], Evaluate], Any]] = {
    "contains": contains,
    "startswith": starts_with,
    "endswith": ends_with,
    "format": format_,
    "join": join,
    "tojson": to_json,
    "fromjson": from_json,
    "case": case,
}

# (min, max) argument counts, checked when the expression is parsed.
ARITY: dict[str, tuple[int, int]] = {
    "case": (3, 255),
    "contains": (2, 2),
    "endswith": (2, 2),
    "format": (1, 255),
    "join": (1, 2),
    "startswith": (2, 2),
    "tojson": (1, 1),
    "fromjson": (1, 1),
}
STATUS_ARITY: dict[str, tuple[int, int]] = {
    "success": (0, 0),
    "failure": (0, 0),
    "cancelled": (0, 0),
    "always": (0, 0),
}
HASHFILES_ARITY: dict[str, tuple[int, int]] = {"hashfiles": (1, 255)}
