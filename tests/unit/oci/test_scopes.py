from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.oci.scopes import Scope, covers, format_scope, parse_scopes


def S(type_: str, name: str, *actions: str) -> Scope:
    return Scope(type_, name, frozenset(actions))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ()),
        (["repository:acme/app:pull"], (S("repository", "acme/app", "pull"),)),
        (["repository:acme/app:pull,push"], (S("repository", "acme/app", "pull", "push"),)),
        (["repository:acme/app:*"], (S("repository", "acme/app", "*"),)),
        (["registry:catalog:*"], (S("registry", "catalog", "*"),)),
        (
            ["repository:localhost:5000/acme/app:pull"],
            (S("repository", "localhost:5000/acme/app", "pull"),),
        ),
        (["repository(plugin):acme/plug:pull"], (S("repository", "acme/plug", "pull"),)),
        (
            ["repository:a/b:pull repository:c/d:push"],
            (S("repository", "a/b", "pull"), S("repository", "c/d", "push")),
        ),
        (
            ["repository:a/b:pull", "repository:a/b:push,delete"],
            (S("repository", "a/b", "pull", "push", "delete"),),
        ),
        (["repository:a/b:pull,,push,"], (S("repository", "a/b", "pull", "push"),)),
        (
            ["  repository:a/b:pull\trepository:c/d:pull  "],
            (S("repository", "a/b", "pull"), S("repository", "c/d", "pull")),
        ),
        # invalid items are skipped
        (["repository"], ()),
        (["repository:a/b"], ()),
        (["repository::pull"], ()),
        (["repository:a/b:"], ()),
        (["repository:a/b:,"], ()),
        (["Repository:a/b:pull"], ()),
        (["repo(sitory:a/b:pull"], ()),
        ([":a/b:pull"], ()),
        (["repository:a/b:pull;rm"], ()),
        (["junk repository:a/b:pull"], (S("repository", "a/b", "pull"),)),
    ],
)
def test_parse_scopes(values: list[str], expected: tuple[Scope, ...]) -> None:
    assert parse_scopes(values) == expected


@pytest.mark.parametrize(
    ("scope", "text"),
    [
        (S("repository", "a/b", "push", "pull"), "repository:a/b:pull,push"),
        (S("registry", "catalog", "*"), "registry:catalog:*"),
        (S("repository", "h:5000/a/b", "delete"), "repository:h:5000/a/b:delete"),
    ],
)
def test_format_scope_round_trips(scope: Scope, text: str) -> None:
    assert format_scope(scope) == text
    assert parse_scopes([text]) == (scope,)


GRANTED = (
    S("repository", "acme/app", "push"),
    S("repository", "acme/lib", "pull"),
    S("repository", "acme/all", "*"),
    S("registry", "catalog", "*"),
)


@pytest.mark.parametrize(
    ("type_", "name", "action", "expected"),
    [
        ("repository", "acme/app", "push", True),
        ("repository", "acme/app", "pull", False),  # push does not imply pull
        ("repository", "acme/lib", "pull", True),
        ("repository", "acme/lib", "push", False),
        ("repository", "acme/all", "delete", True),
        ("repository", "acme/all", "pull", True),
        ("repository", "acme/other", "pull", False),
        ("repository", "acme/ap", "push", False),
        ("registry", "catalog", "*", True),
        ("registry", "acme/app", "push", False),
        ("repository", "catalog", "pull", False),
    ],
)
def test_covers(type_: str, name: str, action: str, expected: bool) -> None:
    assert covers(GRANTED, type_, name, action) is expected


def test_covers_nothing_granted() -> None:
    assert not covers((), "repository", "a/b", "pull")


@given(st.lists(st.text(max_size=40), max_size=4))
def test_parse_scopes_total(values: list[str]) -> None:
    for scope in parse_scopes(values):
        assert scope.actions
        assert scope.name
        assert parse_scopes([format_scope(scope)]) == (scope,)
