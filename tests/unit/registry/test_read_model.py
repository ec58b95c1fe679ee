"""registry.read_model: version ids, names within a namespace, and the derived facts the
adapters show (the live linked repository, index or image, creatable visibilities in order)."""

from __future__ import annotations

from datetime import UTC, datetime

from cargohold.accounts.account_service import Account, OrgSettings, Repository
from cargohold.authz.model import AccountKind, JobDefault, Visibility
from cargohold.registry.read_model import (
    INDEX_TYPES,
    OrgPackageSettings,
    PackageView,
    VersionView,
    version_id,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _package(name: str, linked: Repository | None) -> PackageView:
    owner = Account(1, name.partition("/")[0], AccountKind.ORG)
    return PackageView(2, name, owner, Visibility.PRIVATE, 0, T0, T0, linked, None)


def test_version_id_is_the_first_52_bits_of_the_digest() -> None:
    assert version_id("sha256:" + "f" * 64) == 2**52 - 1
    assert version_id("sha512:0000000000001" + "9" * 115) == 1


def test_short_name_is_the_name_within_the_owner_namespace() -> None:
    assert _package("acme/shop", None).short_name == "shop"
    assert _package("acme/tools/cli", None).short_name == "tools/cli"


def test_a_deleted_linked_repository_is_named_but_links_nothing() -> None:
    live = Repository(3, "acme/shop", Visibility.PUBLIC)
    assert _package("acme/shop", live).repository == live
    gone = Repository(3, "acme/shop", Visibility.PUBLIC, deleted=True)
    assert _package("acme/shop", gone).linked == gone
    assert _package("acme/shop", gone).repository is None
    assert _package("acme/shop", None).repository is None


def test_is_index_for_oci_and_docker_lists_only() -> None:
    def v(media_type: str) -> VersionView:
        return VersionView(1, "sha256:aa", media_type, 2, T0, (), None)

    assert all(v(t).is_index for t in INDEX_TYPES)
    assert not v("application/vnd.oci.image.manifest.v1+json").is_index


def test_member_create_follows_the_order_of_visibility() -> None:
    chosen = frozenset({Visibility.INTERNAL, Visibility.PUBLIC})
    settings = OrgSettings("acme", chosen, Visibility.PRIVATE, True, JobDefault.RESTRICTED)
    shown = OrgPackageSettings(settings, is_owner=False, owners=("alice",))
    assert shown.member_create == tuple(v for v in Visibility if v in chosen)
    assert len(shown.member_create) == 2
