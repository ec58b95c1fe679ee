"""Properties of the decision over random principals, packages and credentials.

- a credential never allows more than a session (the principal's full power);
- narrowing is monotone: more PAT scopes, or a higher job ``packages:``, never reduces access;
- more grants never reduce access;
- every denial is well formed; a missing package looks like a private one to non-creators.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from cargohold.authz.decide import Allowed, Denied, decide, effective_role, may_create
from cargohold.authz.denials import GHCR_TEXT
from cargohold.authz.model import (
    ANONYMOUS,
    PAT_SCOPES,
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

ORG, ORG_B, ALICE = 100, 200, 1
REPOS = [
    RepoRef(10, "acme/shop", ORG),
    RepoRef(11, "acme/other", ORG),
    RepoRef(12, "beta/fork", ORG_B),
    RepoRef(13, "acme/shop", ORG),  # re-created
    RepoRef(20, "alice/tool", ALICE),
]
USER_IDS = st.integers(min_value=1, max_value=6)
TEAM_IDS = st.sampled_from([50, 51, 52])
REPO_IDS = st.sampled_from([r.id for r in REPOS])
ROLES = st.sampled_from(list(Role))
SESSION = Credential(CredentialKind.SESSION)

owners = st.one_of(
    st.builds(
        OwnerState,
        id=st.just(ORG),
        login=st.just("acme"),
        kind=st.just("org"),
        member_create_visibilities=st.frozensets(st.sampled_from(list(Visibility))),
        default_visibility=st.sampled_from(list(Visibility)),
        inherit_default=st.booleans(),
    ),
    st.just(OwnerState(ALICE, "alice", "user")),
)

users = st.builds(
    Principal,
    kind=st.just(PrincipalKind.USER),
    user_id=USER_IDS,
    login=st.sampled_from(["alice", "bob", "carol"]),
    site_admin=st.sampled_from([False, False, False, True]),
    org_roles=st.dictionaries(st.sampled_from([ORG, ORG_B]), st.sampled_from(["owner", "member"])),
    team_ids=st.frozensets(TEAM_IDS),
)
jobs = st.builds(Principal, kind=st.just(PrincipalKind.REPOSITORY), repo=st.sampled_from(REPOS))
principals = st.one_of(st.just(ANONYMOUS), users, jobs)


@st.composite
def packages(draw: st.DrawFn, exists: bool | None = None) -> PackageState:
    owner = draw(owners)
    return PackageState(
        name=f"{owner.login}/pkg",
        owner=owner,
        exists=draw(st.booleans()) if exists is None else exists,
        id=1,
        visibility=draw(st.sampled_from(list(Visibility))),
        publisher_user_id=draw(st.none() | USER_IDS),
        publisher_repo_id=draw(st.none() | REPO_IDS),
        linked_repo=draw(st.none() | st.sampled_from(REPOS)),
        inherit=draw(st.booleans()),
        user_grants=draw(st.dictionaries(USER_IDS, ROLES, max_size=3)),
        team_grants=draw(st.dictionaries(TEAM_IDS, ROLES, max_size=2)),
        actions_access=draw(st.dictionaries(REPO_IDS, ROLES, max_size=3)),
        repo_user_roles=draw(st.dictionaries(USER_IDS, st.sampled_from(REPO_ROLES), max_size=3)),
        repo_team_roles=draw(st.dictionaries(TEAM_IDS, st.sampled_from(REPO_ROLES), max_size=2)),
        deleted_repos=draw(st.sampled_from([{}, {10: "acme/shop"}])),
    )


scope_sets = st.frozensets(st.sampled_from(PAT_SCOPES))
credentials = st.one_of(  # one random credential per example
    st.builds(Credential, kind=st.just(CredentialKind.PAT), id=st.just("chp_x"), scopes=scope_sets),
    st.builds(
        Credential,
        kind=st.just(CredentialKind.JOB),
        packages=st.sampled_from([Role.NONE, Role.READ, Role.WRITE]),
        run_id=st.none() | st.just("42"),
    ),
    st.just(SESSION),
    st.just(Credential(CredentialKind.NONE)),
)
actions = st.sampled_from(list(Action))


ALL_SCOPE_SETS = [
    frozenset(s for i, s in enumerate(PAT_SCOPES) if mask & (1 << i)) for mask in range(8)
]
EVERY_CREDENTIAL = [
    *(Credential(CredentialKind.PAT, id="chp_x", scopes=scopes) for scopes in ALL_SCOPE_SETS),
    *(Credential(CredentialKind.JOB, packages=p) for p in (Role.NONE, Role.READ, Role.WRITE)),
    Credential(CredentialKind.NONE),
]


@settings(max_examples=300, database=None)
@given(principals, actions, packages())
def test_a_credential_never_allows_more_than_a_session(
    principal: Principal, action: Action, package: PackageState
) -> None:
    full = decide(principal, SESSION, action, package)
    for credential in EVERY_CREDENTIAL:
        narrowed = decide(principal, credential, action, package)
        if isinstance(narrowed, Allowed):
            assert isinstance(full, Allowed), credential
            assert narrowed.role <= full.role
            assert narrowed.creates == full.creates


@settings(max_examples=300, database=None)
@given(principals, actions, packages())
def test_more_scopes_never_reduce_access(
    principal: Principal, action: Action, package: PackageState
) -> None:
    allowed = {
        scopes: isinstance(
            decide(principal, Credential(CredentialKind.PAT, scopes=scopes), action, package),
            Allowed,
        )
        for scopes in ALL_SCOPE_SETS
    }
    for fewer in ALL_SCOPE_SETS:
        for more in ALL_SCOPE_SETS:
            if fewer <= more and allowed[fewer]:
                assert allowed[more], (sorted(fewer), sorted(more))


@settings(max_examples=200, database=None)
@given(principals, actions, packages())
def test_higher_job_permission_never_reduces_access(
    principal: Principal, action: Action, package: PackageState
) -> None:
    allowed = [
        isinstance(
            decide(principal, Credential(CredentialKind.JOB, packages=p), action, package), Allowed
        )
        for p in (Role.NONE, Role.READ, Role.WRITE)
    ]
    assert allowed == sorted(allowed)  # False before True, never True then False


@settings(max_examples=200, database=None)
@given(principals, credentials, actions, packages(exists=True), USER_IDS, REPO_IDS, ROLES)
def test_more_grants_never_reduce_access(
    principal: Principal,
    credential: Credential,
    action: Action,
    package: PackageState,
    user_id: int,
    repo_id: int,
    role: Role,
) -> None:
    before = decide(principal, credential, action, package)
    user_grants = dict(package.user_grants)
    user_grants[user_id] = max(role, user_grants.get(user_id, Role.NONE))
    actions_access = dict(package.actions_access)
    actions_access[repo_id] = max(role, actions_access.get(repo_id, Role.NONE))
    granted = dataclasses.replace(package, user_grants=user_grants, actions_access=actions_access)
    after = decide(principal, credential, action, granted)
    if isinstance(before, Allowed):
        assert isinstance(after, Allowed) and after.role >= before.role


@settings(max_examples=200, database=None)
@given(principals, credentials, actions, packages())
def test_denials_are_well_formed(
    principal: Principal, credential: Credential, action: Action, package: PackageState
) -> None:
    decision = decide(principal, credential, action, package, base_url="https://r.example")
    if isinstance(decision, Allowed):
        role, _ = effective_role(principal, package)
        if package.exists:
            assert decision.role in (role, Role.READ)
        return
    assert isinstance(decision, Denied)
    assert decision.message.startswith(GHCR_TEXT[decision.reason])
    assert decision.gate in ("authentication", "token", "role")
    assert (decision.code == "UNAUTHORIZED") is (decision.gate == "authentication")
    if decision.gate == "role":
        assert decision.held < decision.needed
        assert decision.held is effective_role(principal, package)[0]
    assert decision.fix and decision.detail["fix"] == list(decision.fix)
    assert decision.detail["package"] == package.name
    assert decision.detail["action"] == action.value
    assert all("https://r.example" in f for f in decision.fix if f.startswith("http"))


@settings(max_examples=200, database=None)
@given(principals, credentials, actions, packages(exists=False))
def test_missing_package_looks_private_to_non_creators(
    principal: Principal, credential: Credential, action: Action, missing: PackageState
) -> None:
    if may_create(principal, missing):
        return
    private = PackageState(missing.name, missing.owner, exists=True, id=7)
    one = decide(principal, credential, action, missing)
    two = decide(principal, credential, action, private)
    # No exception, not even for members refused by the creation policy (security finding 6).
    assert one == two
