"""Masking and workflow commands: no secret reaches the output, whoever prints it."""

from __future__ import annotations

import io

import pytest

from cargohold.workflow.log import Log, parse_file_command

TOKEN = "chj_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV"


def make() -> tuple[Log, io.StringIO]:
    out = io.StringIO()
    return Log(out=out), out


def test_masks_every_occurrence_in_every_line() -> None:
    log, out = make()
    log.mask(TOKEN)
    log.line(f"password={TOKEN} again {TOKEN}")
    log.line(f"multi\nline {TOKEN}")
    assert TOKEN not in out.getvalue()
    assert out.getvalue().splitlines() == ["password=*** again ***", "multi", "line ***"]


def test_longer_secret_containing_a_shorter_one_is_masked_whole() -> None:
    log, out = make()
    log.mask("abcd")
    log.mask("abcdefgh")
    log.line("x abcdefgh y")
    assert out.getvalue() == "x *** y\n"


def test_short_values_are_not_masked() -> None:
    log, out = make()
    log.mask("ab")
    log.line("ab cab")
    assert out.getvalue() == "ab cab\n"


def test_multiline_secret_masks_each_line() -> None:
    log, out = make()
    log.mask("first-line\nsecond-line")
    log.line("second-line leaked?")
    assert out.getvalue() == "*** leaked?\n"


def test_add_mask_command_then_value_is_hidden() -> None:
    log, out = make()

    def unknown(name: str, props: dict[str, str], value: str) -> bool:
        return False

    log.step_output("::add-mask::s3cr3t-value\n", unknown)
    log.step_output("the value is s3cr3t-value\n", unknown)
    assert "s3cr3t-value" not in out.getvalue()
    assert "the value is ***" in out.getvalue()


def test_group_error_and_unknown_commands() -> None:
    log, out = make()
    seen: list[str] = []

    def handler(name: str, props: dict[str, str], value: str) -> bool:
        seen.append(name)
        return name == "set-output"

    for line in [
        "::group::Build",
        "::endgroup::",
        "::error file=app.py,line=3::bad thing%0Ahappened",
        "::warning::careful",
        "::set-output name=x::1",
        "::unknown::kept",
        "::debug::hidden",
    ]:
        log.step_output(line, handler)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["##[group]Build", "##[endgroup]"]
    assert lines[2] == "##[error]app.py:3: bad thing"
    assert lines[3] == "happened"
    assert "##[warning]careful" in lines
    assert "::unknown::kept" in lines
    assert "hidden" not in out.getvalue()
    assert [a.render() for a in log.annotations][:1] == ["Error: app.py:3: bad thing\nhappened"]
    assert seen == ["set-output", "unknown"]


def test_annotations_are_masked_too() -> None:
    log, _ = make()
    log.mask(TOKEN)
    log.step_output(f"::error::token {TOKEN} refused", lambda *a: False)
    assert TOKEN not in log.annotations[0].render()


def test_file_commands() -> None:
    text = "A=1\nB<<EOF\nline 1\nline 2\nEOF\nC=x=y\n\n"
    assert parse_file_command(text, "GITHUB_ENV") == {
        "A": "1",
        "B": "line 1\nline 2",
        "C": "x=y",
    }


@pytest.mark.parametrize("text", ["NOEQUALS\n", "X<<EOF\nno end\n"])
def test_bad_file_commands(text: str) -> None:
    with pytest.raises(ValueError, match="GITHUB_OUTPUT"):
        parse_file_command(text, "GITHUB_OUTPUT")


def test_terminal_rendering_keeps_masking() -> None:
    out = io.StringIO()
    log = Log(out=out, terminal=True)
    log.mask(TOKEN)
    log.group(f"Run echo {TOKEN}")
    log.line("#4 pushing layer abc")
    log.endgroup()
    log.error("it failed")
    lines = out.getvalue().splitlines()
    assert lines == [
        "\x1b[1m\u25b6 Run echo ***\x1b[0m",
        "\x1b[34m#4\x1b[0m pushing layer abc",
        "\x1b[31mError: it failed\x1b[0m",
    ]
