"""The run log: every line goes through the masks, GitHub-style groups and annotations.

``Log.line(text)`` replaces every masked value (secrets, the job token, ``::add-mask::`` values)
with ``***`` before the text reaches the output, whichever code printed it: masking happens
here, once, so no caller can forget it. Values shorter than 4 characters are not masked (as
GitHub; they would blank out ordinary words).

Workflow commands in a step's output (``::add-mask::``, ``::group::``, ``::endgroup::``,
``::error file=F,line=L::msg``, ``::warning``, ``::notice``, ``::debug``) are handled by
``Log.step_output``; the annotations are kept for the summary.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

MIN_MASK = 4
_COMMAND = re.compile(r"^::([a-z-]+)(?: ([^:]*))?::(.*)$")


@dataclass(frozen=True, slots=True)
class Annotation:
    level: str  # error, warning, notice
    message: str
    file: str | None = None
    line: str | None = None
    col: str | None = None

    def render(self) -> str:
        where = ":".join(x for x in (self.file, self.line, self.col) if x)
        return f"{self.level.capitalize()}: {where + ': ' if where else ''}{self.message}"


@dataclass
class Log:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    masks: set[str] = field(default_factory=set)
    annotations: list[Annotation] = field(default_factory=list)
    debug: bool = False
    terminal: bool = False  # render groups and annotations for a person, not a log file

    def mask(self, value: str) -> None:
        """Mask ``value`` (and each of its lines) in every later line."""
        for part in [value, *value.splitlines()]:
            part = part.strip()
            if len(part) >= MIN_MASK:
                self.masks.add(part)

    def redact(self, text: str) -> str:
        # Longest first: a secret that contains another is masked whole.
        for secret in sorted(self.masks, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def line(self, text: str = "") -> None:
        for part in text.split("\n") if text else [""]:
            shown: str | None = self.redact(part)
            if self.terminal and shown is not None:
                shown = _for_terminal(shown)
            if shown is not None:
                self.out.write(shown + "\n")
        self.out.flush()

    def group(self, title: str) -> None:
        self.line(f"##[group]{title}")

    def endgroup(self) -> None:
        self.line("##[endgroup]")

    def error(self, message: str, **where: str | None) -> None:
        note = Annotation("error", self.redact(message), where.get("file"), where.get("line"))
        self.annotations.append(note)
        self.line(f"##[error]{message}")

    def step_output(self, raw: str, on_command: Callable[[str, dict[str, str], str], bool]) -> None:
        """One line a step printed: a workflow command, or text to show (masked)."""
        text = raw.rstrip("\r\n")
        match = _COMMAND.match(text)
        if not match:
            self.line(text)
            return
        name, props_text, value = match.group(1), match.group(2) or "", match.group(3)
        props = {}
        for item in filter(None, props_text.split(",")):
            key, _, val = item.partition("=")
            props[key.strip()] = _unescape(val.strip())
        value = _unescape(value)
        if name == "add-mask":
            self.mask(value)
        elif name == "group":
            self.group(value)
        elif name == "endgroup":
            self.endgroup()
        elif name in ("error", "warning", "notice"):
            note = Annotation(
                name, self.redact(value), props.get("file"), props.get("line"), props.get("col")
            )
            self.annotations.append(note)
            self.line(f"##[{name}]{note.render()[len(name) + 2 :]}")
        elif name == "debug":
            if self.debug:
                self.line(f"##[debug]{value}")
        elif not on_command(name, props, value):
            self.line(text)


_STYLES = {
    "##[group]": "\x1b[1m\u25b6 ",
    "##[error]": "\x1b[31mError: ",
    "##[warning]": "\x1b[33mWarning: ",
    "##[notice]": "\x1b[36mNotice: ",
    "##[debug]": "\x1b[2m",
}


def _for_terminal(line: str) -> str | None:
    """A log line as a terminal shows it: groups bold with a marker, annotations coloured."""
    if line == "##[endgroup]":
        return None
    for marker, style in _STYLES.items():
        if line.startswith(marker):
            return f"{style}{line[len(marker) :]}\x1b[0m"
    if line.startswith("#") and " " in line and line[1 : line.index(" ")].isdigit():
        # buildx progress: dim the step number, as buildx does on a TTY
        number, _, rest = line.partition(" ")
        return f"\x1b[34m{number}\x1b[0m {rest}"
    return line


def _unescape(value: str) -> str:
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_file_command(text: str, what: str) -> dict[str, str]:
    """``GITHUB_ENV`` / ``GITHUB_OUTPUT`` contents: ``NAME=value`` and ``NAME<<DELIM`` blocks."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, delimiter = line.partition("<<")
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"{what}: no closing delimiter {delimiter!r} for {name!r}")
            i += 1
            out[name.strip()] = "\n".join(body)
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{what}: invalid line {line!r} (expected NAME=VALUE)")
        out[name.strip()] = value
    return out
