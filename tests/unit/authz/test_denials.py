"""The words of a denial, for the cases the decision table does not reach."""

from __future__ import annotations

from cargohold.authz.denials import who
from cargohold.authz.model import ANONYMOUS, Credential, CredentialKind, Principal, PrincipalKind

ALICE = Principal(PrincipalKind.USER, 1, "alice")


def test_who_without_a_credential_is_anonymous_whoever_the_principal() -> None:
    none = Credential(CredentialKind.NONE)
    assert who(ANONYMOUS, none) == "anonymous"
    assert who(ALICE, none) == "anonymous"
    assert who(ANONYMOUS, Credential(CredentialKind.SESSION)) == "anonymous"


def test_who_names_the_credential() -> None:
    assert who(ALICE, Credential(CredentialKind.SESSION)) == "user alice (session)"
    assert who(ALICE, Credential(CredentialKind.PAT)) == "user alice (personal access token)"
    assert (
        who(ALICE, Credential(CredentialKind.PAT, id="chp_abc"))
        == "user alice (personal access token chp_abc)"
    )
