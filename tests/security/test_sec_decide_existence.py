"""Security finding 6: organization members learned which private packages exist.

With "Package creation" set to public only (``--member-create public``) and private as the
default visibility, a member without a grant pushing to an existing private package got
``permission_denied: write_package`` and to a missing one ``permission_denied: create_package
... may create only public packages``: one push told them whether the package exists. Spec
section 5: to a caller who cannot read the package, a missing one looks exactly like a private one.
"""

from __future__ import annotations

import itertools

import pytest

from cargohold.authz.decide import Allowed, Denied, decide, may_create
from cargohold.authz.model import (
    Action,
    Credential,
    CredentialKind,
    OwnerState,
    PackageState,
    Principal,
    PrincipalKind,
    Role,
    Visibility,
)

PUBLIC, PRIVATE, INTERNAL = Visibility.PUBLIC, Visibility.PRIVATE, Visibility.INTERNAL
MARK = Principal(PrincipalKind.USER, 3, "mark", org_roles={100: "member"})
TEAM = 50
TINA = Principal(
    PrincipalKind.USER, 6, "tina", org_roles={100: "member"}, team_ids=frozenset({TEAM})
)
CREDENTIALS = [
    Credential(
        CredentialKind.PAT,
        id="chp_full",
        scopes=frozenset({"read:packages", "write:packages", "delete:packages"}),
    ),
    Credential(CredentialKind.PAT, id="chp_read", scopes=frozenset({"read:packages"})),
    Credential(CredentialKind.SESSION),
]
# Every policy under which a member may not create at the default visibility.
POLICIES = [
    (frozenset({PUBLIC}), PRIVATE),
    (frozenset(), PRIVATE),
    (frozenset({PUBLIC, INTERNAL}), PRIVATE),
    (frozenset({PRIVATE}), INTERNAL),
    (frozenset(), PUBLIC),
]


def _acme(members: frozenset[Visibility], default: Visibility) -> OwnerState:
    return OwnerState(
        100, "acme", "org", member_create_visibilities=members, default_visibility=default
    )


def _missing(owner: OwnerState) -> PackageState:
    return PackageState("acme/secret", owner, exists=False)


def _private(owner: OwnerState, **grants: object) -> PackageState:
    return PackageState("acme/secret", owner, exists=True, id=7, visibility=PRIVATE, **grants)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "credential", "action"),
    list(itertools.product(POLICIES, CREDENTIALS, list(Action))),
)
def test_a_member_who_cannot_read_gets_one_answer_for_missing_and_private(
    policy: tuple[frozenset[Visibility], Visibility], credential: Credential, action: Action
) -> None:
    owner = _acme(*policy)
    missing, existing = _missing(owner), _private(owner)
    assert not may_create(MARK, missing)
    one = decide(MARK, credential, action, missing)
    two = decide(MARK, credential, action, existing)
    assert isinstance(one, Denied)
    assert one == two


def test_the_one_answer_still_names_the_creation_policy() -> None:
    owner = _acme(frozenset({PUBLIC}), PRIVATE)
    decision = decide(MARK, CREDENTIALS[0], Action.PUSH, _private(owner))
    assert isinstance(decision, Denied)
    assert decision.reason == "create_package"
    assert decision.message.startswith("permission_denied: create_package: user mark")
    assert "may create only public packages" in decision.message
    assert decision.detail["member_create_visibilities"] == ["public"]


def test_a_member_who_can_read_is_told_it_lacks_write() -> None:
    # Reading the package already tells it the package exists: nothing to hide.
    owner = _acme(frozenset({PUBLIC}), PRIVATE)
    readable = _private(owner, team_grants={TEAM: Role.READ})
    decision = decide(TINA, CREDENTIALS[0], Action.PUSH, readable)
    assert isinstance(decision, Denied)
    assert decision.reason == "write_package"
    assert decision.held is Role.READ


def test_a_member_who_may_create_learns_existence_only_by_creating() -> None:
    # Allowed to create: a missing package is created, an existing one says write_package.
    owner = _acme(frozenset(Visibility), PRIVATE)
    assert isinstance(decide(MARK, CREDENTIALS[0], Action.PUSH, _missing(owner)), Allowed)
    existing = decide(MARK, CREDENTIALS[0], Action.PUSH, _private(owner))
    assert isinstance(existing, Denied) and existing.reason == "write_package"
