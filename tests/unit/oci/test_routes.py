from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cargohold.oci.routes import Route, RouteKind, match_route

D = "sha256:" + "a" * 64
K = RouteKind


@pytest.mark.parametrize(
    ("method", "path", "kind", "name", "reference", "session", "action"),
    [
        ("GET", "/v2/", K.BASE, None, None, None, None),
        ("HEAD", "/v2/", K.BASE, None, None, None, None),
        ("GET", "/v2", K.BASE, None, None, None, None),
        ("GET", "/v2/_catalog", K.CATALOG, None, None, None, None),
        ("GET", "/v2/acme/app/tags/list", K.TAGS_LIST, "acme/app", None, None, "pull"),
        ("GET", "/v2/acme/app/manifests/latest", K.MANIFEST, "acme/app", "latest", None, "pull"),
        ("HEAD", f"/v2/acme/app/manifests/{D}", K.MANIFEST, "acme/app", D, None, "pull"),
        ("PUT", "/v2/acme/app/manifests/v1", K.MANIFEST, "acme/app", "v1", None, "push"),
        ("DELETE", f"/v2/acme/app/manifests/{D}", K.MANIFEST, "acme/app", D, None, "delete"),
        ("GET", f"/v2/acme/app/blobs/{D}", K.BLOB, "acme/app", D, None, "pull"),
        ("HEAD", f"/v2/acme/app/blobs/{D}", K.BLOB, "acme/app", D, None, "pull"),
        ("DELETE", f"/v2/acme/app/blobs/{D}", K.BLOB, "acme/app", D, None, "delete"),
        ("POST", "/v2/acme/app/blobs/uploads/", K.UPLOAD_START, "acme/app", None, None, "push"),
        ("POST", "/v2/acme/app/blobs/uploads", K.UPLOAD_START, "acme/app", None, None, "push"),
        ("PATCH", "/v2/acme/app/blobs/uploads/u1", K.UPLOAD, "acme/app", None, "u1", "push"),
        ("PUT", "/v2/acme/app/blobs/uploads/u1", K.UPLOAD, "acme/app", None, "u1", "push"),
        ("GET", "/v2/acme/app/blobs/uploads/u1", K.UPLOAD, "acme/app", None, "u1", "push"),
        ("DELETE", "/v2/acme/app/blobs/uploads/u1", K.UPLOAD, "acme/app", None, "u1", "push"),
        ("GET", f"/v2/acme/app/referrers/{D}", K.REFERRERS, "acme/app", D, None, "pull"),
        ("GET", "/v2/a/b/c/d/tags/list", K.TAGS_LIST, "a/b/c/d", None, None, "pull"),
        # names containing route markers: the last marker wins
        ("GET", f"/v2/a/blobs/b/blobs/{D}", K.BLOB, "a/blobs/b", D, None, "pull"),
        ("GET", "/v2/a/manifests/b/manifests/x", K.MANIFEST, "a/manifests/b", "x", None, "pull"),
        ("GET", f"/v2/a/manifests/blobs/{D}", K.BLOB, "a/manifests", D, None, "pull"),
        ("GET", "/v2/a/blobs/manifests/x", K.MANIFEST, "a/blobs", "x", None, "pull"),
        ("GET", "/v2/a/tags/list/tags/list", K.TAGS_LIST, "a/tags/list", None, None, "pull"),
        ("GET", "/v2/a/tags/list/manifests/x", K.MANIFEST, "a/tags/list", "x", None, "pull"),
        (
            "POST",
            "/v2/a/blobs/uploads/b/blobs/uploads/",
            K.UPLOAD_START,
            "a/blobs/uploads/b",
            None,
            None,
            "push",
        ),
        (
            "PATCH",
            "/v2/a/blobs/uploads/blobs/uploads/s",
            K.UPLOAD,
            "a/blobs/uploads",
            None,
            "s",
            "push",
        ),
        ("GET", f"/v2/a/referrers/b/referrers/{D}", K.REFERRERS, "a/referrers/b", D, None, "pull"),
        ("GET", f"/v2/_catalog/x/blobs/{D}", K.BLOB, "_catalog/x", D, None, "pull"),
        # names are not validated here
        ("GET", "/v2/UPPER/tags/list", K.TAGS_LIST, "UPPER", None, None, "pull"),
        ("GET", "/v2/a//b/manifests/x", K.MANIFEST, "a//b", "x", None, "pull"),
        ("GET", "/v2/../etc/manifests/x", K.MANIFEST, "../etc", "x", None, "pull"),
        ("GET", "/v2/a/manifests/not:a-digest", K.MANIFEST, "a", "not:a-digest", None, "pull"),
        ("GET", "/v2/a\nb/manifests/x\n", K.MANIFEST, "a\nb", "x\n", None, "pull"),
    ],
)
def test_match_route(
    method: str,
    path: str,
    kind: RouteKind,
    name: str | None,
    reference: str | None,
    session: str | None,
    action: str | None,
) -> None:
    assert match_route(method, path) == Route(kind, method, name, reference, session, action, True)


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/v2/", K.BASE),
        ("DELETE", "/v2/_catalog", K.CATALOG),
        ("PUT", "/v2/a/b/tags/list", K.TAGS_LIST),
        ("POST", "/v2/a/b/manifests/x", K.MANIFEST),
        ("PATCH", "/v2/a/b/manifests/x", K.MANIFEST),
        ("PUT", f"/v2/a/b/blobs/{D}", K.BLOB),
        ("POST", f"/v2/a/b/blobs/{D}", K.BLOB),
        ("GET", "/v2/a/b/blobs/uploads/", K.UPLOAD_START),
        ("PUT", "/v2/a/b/blobs/uploads/", K.UPLOAD_START),
        ("POST", "/v2/a/b/blobs/uploads/u1", K.UPLOAD),
        ("DELETE", f"/v2/a/b/referrers/{D}", K.REFERRERS),
        ("OPTIONS", "/v2/a/b/manifests/x", K.MANIFEST),
        ("get", "/v2/a/b/manifests/x", K.MANIFEST),
    ],
)
def test_method_not_allowed(method: str, path: str, kind: RouteKind) -> None:
    route = match_route(method, path)
    assert route is not None
    assert route.kind is kind
    assert route.method == method
    assert route.method_allowed is False
    assert route.action is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/v1/",
        "/v2x/",
        "/v22/a/b/tags/list",
        "/v2/_catalog/",
        "/v2/a/b",
        "/v2/a/b/",
        "/v2/a/b/manifests/",
        "/v2/a/b/manifests/x/",
        "/v2/a/b/blobs/",
        "/v2/a/b/tags/list/",
        "/v2/a/b/tags",
        "/v2/a/b/referrers/",
        "/v2/a/b/blobs/uploads/u1/",
        "/v2//manifests/x",
        "/v2/manifests/x",
    ],
)
def test_unknown_paths(path: str) -> None:
    assert match_route("GET", path) is None


def test_route_kind_values_are_strings() -> None:
    assert str(K.MANIFEST) == "manifest"
    assert {str(k) for k in K} == {
        "base",
        "catalog",
        "tags_list",
        "manifest",
        "blob",
        "upload_start",
        "upload",
        "referrers",
    }


@given(st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]), st.text(max_size=60))
def test_match_route_total(method: str, suffix: str) -> None:
    route = match_route(method, "/v2/" + suffix)
    if route is None:
        return
    if not route.method_allowed:
        assert route.action is None
    elif route.kind not in (K.BASE, K.CATALOG):
        assert route.action in ("pull", "push", "delete")
    if route.name is not None:
        assert ("/v2/" + suffix).startswith("/v2/" + route.name + "/")


@given(
    st.lists(
        st.sampled_from(["a", "blobs", "manifests", "uploads", "tags", "list"]),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["manifests/x", "blobs/sha256:0", "tags/list", "referrers/sha256:0"]),
)
def test_name_is_everything_before_the_last_marker(parts: list[str], tail: str) -> None:
    name = "/".join(parts)
    route = match_route("GET", f"/v2/{name}/{tail}")
    assert route is not None
    assert route.name == name
