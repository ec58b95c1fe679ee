"""The value model of GitHub Actions expressions: kinds, truthiness, coercion, comparison.

Values are plain Python data: ``None``, ``bool``, ``int``/``float`` (both are the one
"number" kind, a double in GitHub), ``str``, mappings (objects) and lists/tuples (arrays).
Anything else counts as an opaque object, as in GitHub's ``ConvertToCanonicalValue``.

The rules follow GitHub's documentation ("Evaluate expressions in workflows and actions":
Literals, Operators) and, for the corners the documentation leaves open, the behaviour of
GitHub's own evaluator (``actions/runner``, ``src/Sdk/Expressions``): ``==`` is JavaScript's
abstract equality except that strings compare case-insensitively and objects are never
coerced; ordering compares strings by upper-casing each character (invariant culture) and
then by UTF-16 code unit, so ``'A' < '['`` and ``'a' < '['`` both hold.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Mapping
from typing import Any


class Kind(enum.Enum):
    """The six kinds of expression values."""

    NULL = "Null"
    BOOLEAN = "Boolean"
    NUMBER = "Number"
    STRING = "String"
    ARRAY = "Array"
    OBJECT = "Object"


PRIMITIVE_KINDS = frozenset({Kind.NULL, Kind.BOOLEAN, Kind.NUMBER, Kind.STRING})

# .NET's Char.IsWhiteSpace, which both the lexer and number parsing use. Python's
# str.isspace differs (it also accepts U+001C..U+001F), so the set is spelled out.
WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_CHARS = "".join(sorted(WHITESPACE))

# Double.TryParse with AllowLeadingSign | AllowDecimalPoint | AllowExponent, invariant culture.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCTAL = re.compile(r"0o[0-7]+")
# .NET Core 3.0+ also parses the culture's symbols, case-insensitively, with a sign.
_SYMBOLS = {
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
}


def kind_of(value: Any) -> Kind:
    """The expression kind of a Python value."""
    if value is None:
        return Kind.NULL
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int | float):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    if isinstance(value, list | tuple):
        return Kind.ARRAY
    # Mappings and anything unknown are objects (GitHub's fallback for foreign types).
    return Kind.OBJECT


def as_float(value: int | float) -> float:
    """A number as a double; integers too large for one become an infinity, as in .NET."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def is_truthy(value: Any) -> bool:
    """Falsy: ``false``, ``0``, ``-0``, ``NaN``, ``''`` and ``null``; everything else is truthy."""
    kind = kind_of(value)
    if kind is Kind.NULL:
        return False
    if kind is Kind.BOOLEAN:
        return bool(value)
    if kind is Kind.NUMBER:
        number = as_float(value)
        return not (number == 0 or math.isnan(number))
    if kind is Kind.STRING:
        return bool(value != "")
    return True


def parse_number(text: str) -> float:
    """Convert a string to a number the way GitHub does (JavaScript's ``Number()``, roughly).

    Surrounding whitespace is ignored, the empty string is 0, decimal and exponent forms
    are accepted, ``0x``/``0o`` prefixes read a 32-bit two's-complement integer
    (``0xffffffff`` is -1), ``Infinity``/``NaN`` are accepted in any case; anything else is NaN.
    """
    text = text.strip(_WHITESPACE_CHARS)
    if text == "":
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text)
    symbol = _SYMBOLS.get(text.lower())
    if symbol is not None:
        return symbol
    if _HEX.fullmatch(text):
        return _int32(int(text[2:], 16))
    if _OCTAL.fullmatch(text):
        return _int32(int(text[2:], 8))
    return math.nan


def _int32(value: int) -> float:
    # Int32 parsing of hex/octal reads the bits of a UInt32: wider is an overflow (NaN).
    if value > 0xFFFFFFFF:
        return math.nan
    return float(value - (1 << 32) if value >= 1 << 31 else value)


def to_number(value: Any) -> float:
    """``null`` is 0, booleans 1/0, strings are parsed, arrays and objects are NaN."""
    kind = kind_of(value)
    if kind is Kind.NULL:
        return 0.0
    if kind is Kind.BOOLEAN:
        return 1.0 if value else 0.0
    if kind is Kind.NUMBER:
        return as_float(value)
    if kind is Kind.STRING:
        return parse_number(value)
    return math.nan


def format_number(value: int | float) -> str:
    """Format a number like .NET's ``Double.ToString("G15", InvariantCulture)``.

    Integers print without a fraction, 15 significant digits at most, and scientific
    notation (``1E+15``, ``1E-05``) outside the range .NET's "G" format keeps fixed.
    ``-0`` prints as ``0`` (GitHub special-cases it).
    """
    number = as_float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    # Python's "g" and .NET's "G" agree: fixed notation when -5 < exponent < precision,
    # trailing zeros dropped, an exponent of at least two digits.
    return format(number, ".15g").replace("e", "E")


def to_string(value: Any) -> str:
    """Convert a value to a string as GitHub does when it needs one.

    ``null`` is ``''``, booleans are ``true``/``false``, numbers use :func:`format_number`,
    and arrays and objects become the words ``Array`` and ``Object`` (GitHub's
    ``ConvertToString``; use ``toJSON`` to serialise them).
    """
    kind = kind_of(value)
    if kind is Kind.NULL:
        return ""
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.STRING:
        return str(value)
    return str(kind.value)


@functools.lru_cache(maxsize=4096)
def _upper_char(char: str) -> str:
    # Simple (one-to-one) invariant upper-casing, like .NET's ToUpperInvariant per char:
    # 'ß'.upper() is 'SS' in Python but stays 'ß' in .NET.
    upper = char.upper()
    return upper if len(upper) == 1 else char


def fold(text: str) -> str:
    """Upper-case each character the way OrdinalIgnoreCase comparisons do."""
    if text.isascii():
        return text.upper()
    return "".join(_upper_char(char) for char in text)


def _utf16(text: str) -> bytes:
    # .NET orders strings by UTF-16 code unit; big-endian bytes compare the same way.
    return text.encode("utf-16-be", "surrogatepass")


def _coerce(left: Any, right: Any) -> tuple[Any, Any, Kind, Kind]:
    """Bring two values to a common kind where JavaScript's abstract equality would."""
    while True:
        left_kind, right_kind = kind_of(left), kind_of(right)
        if left_kind is right_kind:
            return left, right, left_kind, right_kind
        if left_kind is Kind.NUMBER and right_kind is Kind.STRING:
            return left, parse_number(right), left_kind, Kind.NUMBER
        if left_kind is Kind.STRING and right_kind is Kind.NUMBER:
            return parse_number(left), right, Kind.NUMBER, right_kind
        if left_kind in (Kind.BOOLEAN, Kind.NULL):
            left = to_number(left)
        elif right_kind in (Kind.BOOLEAN, Kind.NULL):
            right = to_number(right)
        else:
            # Arrays and objects are never coerced: they equal nothing of another kind.
            return left, right, left_kind, right_kind


def equals(left: Any, right: Any) -> bool:
    """GitHub's ``==``: coercion to numbers across kinds, case-insensitive strings, identity."""
    left, right, left_kind, right_kind = _coerce(left, right)
    if left_kind is not right_kind:
        return False
    if left_kind is Kind.NULL:
        return True
    if left_kind is Kind.NUMBER:
        # NaN never equals anything; float comparison already says so.
        return as_float(left) == as_float(right)
    if left_kind is Kind.STRING:
        return fold(left) == fold(right)
    if left_kind is Kind.BOOLEAN:
        return bool(left) == bool(right)
    return left is right


def _compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 when the two values are ordered after coercion; ``None`` when they are not."""
    left, right, left_kind, right_kind = _coerce(left, right)
    if left_kind is not right_kind:
        return None
    if left_kind is Kind.NUMBER:
        a, b = as_float(left), as_float(right)
        if math.isnan(a) or math.isnan(b):
            return None
        return (a > b) - (a < b)
    if left_kind is Kind.STRING:
        x, y = _utf16(fold(left)), _utf16(fold(right))
        return (x > y) - (x < y)
    if left_kind is Kind.BOOLEAN:
        return int(bool(left)) - int(bool(right))
    return None


def less_than(left: Any, right: Any) -> bool:
    """GitHub's ``<``."""
    return _compare(left, right) == -1


def greater_than(left: Any, right: Any) -> bool:
    """GitHub's ``>``."""
    return _compare(left, right) == 1


def get_property(obj: Mapping[Any, Any], name: str) -> tuple[bool, Any]:
    """Look a key up case-insensitively; an exact match wins over a differently cased one."""
    if name in obj:
        return True, obj[name]
    folded = fold(name)
    for key, value in obj.items():
        if isinstance(key, str) and fold(key) == folded:
            return True, value
    return False, None
