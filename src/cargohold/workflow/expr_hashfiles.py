"""``hashFiles(pattern, ...)``: the SHA-256 of the SHA-256 digests of the matching files.

Documented in "Evaluate expressions in workflows and actions" > hashFiles; the matching is
that of ``@actions/glob``, which GitHub's runner uses (``src/Misc/expressionFunc/hashFiles``):

* patterns are relative to the workspace (absolute ones are allowed); each argument may hold
  several patterns on separate lines; blank lines and ``#`` comments are skipped;
* ``*`` and ``?`` match within a path segment, ``[...]`` is a character class, ``**`` matches
  any number of segments, dot files included; ``\\`` escapes; no braces, no extglobs;
* a leading ``!`` excludes (patterns apply in order), a path segment ``.`` or ``..`` is an
  error, and a pattern naming a directory matches everything beneath it;
* files are visited depth-first, each directory's entries in byte order, and only regular
  files under the workspace count; directories are skipped;
* the first argument may be ``--follow-symbolic-links``.

One deliberate difference: a symbolic link whose target lies outside the workspace is
skipped (GitHub reads through it), so a workflow cannot hash files it was not given.
The result is ``''`` when nothing matches.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from dataclasses import dataclass

_FOLLOW = "--follow-symbolic-links"
_NONE, _DIRECTORY, _FILE = 0, 1, 2
_ALL = _DIRECTORY | _FILE
_JS_WHITESPACE = " \t\n\v\f\r\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501


class HashFilesError(Exception):
    """hashFiles failed: a bad pattern or option, or an unreadable file."""


@dataclass(frozen=True)
class _Pattern:
    negate: bool
    segments: tuple[str, ...]  # absolute: the first segment is "" (the root)
    trailing_separator: bool
    implicit: bool
    search_path: str

    def match(self, segments: list[str]) -> int:
        if self.segments[-1] == "**" and not self.implicit:
            segments = [*segments, ""]  # GitHub appends a separator to the path here
        if _match(self.segments, segments, partial=False):
            return _DIRECTORY if self.trailing_separator else _ALL
        return _NONE

    def partial_match(self, segments: list[str]) -> bool:
        return _match(self.segments, segments, partial=True)


def hash_files(arguments: list[str], workspace: str) -> str:
    """Hash the files under ``workspace`` that the patterns select; ``''`` when none do."""
    follow = False
    if arguments and arguments[0].startswith("--"):
        if arguments[0].lower() != _FOLLOW:
            raise HashFilesError(
                f"Invalid glob option {arguments[0]}, avaliable option: '{_FOLLOW}'."
            )
        follow, arguments = True, arguments[1:]
    root = os.path.abspath(workspace)
    patterns = _compile("\n".join(arguments), root)
    real_root = os.path.realpath(root)
    outer = hashlib.sha256()
    matched = False
    try:
        for path in _walk(patterns, root, follow):
            real = os.path.realpath(path)
            if not real.startswith(real_root + os.sep) or os.path.isdir(real):
                continue
            inner = hashlib.sha256()
            with open(real, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 16), b""):
                    inner.update(chunk)
            outer.update(inner.digest())
            matched = True
    except OSError as exc:
        raise HashFilesError(
            f"hashFiles('{', '.join(arguments)}') failed. Fail to hash files under "
            f"directory '{root}': {exc.strerror}"
        ) from exc
    return outer.hexdigest() if matched else ""


def _compile(text: str, root: str) -> list[_Pattern]:
    patterns: list[_Pattern] = []
    for line in text.split("\n"):
        line = line.strip(_JS_WHITESPACE)
        if not line or line.startswith("#"):
            continue
        negate = False
        while line.startswith("!"):
            negate = not negate
            line = line[1:].strip(_JS_WHITESPACE)
        if not line:
            raise HashFilesError("Invalid pattern '!': pattern cannot be empty")
        if line == "~" or line.startswith("~/"):
            # GitHub expands ~ to the runner's home directory, which is never inside our
            # workspace: such a pattern can only select files that do not count.
            continue
        pattern = _pattern(line, negate, root)
        patterns.append(pattern)
        if pattern.trailing_separator or pattern.segments[-1] != "**":
            # A pattern that names a directory also selects everything beneath it.
            segments = (*pattern.segments, "**")
            patterns.append(_Pattern(negate, segments, False, True, pattern.search_path))
    return patterns


def _pattern(line: str, negate: bool, root: str) -> _Pattern:
    raw_segments = [s for s in line.split("/") if s]
    if any(
        s == ".." or (s == "." and (i or line.startswith("/"))) for i, s in enumerate(raw_segments)
    ):
        raise HashFilesError(
            f"Invalid pattern '{line}'. Relative pathing '.' and '..' is not allowed."
        )
    if raw_segments and raw_segments[0] == ".":
        raw_segments = raw_segments[1:]
    base = [] if line.startswith("/") else [_escape(s) for s in root.split("/") if s]
    segments = ("", *base, *raw_segments)
    literal: list[str] = []
    for segment in segments[1:]:
        text = _literal(segment)
        if text is None:
            break
        literal.append(text)
    return _Pattern(
        negate=negate,
        segments=segments,
        trailing_separator=line.endswith("/"),
        implicit=False,
        search_path="/" + "/".join(literal),
    )


def _escape(segment: str) -> str:
    return re.sub(r"([\\*?\[])", r"\\\1", segment)


def _literal(segment: str) -> str | None:
    """The segment's text when it holds no glob (escapes removed), else ``None``."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "\\" and i + 1 < len(segment):
            out.append(segment[i + 1])
            i += 2
            continue
        if char in "*?":
            return None
        if char == "[":
            close = segment.find("]", i + 2)
            if close >= 0:
                body = segment[i + 1 : close]
                if len(body) > 1:
                    return None
                out.append(body)
                i = close + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


_STAR = "*"  # the one token that is not a compiled one-character pattern
_Token = str | re.Pattern[str]


@functools.lru_cache(maxsize=1024)
def _segment_tokens(segment: str) -> tuple[_Token, ...]:
    """A segment glob as ``*`` markers and one-character patterns."""
    tokens: list[_Token] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "\\" and i + 1 < len(segment):
            tokens.append(re.compile(re.escape(segment[i + 1]), re.DOTALL))
            i += 2
        elif char == "*":
            if not tokens or tokens[-1] is not _STAR:
                tokens.append(_STAR)
            i += 1
        elif char == "?":
            tokens.append(re.compile(".", re.DOTALL))
            i += 1
        elif char == "[" and (close := _class_end(segment, i)) > 0:
            body = segment[i + 1 : close]
            negated = body[:1] in ("!", "^")
            body = body[1:] if negated else body
            escaped = body.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
            escaped = escaped.replace("^", "\\^")
            try:
                tokens.append(re.compile(("[^" if negated else "[") + escaped + "]", re.DOTALL))
            except re.error:
                # An impossible class such as [z-a] matches nothing (minimatch's regex fails).
                tokens.append(re.compile("(?!)"))
            i = close + 1
        else:
            tokens.append(re.compile(re.escape(char), re.DOTALL))
            i += 1
    return tuple(tokens)


def _segment_matches(pattern: str, name: str) -> bool:
    """Glob-match one path segment in O(len(pattern) * len(name)).

    A regex with many ``.*`` can backtrack exponentially on a hostile pattern; the classic
    wildcard walk only ever returns to the last ``*``.
    """
    tokens = _segment_tokens(pattern)
    t = n = 0
    star_t, star_n = -1, 0
    while n < len(name):
        token = tokens[t] if t < len(tokens) else None
        if token is _STAR:
            star_t, star_n = t, n
            t += 1
        elif isinstance(token, re.Pattern) and token.fullmatch(name[n]):
            t, n = t + 1, n + 1
        elif star_t >= 0:
            star_n += 1
            t, n = star_t + 1, star_n
        else:
            return False
    return all(token is _STAR for token in tokens[t:])


def _class_end(segment: str, start: int) -> int:
    """Offset of the ``]`` closing the class opened at ``start``, or -1."""
    i = start + 1
    if i < len(segment) and segment[i] in "!^":
        i += 1
    if i < len(segment) and segment[i] == "]":
        i += 1  # a leading ] is a member, not the end
    return segment.find("]", i)


def _match(pattern: tuple[str, ...], path: list[str], *, partial: bool) -> bool:
    """Match path segments against pattern segments (``**`` spans any number of segments).

    With ``partial``, a path that runs out first still matches: something beneath it might.
    """

    @functools.cache
    def step(pi: int, fi: int) -> bool:
        if pi == len(pattern):
            return fi == len(path)
        if fi == len(path):
            return partial or all(p == "**" for p in pattern[pi:])
        if pattern[pi] == "**":
            return step(pi + 1, fi) or step(pi, fi + 1)
        if pattern[pi] != path[fi] and (pi == 0 or not _segment_matches(pattern[pi], path[fi])):
            return False
        return step(pi + 1, fi + 1)

    return step(0, 0)


def _walk(patterns: list[_Pattern], root: str, follow: bool) -> list[str]:
    """The paths the globber yields, in its order, limited to the workspace."""
    found: list[str] = []
    for search_path in _search_paths(patterns, root):
        chain: list[str] = []
        stack = [(search_path, 1)]
        while stack:
            path, level = stack.pop()
            segments = path.split("/")
            kind = _NONE
            for pattern in patterns:
                if pattern.negate:
                    kind &= ~pattern.match(segments)
                else:
                    kind |= pattern.match(segments)
            partial = kind != _NONE or any(
                not p.negate and p.partial_match(segments) for p in patterns
            )
            if not partial:
                continue
            info = _stat(path, follow)
            if info is None:
                continue
            if stat.S_ISDIR(info.st_mode):
                if follow:
                    real = os.path.realpath(path)
                    del chain[level - 1 :]
                    if real in chain:
                        continue  # a symlink cycle
                    chain.append(real)
                names = sorted(os.listdir(path), key=os.fsencode, reverse=True)
                stack.extend((os.path.join(path, name), level + 1) for name in names)
            elif kind & _FILE:
                found.append(path)
    return found


def _stat(path: str, follow: bool) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return None  # vanished, or a broken link when following links


def _search_paths(patterns: list[_Pattern], root: str) -> list[str]:
    """Where to start walking: each positive pattern's literal prefix, clipped to the workspace."""
    candidates = {p.search_path for p in patterns if not p.negate}
    result: list[str] = []
    for pattern in patterns:
        path = pattern.search_path
        if pattern.negate or path in result:
            continue
        parent = os.path.dirname(path)
        ancestors = []
        while parent != path:
            ancestors.append(parent)
            path, parent = parent, os.path.dirname(parent)
        if any(a in candidates for a in ancestors):
            continue
        result.append(pattern.search_path)
    clipped: list[str] = []
    for path in result:
        if path == root or path.startswith(root + "/"):
            clipped.append(path)
        elif root.startswith(path.rstrip("/") + "/") and root not in clipped:
            # Walking from an ancestor visits the workspace in the same order as from it.
            clipped.append(root)
    return clipped
