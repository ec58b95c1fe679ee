"""Dockerfile reading for the built-in builder: instructions, variables, ``.dockerignore``. Pure.

    parse_dockerfile(text) -> [Instruction(line, keyword, args, json_form, flags)]
    substitute("${NAME:-x}/bin", {"NAME": "app"}) -> "app/bin"
    ignore_matcher(".dockerignore text") -> callable(path) -> bool (True = excluded)

Only what the builder needs: continuation lines, comments, ``# syntax=`` directives (ignored),
the exec (JSON) and shell forms, ``--flag=value`` options, ``$VAR``/``${VAR}``/``${VAR:-w}``/
``${VAR:+w}`` substitution, and Go's ``filepath.Match`` patterns with ``**`` and ``!`` exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class DockerfileError(ValueError):
    """A Dockerfile the builder cannot read; the message names the line."""


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str  # upper case
    args: str  # the rest, flags removed
    flags: dict[str, str] = field(default_factory=dict)

    def json_list(self) -> list[str] | None:
        """The exec form (``["a", "b"]``) when the arguments are a JSON list of strings."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return value
        return None


_FLAG = re.compile(r"^--([a-z-]+)(?:=(\S*))?\s*")


def parse_dockerfile(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    pending = ""
    start = 0
    escape = "\\"
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and stripped.startswith("#"):
            directive = re.match(r"#\s*escape\s*=\s*(\S)", stripped)
            if directive and not out:
                escape = directive.group(1)
            continue
        if pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        if stripped.endswith(escape):
            pending += stripped[: -len(escape)] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if not full:
            continue
        keyword, _, rest = full.partition(" ")
        rest = rest.strip()
        flags: dict[str, str] = {}
        while True:
            match = _FLAG.match(rest)
            if not match:
                break
            flags[match.group(1)] = match.group(2) or "true"
            rest = rest[match.end() :]
        out.append(Instruction(start, keyword.upper(), rest, flags))
    if pending:
        raise DockerfileError(f"line {start}: the file ends inside a continued line")
    if not out:
        raise DockerfileError("the Dockerfile is empty")
    return out


_VAR = re.compile(
    r"\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Docker's variable substitution (unknown variables are empty; ``\\$`` is a dollar)."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "\\$":
            return "$"
        name = match.group(1) or match.group(4)
        value = variables.get(name)
        op = match.group(2)
        if op == ":-":
            return value if value else match.group(3)
        if op == ":+":
            return match.group(3) if value else ""
        return value or ""

    return _VAR.sub(repl, text)


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, honouring double and single quotes (for LABEL/ENV)."""
    words: list[str] = []
    current = ""
    quote = ""
    have = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(text):
                i += 1
                current += text[i]
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
            have = True
        elif ch.isspace():
            if current or have:
                words.append(current)
            current, have = "", False
        elif ch == "\\" and i + 1 < len(text):
            i += 1
            current += text[i]
        else:
            current += ch
        i += 1
    if quote:
        raise DockerfileError(f"unterminated quote in {text!r}")
    if current or have:
        words.append(current)
    return words


def key_values(text: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` pairs (ENV, LABEL, ARG); the legacy ``ENV k v`` form too."""
    words = split_words(text)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise DockerfileError(f"expected NAME=VALUE in {text!r}")
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise DockerfileError(f"expected NAME=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs


def _glob_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                i += 1
                out = out[:-2] + "(?:.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i)
            if end < 0:
                out += re.escape(ch)
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += f"[{body}]"
                i = end
        else:
            out += re.escape(ch)
        i += 1
    return out


def ignore_matcher(text: str) -> Callable[[str], bool]:
    """``path -> excluded?`` for a ``.dockerignore`` (last matching pattern wins)."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = re.sub(r"/+", "/", pattern).strip("/")
        pattern = re.sub(r"^(\./)+", "", pattern)
        if not pattern or pattern == ".":
            continue
        rules.append((negate, re.compile(f"^{_glob_regex(pattern)}$")))

    def excluded(path: str) -> bool:
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for negate, regex in rules:
            # A pattern matching a parent directory matches everything under it.
            if any(regex.match(p) for p in prefixes):
                result = not negate
        return result

    return excluded
