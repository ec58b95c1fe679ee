"""The plain values of the permission model: roles, enums, immutability."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from cargohold.authz.model import (
    ANONYMOUS,
    PAT_SCOPES,
    REPO_ROLE_TO_ROLE,
    REPO_ROLES,
    Action,
    Credential,
    CredentialKind,
    OwnerState,
    PackageState,
    Principal,
    PrincipalKind,
    RepoRef,
    Role,
    Visibility,
)

ACME = OwnerState(100, "acme", "org")


def test_roles_are_ordered() -> None:
    assert Role.NONE < Role.READ < Role.WRITE < Role.ADMIN
    assert max(Role.READ, Role.ADMIN, Role.WRITE) is Role.ADMIN


@pytest.mark.parametrize(
    ("role", "label"),
    [(Role.NONE, "none"), (Role.READ, "read"), (Role.WRITE, "write"), (Role.ADMIN, "admin")],
)
def test_role_label_and_parse_round_trip(role: Role, label: str) -> None:
    assert role.label == label
    assert Role.parse(label) is role
    assert Role.parse(f" {label.upper()} ") is role


@pytest.mark.parametrize("text", ["", "owner", "maintain", "triage", "rw", "readwrite"])
def test_role_parse_rejects_other_words(text: str) -> None:
    with pytest.raises(ValueError, match="expected one of none, read, write, admin"):
        Role.parse(text)


def test_enum_values_are_the_wire_words() -> None:
    assert [a.value for a in Action] == ["pull", "push", "delete", "admin"]
    assert [v.value for v in Visibility] == ["public", "private", "internal"]
    assert [k.value for k in PrincipalKind] == ["anonymous", "user", "repository"]
    assert [k.value for k in CredentialKind] == ["none", "pat", "job", "session"]
    assert PAT_SCOPES == ("read:packages", "write:packages", "delete:packages")


@pytest.mark.parametrize(
    ("repo_role", "role"),
    [
        ("read", Role.READ),
        ("triage", Role.READ),
        ("write", Role.WRITE),
        ("maintain", Role.WRITE),
        ("admin", Role.ADMIN),
    ],
)
def test_repository_roles_map_to_package_roles(repo_role: str, role: Role) -> None:
    assert REPO_ROLE_TO_ROLE[repo_role] is role


def test_every_repository_role_is_mapped() -> None:
    assert tuple(REPO_ROLE_TO_ROLE) == REPO_ROLES


def test_anonymous_constant() -> None:
    assert ANONYMOUS.kind is PrincipalKind.ANONYMOUS
    assert ANONYMOUS.user_id is None and ANONYMOUS.repo is None
    assert dict(ANONYMOUS.org_roles) == {} and ANONYMOUS.team_ids == frozenset()


def test_owner_defaults_allow_every_visibility() -> None:
    assert ACME.member_create_visibilities == frozenset(Visibility)
    assert ACME.default_visibility is Visibility.PRIVATE
    assert ACME.inherit_default is True
    assert ACME.is_org and not OwnerState(1, "alice", "user").is_org


def test_values_are_frozen() -> None:
    principal = Principal(PrincipalKind.USER, 1, "alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.login = "mallory"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Credential(CredentialKind.PAT).scopes = frozenset()  # type: ignore[misc]


def test_mappings_are_copied_and_read_only() -> None:
    grants = {1: Role.READ}
    package = PackageState("acme/shop", ACME, exists=True, user_grants=grants)
    grants[1] = Role.ADMIN  # the caller's dict changing later does not change the decision input
    assert package.user_grants[1] is Role.READ
    assert isinstance(package.user_grants, MappingProxyType)
    with pytest.raises(TypeError):
        package.user_grants[2] = Role.ADMIN  # type: ignore[index]
    org_roles = {100: "member"}
    principal = Principal(PrincipalKind.USER, 1, org_roles=org_roles, team_ids={5})  # type: ignore[arg-type]
    org_roles[100] = "owner"
    assert principal.org_roles[100] == "member"
    assert principal.team_ids == frozenset({5}) and isinstance(principal.team_ids, frozenset)


def test_sets_become_frozensets() -> None:
    credential = Credential(CredentialKind.PAT, scopes={"read:packages"})  # type: ignore[arg-type]
    assert isinstance(credential.scopes, frozenset)
    owner = OwnerState(1, "acme", "org", member_create_visibilities={Visibility.PUBLIC})  # type: ignore[arg-type]
    assert isinstance(owner.member_create_visibilities, frozenset)


def test_values_compare_by_value() -> None:
    one = PackageState("acme/shop", ACME, exists=True, user_grants={1: Role.READ})
    two = PackageState("acme/shop", ACME, exists=True, user_grants=MappingProxyType({1: Role.READ}))
    assert one == two
    assert RepoRef(1, "acme/shop", 100) == RepoRef(1, "acme/shop", 100)


@pytest.mark.parametrize(
    ("name", "short"),
    [("acme/shop", "shop"), ("acme/tools/cli", "tools/cli"), ("alice/a/b/c", "a/b/c")],
)
def test_short_name_drops_the_owner(name: str, short: str) -> None:
    assert PackageState(name, ACME, exists=False).short_name == short


def test_package_defaults_describe_a_private_package_without_grants() -> None:
    package = PackageState("acme/shop", ACME, exists=False)
    assert package.visibility is Visibility.PRIVATE
    assert package.linked_repo is None and package.inherit is False
    for mapping in (
        package.user_grants,
        package.team_grants,
        package.actions_access,
        package.repo_user_roles,
        package.repo_team_roles,
        package.deleted_repos,
        package.team_names,
    ):
        assert dict(mapping) == {}
