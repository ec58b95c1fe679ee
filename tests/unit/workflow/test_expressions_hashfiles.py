"""hashFiles over a real directory tree.

EXPR#hashfiles: "Returns a single hash for the set of files that matches the path pattern
... relative to the GITHUB_WORKSPACE directory ... If the path pattern does not match any
files, this returns an empty string"; the hash is SHA-256 over each file's SHA-256 (RUNNER:
src/Misc/expressionFunc/hashFiles/src/hashFiles.ts); matching is @actions/glob's.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cargohold.workflow.expressions import ExpressionEvaluationError, evaluate


def digest(*contents: bytes) -> str:
    outer = hashlib.sha256()
    for content in contents:
        outer.update(hashlib.sha256(content).digest())
    return outer.hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    files = {
        "a.txt": b"A",
        "b/c.txt": b"C",
        "b/d.log": b"D",
        ".hidden": b"H",
        "node_modules/x.txt": b"X",
        "q/a-c": b"AC",
        "q/a/b": b"AB",
        "star*": b"S",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (tmp_path / "outside.txt").write_bytes(b"secret")
    return root


def hash_files(workspace: Path, *patterns: str) -> str:
    args = ", ".join("'" + p.replace("'", "''") + "'" for p in patterns)
    result = evaluate(f"hashFiles({args})", {}, workspace=str(workspace))
    assert isinstance(result, str)
    return result


CASES = [
    # (patterns, contents of the matched files in the order they are hashed)
    (["**/*.txt"], [b"A", b"C", b"X"]),
    (["**/*.txt", "!**/node_modules/**"], [b"A", b"C"]),
    (["**/*.txt", "!node_modules"], [b"A", b"C"]),  # a directory excludes what it holds
    (["!**/*.log", "b/**"], [b"C", b"D"]),  # patterns apply in order
    (["b/**", "!b/**", "b/c.txt"], [b"C"]),
    (["a.txt"], [b"A"]),
    (["./a.txt"], [b"A"]),
    (["b"], [b"C", b"D"]),  # a directory selects everything beneath it
    (["b/"], [b"C", b"D"]),
    (["b/*"], [b"C", b"D"]),
    (["b/[cd].*"], [b"C", b"D"]),
    (["b/[!c].*"], [b"D"]),
    (["b/[^c]*"], [b"D"]),
    (["?.txt"], [b"A"]),
    (["*.TXT"], []),  # case-sensitive on Linux
    (["star\\*"], [b"S"]),
    (["st[a]r*"], [b"S"]),
    (["st[ar*"], []),
    (["st**"], [b"S"]),  # ** inside a segment is just *  # an unclosed [ is a plain character
    (["b/[]c].txt"], [b"C"]),  # a leading ] belongs to the class
    (["**"], [b"H", b"A", b"C", b"D", b"X", b"AB", b"AC", b"S"]),  # dot files too
    (["."], [b"H", b"A", b"C", b"D", b"X", b"AB", b"AC", b"S"]),
    (["*"], [b"H", b"A", b"C", b"D", b"X", b"AB", b"AC", b"S"]),
    (["a.txt\nb/c.txt"], [b"A", b"C"]),  # one argument, several lines
    (["# comment\n\n  a.txt  "], [b"A"]),
    (["a.txt", "a.txt"], [b"A"]),
    (["b/c.txt", "a.txt"], [b"C", b"A"]),  # search paths in the order given
    (["a.txt/**"], [b"A"]),
    # depth-first with each directory's entries in byte order: q/a/b before q/a-c
    (["q/**"], [b"AB", b"AC"]),
    (["nothing"], []),
    (["nope/**"], []),
    (["b/[z-a]"], []),
    (["~/anything"], []),
    (["/etc/passwd"], []),
]


@pytest.mark.parametrize(("patterns", "contents"), CASES)
def test_hash_files(workspace: Path, patterns: list[str], contents: list[bytes]) -> None:
    expected = digest(*contents) if contents else ""
    assert hash_files(workspace, *patterns) == expected


def test_absolute_patterns_inside_the_workspace(workspace: Path) -> None:
    assert hash_files(workspace, f"{workspace}/a.txt") == digest(b"A")
    everything = hash_files(workspace, "**")
    assert hash_files(workspace, "/**") == everything
    assert hash_files(workspace, str(workspace)) == everything
    assert hash_files(workspace, f"{workspace.parent}/*/b/c.txt") == digest(b"C")


def test_result_is_sha256_hex(workspace: Path) -> None:
    result = hash_files(workspace, "a.txt")
    assert len(result) == 64
    assert result == hashlib.sha256(hashlib.sha256(b"A").digest()).hexdigest()


def test_symlinks(workspace: Path) -> None:
    (workspace / "link.txt").symlink_to(workspace / "a.txt")
    (workspace / "escape.txt").symlink_to(workspace.parent / "outside.txt")
    (workspace / "linkdir").symlink_to(workspace / "b", target_is_directory=True)
    (workspace / "loop").symlink_to(workspace, target_is_directory=True)
    # a link to a file in the workspace is hashed (GitHub reads through links)...
    assert hash_files(workspace, "link.txt") == digest(b"A")
    # ...but never one that leads out of it
    assert hash_files(workspace, "escape.txt") == ""
    # without the option, linked directories are not entered
    assert hash_files(workspace, "linkdir/**") == ""
    assert hash_files(workspace, "--follow-symbolic-links", "linkdir/**") == digest(b"C", b"D")
    assert hash_files(workspace, "--FOLLOW-SYMBOLIC-LINKS", "linkdir/c.txt") == digest(b"C")
    # a cycle ends: a directory already on the walked chain is not entered again, so
    # loop/** holds the workspace once (linked files and linkdir included, loop/loop not)
    assert hash_files(workspace, "--follow-symbolic-links", "loop/a.txt") == digest(b"A")
    once = [b"H", b"A", b"C", b"D", b"A", b"C", b"D", b"X", b"AB", b"AC", b"S"]
    assert hash_files(workspace, "--follow-symbolic-links", "loop/**") == digest(*once)


def test_broken_link_fails_like_github(workspace: Path) -> None:
    (workspace / "broken").symlink_to(workspace / "missing")
    with pytest.raises(ExpressionEvaluationError, match=r"failed\. Fail to hash files"):
        hash_files(workspace, "broken")
    # following links, a broken one is skipped
    assert hash_files(workspace, "--follow-symbolic-links", "broken") == ""


def test_workspace_given_by_relative_path(workspace: Path) -> None:
    previous = os.getcwd()
    os.chdir(workspace.parent)
    try:
        result = evaluate("hashFiles('a.txt')", {}, workspace="ws")
    finally:
        os.chdir(previous)
    assert result == digest(b"A")


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (["../outside.txt"], "Relative pathing '.' and '..' is not allowed"),
        (["b/../a.txt"], "Relative pathing"),
        (["b/./c.txt"], "Relative pathing"),
        (["/./a"], "Relative pathing"),
        (["!"], "pattern cannot be empty"),
        (["--bogus", "a.txt"], "Invalid glob option --bogus"),
    ],
)
def test_bad_patterns(workspace: Path, patterns: list[str], message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        hash_files(workspace, *patterns)


def test_hostile_glob_does_not_backtrack_forever(workspace: Path) -> None:
    # '*a' repeated is exponential for a backtracking regex on a long run of 'a'
    (workspace / ("a" * 200)).write_bytes(b"long")
    assert hash_files(workspace, "*a" * 40 + "b") == ""
    assert hash_files(workspace, "*a" * 40) == digest(b"long")
    assert hash_files(workspace, "**/" * 30 + "*a*a*a*a*a*a*a*a*a*c") == ""


def test_option_only_in_first_place(workspace: Path) -> None:
    # later arguments starting with -- are patterns (which match nothing here)
    assert hash_files(workspace, "a.txt", "--follow-symbolic-links") == digest(b"A")
