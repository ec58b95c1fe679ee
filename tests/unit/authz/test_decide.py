"""Table tests of the permission decision (docs/permissions.md sections 2 to 5)."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import pytest

from cargohold.authz.decide import (
    SOURCE_KINDS,
    Allowed,
    Decision,
    Denied,
    decide,
    effective_role,
    explain,
    may_create,
)
from cargohold.authz.denials import GHCR_TEXT
from cargohold.authz.model import (
    ANONYMOUS,
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
from cargohold.errors import DeniedError, UnauthorizedError

USER, REPO = PrincipalKind.USER, PrincipalKind.REPOSITORY
PUBLIC, PRIVATE, INTERNAL = Visibility.PUBLIC, Visibility.PRIVATE, Visibility.INTERNAL
PULL, PUSH, DELETE, ADMIN = Action.PULL, Action.PUSH, Action.DELETE, Action.ADMIN

# Exact texts of spec section 5, written out here rather than imported, so a typo in the code
# cannot hide behind the same typo in the test.
SPEC_TEXT = {
    "authentication_required": "authentication required",
    "scopes": "permission_denied: The token provided does not match expected scopes.",
    "installation_write": "installation not allowed to Write organization package",
    "installation_create": "installation not allowed to Create organization package",
    "installation_read": "installation not allowed to Read organization package",
    "read_package": "permission_denied: read_package",
    "write_package": "permission_denied: write_package",
    "create_package": "permission_denied: create_package",
    "delete_package": "permission_denied: delete_package",
    "admin_package": "permission_denied: admin_package",
}

# -- the world ---------------------------------------------------------------------------------

ACME = OwnerState(100, "acme", "org")
ALICE_NS = OwnerState(1, "alice", "user")
SHOP = RepoRef(10, "acme/shop", 100)
OTHER = RepoRef(11, "acme/other", 100)
FORK = RepoRef(12, "evil/fork", 200)
SHOP_AGAIN = RepoRef(13, "acme/shop", 100)  # acme/shop deleted and re-created: same name, new id
TOOL = RepoRef(20, "alice/tool", 1)
TEAM = 50  # acme/devs; has "read" on acme/shop
COLLABORATOR_ID = 7  # cole: outside collaborator of acme/shop with "maintain"
PUBLISHER_ID = 99  # nobody in the table published the package

PRINCIPALS: dict[str, Principal] = {
    "anonymous": ANONYMOUS,
    "owner_user": Principal(USER, 1, "alice"),
    "org_owner": Principal(USER, 2, "olivia", org_roles={100: "owner"}),
    "org_member": Principal(USER, 3, "mark", org_roles={100: "member"}),
    "outsider": Principal(USER, 4, "oscar", org_roles={300: "owner"}),
    "site_admin": Principal(USER, 5, "sam", site_admin=True),
    "team_member": Principal(
        USER, 6, "tina", org_roles={100: "member"}, team_ids=frozenset({TEAM})
    ),
    "collaborator": Principal(USER, COLLABORATOR_ID, "cole"),
    "job_linked": Principal(REPO, repo=SHOP),
    "job_same_owner": Principal(REPO, repo=OTHER),
    "job_other_owner": Principal(REPO, repo=FORK),
    "job_recreated": Principal(REPO, repo=SHOP_AGAIN),
}
USERS = {k for k, p in PRINCIPALS.items() if p.kind is USER}
JOBS = {k for k, p in PRINCIPALS.items() if p.kind is REPO}
ACME_MEMBERS = {"org_owner", "org_member", "team_member"}
ACME_REPOS = {"job_linked", "job_same_owner", "job_recreated"}

GRANTS = ["none"] + [
    f"{kind}:{level}"
    for kind in ("user", "team", "actions")
    for level in ("read", "write", "admin")
]


def _package(pkey: str, visibility: Visibility, grant: str, inherit: bool) -> PackageState:
    """The package the row's principal asks about; grants target that principal."""
    kind, _, level = grant.partition(":")
    role = Role.parse(level) if level else Role.NONE
    principal = PRINCIPALS[pkey]
    user_grants = {principal.user_id: role} if kind == "user" and principal.user_id else {}
    team_grants = {TEAM: role} if kind == "team" else {}
    repo_id = principal.repo.id if principal.repo else None
    if pkey == "job_recreated":
        repo_id = SHOP.id  # its grants were made to the deleted repository of the same name
    actions = {repo_id: role} if kind == "actions" and repo_id is not None else {}
    name, owner = ("alice/tool", ALICE_NS) if pkey == "owner_user" else ("acme/shop", ACME)
    linked: RepoRef | None = TOOL if pkey == "owner_user" else SHOP
    deleted: dict[int, str] = {}
    if pkey == "job_recreated":
        linked, deleted = None, {SHOP.id: SHOP.full_name}
    return PackageState(
        name=name,
        owner=owner,
        exists=True,
        id=1,
        visibility=visibility,
        publisher_user_id=PUBLISHER_ID,
        linked_repo=linked,
        inherit=inherit,
        user_grants=user_grants,
        team_grants=team_grants,
        actions_access=actions,
        repo_user_roles={COLLABORATOR_ID: "maintain"},
        repo_team_roles={TEAM: "read"},
        deleted_repos=deleted,
        team_names={TEAM: "acme/devs"},
    )


def _expected_role(pkey: str, visibility: Visibility, grant: str, inherit: bool) -> Role:
    """Spec section 2, principal by principal."""
    if pkey in ("owner_user", "org_owner", "site_admin"):
        return Role.ADMIN
    kind, _, level = grant.partition(":")
    granted = Role.parse(level) if level else Role.NONE
    roles = [Role.NONE]
    if visibility is PUBLIC:
        roles.append(Role.READ)
    if visibility is INTERNAL and pkey in ACME_MEMBERS | ACME_REPOS:
        roles.append(Role.READ)
    if kind == "user" and pkey in USERS:
        roles.append(granted)
    if kind == "team" and pkey == "team_member":
        roles.append(granted)
    if kind == "actions" and pkey in JOBS - {"job_recreated"}:
        roles.append(granted)
    if inherit:
        roles.append(
            {"collaborator": Role.WRITE, "team_member": Role.READ, "job_linked": Role.WRITE}.get(
                pkey, Role.NONE
            )
        )
    return max(roles)


NEEDED = {PULL: Role.READ, PUSH: Role.WRITE, DELETE: Role.ADMIN, ADMIN: Role.ADMIN}
USER_REASON = {
    PULL: "read_package",
    PUSH: "write_package",
    DELETE: "delete_package",
    ADMIN: "admin_package",
}
JOB_REASON = {**USER_REASON, PULL: "installation_read"}

FULL_PAT = Credential(
    CredentialKind.PAT,
    id="chp_full",
    scopes=frozenset({"read:packages", "write:packages", "delete:packages"}),
)
FULL_JOB = Credential(CredentialKind.JOB, id="job_1", packages=Role.WRITE, run_id="42")
NO_CREDENTIAL = Credential(CredentialKind.NONE)
SESSION = Credential(CredentialKind.SESSION)


def _full_credential(pkey: str) -> Credential:
    kind = PRINCIPALS[pkey].kind
    return FULL_PAT if kind is USER else FULL_JOB if kind is REPO else NO_CREDENTIAL


def _assert_well_formed(decision: Denied) -> None:
    assert decision.message.startswith(
        SPEC_TEXT[decision.reason] + (" " if decision.reason == "scopes" else ": ")
    )
    assert decision.code == ("UNAUTHORIZED" if decision.gate == "authentication" else "DENIED")
    assert decision.detail["reason"] == decision.reason
    assert decision.detail["gate"] == decision.gate
    assert decision.detail["held"] == decision.held.label
    assert decision.detail["needed"] == decision.needed.label
    assert decision.detail["fix"] == list(decision.fix)
    assert decision.fix, "every denial says how to fix it"
    assert "message" not in decision.detail


ROLE_ROWS = list(itertools.product(PRINCIPALS, Visibility, GRANTS, (False, True)))


# -- the big table: principal x visibility x grant x inheritance ---------------------------------


@pytest.mark.parametrize(("pkey", "visibility", "grant", "inherit"), ROLE_ROWS)
def test_effective_role(pkey: str, visibility: Visibility, grant: str, inherit: bool) -> None:
    role, sources = effective_role(PRINCIPALS[pkey], _package(pkey, visibility, grant, inherit))
    assert role is _expected_role(pkey, visibility, grant, inherit)
    assert [s.role for s in sources] == sorted((s.role for s in sources), reverse=True)
    assert role == (sources[0].role if sources else Role.NONE)
    assert all(s.kind in SOURCE_KINDS and s.description for s in sources)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("pkey", "visibility", "grant", "inherit"), ROLE_ROWS)
def test_decision_table(
    pkey: str, visibility: Visibility, grant: str, inherit: bool, action: Action
) -> None:
    package = _package(pkey, visibility, grant, inherit)
    decision = decide(PRINCIPALS[pkey], _full_credential(pkey), action, package)
    role = _expected_role(pkey, visibility, grant, inherit)
    if pkey == "anonymous":
        allowed = action is PULL and visibility is PUBLIC
    else:
        allowed = role >= NEEDED[action]
    if allowed:
        assert isinstance(decision, Allowed)
        assert decision.role is role and not decision.creates
        return
    assert isinstance(decision, Denied)
    _assert_well_formed(decision)
    if pkey == "anonymous":
        assert (decision.code, decision.gate, decision.reason) == (
            "UNAUTHORIZED",
            "authentication",
            "authentication_required",
        )
        assert decision.held is Role.NONE
    else:
        reason = (JOB_REASON if pkey in JOBS else USER_REASON)[action]
        assert (decision.code, decision.gate, decision.reason) == ("DENIED", "role", reason)
        assert decision.held is role
    assert decision.needed is NEEDED[action]
    assert ("was deleted" in decision.message) is (pkey == "job_recreated")


# -- credential narrowing ------------------------------------------------------------------------


def _pat(letters: str) -> Credential:
    names = {"r": "read:packages", "w": "write:packages", "d": "delete:packages"}
    return Credential(
        CredentialKind.PAT, id="chp_abc123", scopes=frozenset(names[c] for c in letters)
    )


ALICE_PRIVATE = PackageState("alice/tool", ALICE_NS, exists=True, id=2)
ACME_PUBLIC = PackageState("acme/site", ACME, exists=True, id=3, visibility=PUBLIC)
ACME_PRIVATE = PackageState("acme/secret", ACME, exists=True, id=4, publisher_user_id=PUBLISHER_ID)
ALICE_MISSING = PackageState("alice/new", ALICE_NS, exists=False)

# Expected outcome per action (pull, push, delete, admin): "ok", "new" (allowed, creates) or reason.
PAT_TABLE = {
    # alice on her own private package: only the token gate can refuse
    ("owner_user", "alice_private"): {
        "": ("scopes", "scopes", "scopes", "scopes"),
        "r": ("ok", "scopes", "scopes", "scopes"),
        "w": ("ok", "ok", "scopes", "ok"),
        "d": ("scopes", "scopes", "scopes", "scopes"),
        "rw": ("ok", "ok", "scopes", "ok"),
        "rd": ("ok", "scopes", "ok", "scopes"),
        "wd": ("ok", "ok", "ok", "ok"),
        "rwd": ("ok", "ok", "ok", "ok"),
    },
    # alice in her own namespace, package not there yet
    ("owner_user", "alice_missing"): {
        "": ("scopes", "scopes", "scopes", "scopes"),
        "r": ("ok", "scopes", "scopes", "scopes"),
        "w": ("ok", "new", "scopes", "ok"),
        "d": ("scopes", "scopes", "scopes", "scopes"),
        "rw": ("ok", "new", "scopes", "ok"),
        "rd": ("ok", "scopes", "ok", "scopes"),
        "wd": ("ok", "new", "ok", "ok"),
        "rwd": ("ok", "new", "ok", "ok"),
    },
    # an outsider on a public package: reads with any scopes, nothing more
    ("outsider", "acme_public"): {
        "": ("ok", "scopes", "scopes", "scopes"),
        "r": ("ok", "scopes", "scopes", "scopes"),
        "w": ("ok", "write_package", "scopes", "admin_package"),
        "d": ("ok", "scopes", "scopes", "scopes"),
        "rw": ("ok", "write_package", "scopes", "admin_package"),
        "rd": ("ok", "scopes", "delete_package", "scopes"),
        "wd": ("ok", "write_package", "delete_package", "admin_package"),
        "rwd": ("ok", "write_package", "delete_package", "admin_package"),
    },
    # an outsider on a private package: token gate first, then the role gate
    ("outsider", "acme_private"): {
        "": ("scopes", "scopes", "scopes", "scopes"),
        "r": ("read_package", "scopes", "scopes", "scopes"),
        "w": ("read_package", "write_package", "scopes", "admin_package"),
        "d": ("scopes", "scopes", "scopes", "scopes"),
        "rw": ("read_package", "write_package", "scopes", "admin_package"),
        "rd": ("read_package", "scopes", "delete_package", "scopes"),
        "wd": ("read_package", "write_package", "delete_package", "admin_package"),
        "rwd": ("read_package", "write_package", "delete_package", "admin_package"),
    },
}
PACKAGES = {
    "alice_private": ALICE_PRIVATE,
    "alice_missing": ALICE_MISSING,
    "acme_public": ACME_PUBLIC,
    "acme_private": ACME_PRIVATE,
}


def _check(decision: Decision, expected: str, gate: str | None = None) -> None:
    if expected in ("ok", "new"):
        assert isinstance(decision, Allowed), getattr(decision, "message", "")
        assert decision.creates is (expected == "new")
        return
    assert isinstance(decision, Denied)
    _assert_well_formed(decision)
    assert decision.reason == expected
    if gate is not None:
        assert decision.gate == gate
    elif expected in ("scopes", "installation_write", "installation_create"):
        assert decision.gate == "token"
    else:
        assert decision.gate == "role"


@pytest.mark.parametrize(
    ("pkey", "pname", "scopes", "action", "expected"),
    [
        (pkey, pname, scopes, action, outcome)
        for (pkey, pname), rows in PAT_TABLE.items()
        for scopes, outcomes in rows.items()
        for action, outcome in zip(Action, outcomes, strict=True)
    ],
)
def test_pat_scopes(pkey: str, pname: str, scopes: str, action: Action, expected: str) -> None:
    decision = decide(PRINCIPALS[pkey], _pat(scopes), action, PACKAGES[pname])
    _check(decision, expected)
    if isinstance(decision, Denied) and decision.gate == "token":
        assert decision.detail["scopes"] == sorted(_pat(scopes).scopes)
        assert "cargohold token create --user " in decision.fix[0]


JOB_PACKAGES = {
    "admin_grant": (
        "job_linked",
        PackageState("acme/shop", ACME, exists=True, id=1, actions_access={SHOP.id: Role.ADMIN}),
    ),
    "public_norole": ("job_other_owner", ACME_PUBLIC),
    "private_norole": ("job_other_owner", ACME_PRIVATE),
    "read_grant": (
        "job_same_owner",
        PackageState("acme/lib", ACME, exists=True, id=5, actions_access={OTHER.id: Role.READ}),
    ),
    "internal_same_owner": (
        "job_same_owner",
        PackageState("acme/int", ACME, exists=True, id=6, visibility=INTERNAL),
    ),
    "missing_same_owner": ("job_same_owner", PackageState("acme/new", ACME, exists=False)),
    "missing_other_owner": ("job_other_owner", PackageState("acme/new", ACME, exists=False)),
}
_W = "installation_write/token"
_C = "installation_create/token"
JOB_TABLE = {
    # packages: none
    ("none", "admin_grant"): ("installation_read/token", _W, _W, _W),
    ("none", "public_norole"): ("ok", _W, _W, _W),
    ("none", "private_norole"): ("installation_read/token", _W, _W, _W),
    ("none", "read_grant"): ("installation_read/token", _W, _W, _W),
    ("none", "internal_same_owner"): ("installation_read/token", _W, _W, _W),
    ("none", "missing_same_owner"): ("installation_read/token", _C, _W, _W),
    ("none", "missing_other_owner"): ("installation_read/token", _W, _W, _W),
    # packages: read
    ("read", "admin_grant"): ("ok", _W, _W, _W),
    ("read", "public_norole"): ("ok", _W, _W, _W),
    ("read", "private_norole"): ("installation_read/role", _W, _W, _W),
    ("read", "read_grant"): ("ok", _W, _W, _W),
    ("read", "internal_same_owner"): ("ok", _W, _W, _W),
    ("read", "missing_same_owner"): ("ok", _C, _W, _W),
    ("read", "missing_other_owner"): ("installation_read/role", _W, _W, _W),
    # packages: write
    ("write", "admin_grant"): ("ok", "ok", "ok", "ok"),
    ("write", "public_norole"): ("ok", "write_package", "delete_package", "admin_package"),
    ("write", "private_norole"): (
        "installation_read/role",
        "write_package",
        "delete_package",
        "admin_package",
    ),
    ("write", "read_grant"): ("ok", "write_package", "delete_package", "admin_package"),
    ("write", "internal_same_owner"): ("ok", "write_package", "delete_package", "admin_package"),
    ("write", "missing_same_owner"): ("ok", "new", "ok", "ok"),
    ("write", "missing_other_owner"): (
        "installation_read/role",
        "write_package",
        "delete_package",
        "admin_package",
    ),
}


@pytest.mark.parametrize(
    ("packages", "situation", "action", "expected"),
    [
        (packages, situation, action, outcome)
        for (packages, situation), outcomes in JOB_TABLE.items()
        for action, outcome in zip(Action, outcomes, strict=True)
    ],
)
def test_job_packages_permission(
    packages: str, situation: str, action: Action, expected: str
) -> None:
    pkey, package = JOB_PACKAGES[situation]
    credential = Credential(
        CredentialKind.JOB, id="job_9", packages=Role.parse(packages), run_id="7"
    )
    reason, _, gate = expected.partition("/")
    decision = decide(PRINCIPALS[pkey], credential, action, package)
    _check(decision, reason, gate or None)
    if isinstance(decision, Denied) and decision.gate == "token":
        assert decision.held is Role.parse(packages)
        assert decision.fix == (f'add "permissions: packages: {decision.needed.label}" to the job',)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("pkey", sorted(set(PRINCIPALS) - {"anonymous"}))
def test_session_skips_the_token_gate(pkey: str, action: Action) -> None:
    package = _package(pkey, PRIVATE, "none", True)
    with_session = decide(PRINCIPALS[pkey], SESSION, action, package)
    with_full_token = decide(PRINCIPALS[pkey], _full_credential(pkey), action, package)
    assert type(with_session) is type(with_full_token)
    if isinstance(with_session, Denied):
        assert isinstance(with_full_token, Denied)
        assert (with_session.reason, with_session.gate) == (with_full_token.reason, "role")


def test_no_credential_is_anonymous_whatever_the_principal() -> None:
    decision = decide(PRINCIPALS["org_owner"], NO_CREDENTIAL, PULL, ACME_PRIVATE)
    assert isinstance(decision, Denied) and decision.code == "UNAUTHORIZED"
    assert decision.detail["actor"] == "anonymous"
    assert isinstance(decide(PRINCIPALS["org_owner"], NO_CREDENTIAL, PULL, ACME_PUBLIC), Allowed)


# -- missing packages: creation ------------------------------------------------------------------


def _acme(
    members: frozenset[Visibility] = frozenset(Visibility), default: Visibility = PRIVATE
) -> PackageState:
    owner = OwnerState(
        100, "acme", "org", member_create_visibilities=members, default_visibility=default
    )
    return PackageState("acme/new", owner, exists=False)


ONLY_PUBLIC = frozenset({PUBLIC})
BOB = Principal(USER, 8, "bob")
MARK_IN_ALICE = PRINCIPALS["org_member"]
_REFUSED = ("read_package", "create_package", "delete_package", "admin_package")
_OUTSIDE = ("read_package", "write_package", "delete_package", "admin_package")
_JOB_OUTSIDE = ("installation_read", "write_package", "delete_package", "admin_package")
_ANON = ("authentication_required",) * 4
CREATE_TABLE = [
    # principal, package, may_create, outcomes (pull, push, delete, admin)
    (PRINCIPALS["owner_user"], ALICE_MISSING, True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["org_owner"], _acme(ONLY_PUBLIC), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["org_owner"], _acme(frozenset()), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["org_member"], _acme(), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["org_member"], _acme(frozenset({PRIVATE})), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["org_member"], _acme(ONLY_PUBLIC), False, _REFUSED),
    (PRINCIPALS["org_member"], _acme(frozenset({PRIVATE, PUBLIC}), INTERNAL), False, _REFUSED),
    (PRINCIPALS["org_member"], _acme(ONLY_PUBLIC, PUBLIC), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["team_member"], _acme(frozenset()), False, _REFUSED),
    (PRINCIPALS["site_admin"], _acme(frozenset()), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["site_admin"], ALICE_MISSING, True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["outsider"], _acme(), False, _OUTSIDE),
    (PRINCIPALS["collaborator"], _acme(), False, _OUTSIDE),
    (MARK_IN_ALICE, ALICE_MISSING, False, _OUTSIDE),
    (BOB, ALICE_MISSING, False, _OUTSIDE),
    (PRINCIPALS["org_owner"], ALICE_MISSING, False, _OUTSIDE),
    (PRINCIPALS["job_linked"], _acme(frozenset()), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["job_recreated"], _acme(), True, ("ok", "new", "ok", "ok")),
    (PRINCIPALS["job_other_owner"], _acme(), False, _JOB_OUTSIDE),
    (PRINCIPALS["job_linked"], ALICE_MISSING, False, _JOB_OUTSIDE),
    (Principal(REPO, repo=TOOL), ALICE_MISSING, True, ("ok", "new", "ok", "ok")),
    (ANONYMOUS, _acme(), False, _ANON),
]


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("principal", "package", "creator", "outcomes"), CREATE_TABLE)
def test_missing_package(
    principal: Principal,
    package: PackageState,
    creator: bool,
    outcomes: tuple[str, ...],
    action: Action,
) -> None:
    assert may_create(principal, package) is creator
    credential = FULL_JOB if principal.kind is REPO else FULL_PAT
    if principal.kind is PrincipalKind.ANONYMOUS:
        credential = NO_CREDENTIAL
    decision = decide(principal, credential, action, package)
    expected = outcomes[list(Action).index(action)]
    gate = "authentication" if expected == "authentication_required" else None
    _check(decision, expected, gate)
    if isinstance(decision, Allowed):
        assert decision.role is Role.ADMIN
        assert decision.sources, "a creator is told why"
    else:
        assert decision.held is Role.NONE


def test_create_denial_names_the_policy() -> None:
    decision = decide(PRINCIPALS["org_member"], FULL_PAT, PUSH, _acme(ONLY_PUBLIC))
    assert isinstance(decision, Denied)
    assert decision.message == (
        "permission_denied: create_package: user mark (personal access token chp_full) holds no"
        " role on package acme/new and may not create it: members of organization acme may"
        " create only public packages, and new packages there are private; it needs write."
        " An owner of acme can allow members to create private packages (Organization settings"
        " > Packages > Package creation, http://localhost:5000/orgs/acme/settings/packages),"
        " or an admin of acme/new can grant it (once it exists):"
        " `cargohold package access add acme/new --user mark --role write`."
    )
    assert decision.detail["member_create_visibilities"] == ["public"]


# -- existence does not leak ---------------------------------------------------------------------

OUTSIDERS = [
    (PRINCIPALS["outsider"], FULL_PAT),
    (PRINCIPALS["outsider"], _pat("r")),
    (PRINCIPALS["outsider"], _pat("w")),
    (PRINCIPALS["outsider"], _pat("")),
    (PRINCIPALS["outsider"], SESSION),
    (PRINCIPALS["collaborator"], FULL_PAT),
    (BOB, _pat("rd")),
    (PRINCIPALS["job_other_owner"], FULL_JOB),
    (PRINCIPALS["job_other_owner"], Credential(CredentialKind.JOB, packages=Role.READ)),
    (PRINCIPALS["job_other_owner"], Credential(CredentialKind.JOB, packages=Role.NONE)),
    (ANONYMOUS, NO_CREDENTIAL),
]


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("principal", "credential"), OUTSIDERS)
def test_existence_does_not_leak(
    principal: Principal, credential: Credential, action: Action
) -> None:
    missing = PackageState("acme/secret", ACME, exists=False)
    existing = ACME_PRIVATE
    one, two = (
        decide(principal, credential, action, missing),
        decide(principal, credential, action, existing),
    )
    assert isinstance(one, Denied) and isinstance(two, Denied)
    assert one == two  # code, message, gate, reason, held, needed, fix and detail


# -- the ten rows of spec section 5, and the scenario ---------------------------------------------


@dataclass(frozen=True)
class Row:
    principal: Principal
    credential: Credential
    action: Action
    package: PackageState
    code: str
    text: str


SPEC_ROWS = {
    "no credential, not readable anonymously": Row(
        ANONYMOUS, NO_CREDENTIAL, PULL, ACME_PRIVATE, "UNAUTHORIZED", "authentication required"
    ),
    "no credential, package does not exist": Row(
        ANONYMOUS, NO_CREDENTIAL, PULL, _acme(), "UNAUTHORIZED", "authentication required"
    ),
    "PAT lacks the scope": Row(
        PRINCIPALS["owner_user"],
        _pat("r"),
        PUSH,
        ALICE_PRIVATE,
        "DENIED",
        "permission_denied: The token provided does not match expected scopes.",
    ),
    "job token lacks packages: write (existing)": Row(
        PRINCIPALS["job_linked"],
        Credential(CredentialKind.JOB, packages=Role.READ),
        PUSH,
        ACME_PRIVATE,
        "DENIED",
        "installation not allowed to Write organization package",
    ),
    "job token lacks packages: write (create)": Row(
        PRINCIPALS["job_linked"],
        Credential(CredentialKind.JOB, packages=Role.READ),
        PUSH,
        _acme(),
        "DENIED",
        "installation not allowed to Create organization package",
    ),
    "job token lacks packages: read": Row(
        PRINCIPALS["job_linked"],
        Credential(CredentialKind.JOB),
        PULL,
        ACME_PRIVATE,
        "DENIED",
        "installation not allowed to Read organization package",
    ),
    "job repository cannot read": Row(
        PRINCIPALS["job_other_owner"],
        FULL_JOB,
        PULL,
        ACME_PRIVATE,
        "DENIED",
        "installation not allowed to Read organization package",
    ),
    "principal lacks read": Row(
        PRINCIPALS["outsider"],
        FULL_PAT,
        PULL,
        ACME_PRIVATE,
        "DENIED",
        "permission_denied: read_package",
    ),
    "principal lacks write": Row(
        PRINCIPALS["outsider"],
        FULL_PAT,
        PUSH,
        ACME_PUBLIC,
        "DENIED",
        "permission_denied: write_package",
    ),
    "principal may not create": Row(
        PRINCIPALS["org_member"],
        FULL_PAT,
        PUSH,
        _acme(ONLY_PUBLIC),
        "DENIED",
        "permission_denied: create_package",
    ),
    "principal lacks admin for delete": Row(
        PRINCIPALS["outsider"],
        FULL_PAT,
        DELETE,
        ACME_PUBLIC,
        "DENIED",
        "permission_denied: delete_package",
    ),
}


@pytest.mark.parametrize("row", SPEC_ROWS.values(), ids=SPEC_ROWS.keys())
def test_spec_section_5_rows(row: Row) -> None:
    decision = decide(row.principal, row.credential, row.action, row.package)
    assert isinstance(decision, Denied)
    assert decision.code == row.code
    assert decision.message.startswith(row.text)
    assert len(decision.message) > len(row.text) + 20, "the denial explains itself"
    error = decision.to_error()
    assert isinstance(error, UnauthorizedError if row.code == "UNAUTHORIZED" else DeniedError)
    assert error.status == (401 if row.code == "UNAUTHORIZED" else 403)
    assert error.to_wire() == {
        "code": row.code,
        "message": decision.message,
        "detail": dict(decision.detail),
    }


def test_ghcr_texts_are_the_spec_texts() -> None:
    assert dict(GHCR_TEXT) == SPEC_TEXT


SCENARIO_PACKAGE = PackageState(
    "acme/shop", ACME, exists=True, id=1, publisher_user_id=PUBLISHER_ID, linked_repo=None
)


def test_scenario_denial_line() -> None:
    """The seed scenario: a release job pushes to a package it holds no role on."""
    credential = Credential(CredentialKind.JOB, id="jt_1", packages=Role.WRITE, run_id="42")
    decision = decide(PRINCIPALS["job_linked"], credential, PUSH, SCENARIO_PACKAGE)
    assert isinstance(decision, Denied)
    url = "http://localhost:5000/acme/packages/shop/settings#actions-access"
    command = "cargohold package actions-access add acme/shop --repository acme/shop --role write"
    assert decision.message == (
        "permission_denied: write_package: repository acme/shop (job token, run 42) holds no role"
        " on package acme/shop; it needs write. An admin of acme/shop can grant it: Package"
        f" settings > Manage Actions access ({url}), or `{command}`."
    )
    assert decision.fix == (command, url)
    assert dict(decision.detail) == {
        "actor": "repository acme/shop",
        "credential": {"kind": "job", "id": "jt_1"},
        "package": "acme/shop",
        "action": "push",
        "gate": "role",
        "held": "none",
        "needed": "write",
        "reason": "write_package",
        "fix": [command, url],
    }


def test_scenario_fix_works() -> None:
    fixed = PackageState("acme/shop", ACME, exists=True, id=1, actions_access={SHOP.id: Role.WRITE})
    credential = Credential(CredentialKind.JOB, packages=Role.WRITE, run_id="43")
    decision = decide(PRINCIPALS["job_linked"], credential, PUSH, fixed)
    assert isinstance(decision, Allowed) and decision.role is Role.WRITE
    assert explain(decision) == (
        "write: repository acme/shop granted write in Manage Actions access (write)"
    )


def test_deleted_and_recreated_repository_is_explained() -> None:
    package = _package("job_recreated", PRIVATE, "actions:admin", True)
    credential = Credential(CredentialKind.JOB, packages=Role.WRITE, run_id="42")
    decision = decide(PRINCIPALS["job_recreated"], credential, PUSH, package)
    assert isinstance(decision, Denied) and decision.reason == "write_package"
    assert decision.message == (
        "permission_denied: write_package: repository acme/shop (job token, run 42) holds no role"
        " on package acme/shop; it needs write. The package's access was granted to an earlier"
        " repository acme/shop (id 10) that was deleted; access follows repository ids, not"
        " names. An admin of acme/shop can grant it to the new repository (id 13): Package"
        " settings > Manage Actions access"
        " (http://localhost:5000/acme/packages/shop/settings#actions-access), or"
        " `cargohold package actions-access add acme/shop --repository acme/shop --role write`."
    )
    assert decision.detail["deleted_repository"] == {"id": 10, "full_name": "acme/shop"}


# -- texts -----------------------------------------------------------------------------------------


def test_user_denial_text_and_manage_access_fix() -> None:
    decision = decide(
        PRINCIPALS["org_member"],
        _pat("rw"),
        PUSH,
        _package("org_member", PRIVATE, "user:read", False),
    )
    assert isinstance(decision, Denied)
    url = "https://reg.example/acme/packages/shop/settings#manage-access"
    assert decision == decide(
        PRINCIPALS["org_member"],
        _pat("rw"),
        PUSH,
        _package("org_member", PRIVATE, "user:read", False),
    )
    decision = decide(
        PRINCIPALS["org_member"],
        _pat("rw"),
        PUSH,
        _package("org_member", PRIVATE, "user:read", False),
        base_url="https://reg.example/",
    )
    assert isinstance(decision, Denied)
    assert decision.message == (
        "permission_denied: write_package: user mark (personal access token chp_abc123) holds"
        " read on package acme/shop; it needs write. An admin of acme/shop can grant it: Package"
        f" settings > Manage access ({url}), or"
        " `cargohold package access add acme/shop --user mark --role write`."
    )
    assert decision.fix == ("cargohold package access add acme/shop --user mark --role write", url)


def test_pat_scope_denial_text() -> None:
    decision = decide(PRINCIPALS["owner_user"], _pat("r"), PUSH, ALICE_PRIVATE)
    assert isinstance(decision, Denied)
    command = "cargohold token create --user alice --scopes read:packages,write:packages"
    assert decision.message == (
        "permission_denied: The token provided does not match expected scopes. user alice"
        " (personal access token chp_abc123) has scopes read:packages; pushing to alice/tool"
        f" needs read:packages and write:packages. Create a token with write:packages: `{command}`."
    )
    assert decision.fix == (command,)
    assert (decision.held, decision.needed) == (Role.READ, Role.WRITE)
    assert decision.detail["scopes_needed"] == ["read:packages", "write:packages"]


def test_job_token_denial_text() -> None:
    credential = Credential(CredentialKind.JOB, id="jt", packages=Role.READ)
    decision = decide(PRINCIPALS["job_linked"], credential, PUSH, ACME_PRIVATE)
    assert isinstance(decision, Denied)
    assert decision.message == (
        "installation not allowed to Write organization package: repository acme/shop (job"
        ' token) has "packages: read" on its token; pushing to acme/secret needs "packages:'
        ' write". Add "permissions: packages: write" to the job.'
    )


@pytest.mark.parametrize(
    ("action", "can"), [(PULL, "read"), (PUSH, "write"), (DELETE, "delete"), (ADMIN, "admin")]
)
def test_authentication_required_text(action: Action, can: str) -> None:
    decision = decide(
        ANONYMOUS, NO_CREDENTIAL, action, ACME_PRIVATE, base_url="https://reg.example"
    )
    assert isinstance(decision, Denied)
    assert decision.message.startswith("authentication required: anonymous requests may only pull")
    assert f"token that can {can} it, e.g. `docker login reg.example`." in decision.message
    assert decision.fix[0] == "docker login reg.example"
    assert decision.detail["credential"] == {"kind": "none", "id": None}


def test_who_names_the_pat_without_id_and_the_job_without_run() -> None:
    pat = Credential(CredentialKind.PAT, scopes=frozenset({"read:packages"}))
    denied = decide(PRINCIPALS["outsider"], pat, PULL, ACME_PRIVATE)
    assert (
        isinstance(denied, Denied) and "user oscar (personal access token) holds" in denied.message
    )
    job = Credential(CredentialKind.JOB, packages=Role.WRITE)
    denied = decide(PRINCIPALS["job_other_owner"], job, PUSH, ACME_PRIVATE)
    assert isinstance(denied, Denied) and "repository evil/fork (job token) holds" in denied.message


def test_deep_package_name_settings_url() -> None:
    package = PackageState("acme/tools/cli", ACME, exists=True, id=9)
    denied = decide(PRINCIPALS["outsider"], FULL_PAT, PULL, package)
    assert isinstance(denied, Denied)
    assert denied.fix[1] == "http://localhost:5000/acme/packages/tools/cli/settings#manage-access"


# -- sources ---------------------------------------------------------------------------------------


def test_publisher_user_and_repository_are_admin() -> None:
    package = PackageState("acme/p", ACME, exists=True, publisher_user_id=4, publisher_repo_id=12)
    for pkey in ("outsider", "job_other_owner"):
        role, sources = effective_role(PRINCIPALS[pkey], package)
        assert role is Role.ADMIN and [s.kind for s in sources] == ["publisher"]


def test_publisher_repository_id_is_not_its_name() -> None:
    package = PackageState("acme/shop", ACME, exists=True, publisher_repo_id=SHOP.id)
    assert effective_role(PRINCIPALS["job_recreated"], package)[0] is Role.NONE


def test_team_grants_count_only_on_org_packages() -> None:
    tina = PRINCIPALS["team_member"]
    user_package = PackageState("alice/x", ALICE_NS, exists=True, team_grants={TEAM: Role.ADMIN})
    org_package = PackageState("acme/x", ACME, exists=True, team_grants={TEAM: Role.ADMIN})
    assert effective_role(tina, user_package)[0] is Role.NONE
    assert effective_role(tina, org_package)[0] is Role.ADMIN


@pytest.mark.parametrize(
    ("repo_role", "role"),
    [
        ("read", Role.READ),
        ("triage", Role.READ),
        ("write", Role.WRITE),
        ("maintain", Role.WRITE),
        ("admin", Role.ADMIN),
        ("bogus", Role.NONE),
    ],
)
@pytest.mark.parametrize("via", ["user", "team"])
def test_inherited_repository_roles(repo_role: str, role: Role, via: str) -> None:
    package = PackageState(
        "acme/shop",
        ACME,
        exists=True,
        linked_repo=SHOP,
        inherit=True,
        repo_user_roles={6: repo_role} if via == "user" else {},
        repo_team_roles={TEAM: repo_role} if via == "team" else {},
    )
    got, sources = effective_role(PRINCIPALS["team_member"], package)
    assert got is role
    assert all(s.kind == "inherited" for s in sources)
    unlinked = PackageState(
        "acme/shop",
        ACME,
        exists=True,
        linked_repo=None,
        inherit=True,
        repo_user_roles={6: repo_role},
        repo_team_roles={TEAM: repo_role},
    )
    assert effective_role(PRINCIPALS["team_member"], unlinked)[0] is Role.NONE


def test_linked_repository_jobs_inherit_write() -> None:
    package = PackageState("acme/shop", ACME, exists=True, linked_repo=SHOP, inherit=True)
    role, sources = effective_role(PRINCIPALS["job_linked"], package)
    assert role is Role.WRITE and [s.kind for s in sources] == ["linked_repository"]
    not_inheriting = dataclasses.replace(package, inherit=False)
    assert effective_role(PRINCIPALS["job_linked"], not_inheriting) == (Role.NONE, ())
    assert effective_role(PRINCIPALS["job_same_owner"], package) == (Role.NONE, ())


def test_internal_packages_and_repositories_of_other_owners() -> None:
    package = PackageState("acme/int", ACME, exists=True, visibility=INTERNAL)
    assert effective_role(PRINCIPALS["job_other_owner"], package)[0] is Role.NONE
    assert effective_role(PRINCIPALS["job_same_owner"], package)[0] is Role.READ
    assert effective_role(PRINCIPALS["outsider"], package)[0] is Role.NONE
    assert effective_role(ANONYMOUS, package)[0] is Role.NONE


def test_missing_package_ignores_package_level_state() -> None:
    # A loader bug handing grants for a missing package must not turn into access.
    ghost = PackageState(
        "acme/ghost", ACME, exists=False, visibility=PUBLIC, user_grants={4: Role.ADMIN}
    )
    assert effective_role(PRINCIPALS["outsider"], ghost) == (Role.NONE, ())
    assert isinstance(decide(PRINCIPALS["outsider"], FULL_PAT, PULL, ghost), Denied)


def test_sources_are_all_listed_highest_first_and_explained() -> None:
    package = PackageState(
        "acme/shop",
        ACME,
        exists=True,
        visibility=PUBLIC,
        linked_repo=SHOP,
        inherit=True,
        user_grants={6: Role.READ},
        team_grants={TEAM: Role.ADMIN},
        repo_team_roles={TEAM: "write"},
        team_names={TEAM: "acme/devs"},
    )
    role, sources = effective_role(PRINCIPALS["team_member"], package)
    assert role is Role.ADMIN
    assert [(s.kind, s.role) for s in sources] == [
        ("team_grant", Role.ADMIN),
        ("inherited", Role.WRITE),
        ("user_grant", Role.READ),
        ("visibility", Role.READ),
    ]
    assert sources[0].description == "member of team acme/devs, granted admin in Manage access"
    decision = decide(PRINCIPALS["team_member"], SESSION, ADMIN, package)
    assert isinstance(decision, Allowed)
    assert explain(decision) == (
        "admin: member of team acme/devs, granted admin in Manage access (admin);"
        " member of team acme/devs, which has write on linked repository acme/shop, inherited"
        " as write (write); granted read in Manage access (read);"
        " package acme/shop is public: anyone may read it (read)"
    )


def test_explain_a_creation_and_an_empty_allowed() -> None:
    decision = decide(PRINCIPALS["org_member"], FULL_PAT, PUSH, _acme())
    assert isinstance(decision, Allowed) and decision.creates
    assert explain(decision).endswith("; this push creates the package")
    assert explain(Allowed(Role.NONE, ())) == "none: no source grants a role"


def test_public_pull_with_a_token_lacking_read_is_allowed_as_read() -> None:
    public = PackageState("alice/pub", ALICE_NS, exists=True, visibility=PUBLIC)
    decision = decide(PRINCIPALS["owner_user"], _pat(""), PULL, public)
    assert isinstance(decision, Allowed)
    assert decision == Allowed(Role.READ, decision.sources) and len(decision.sources) == 1
    assert decision.sources[0].kind == "visibility"
