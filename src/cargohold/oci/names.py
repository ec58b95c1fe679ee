"""Repository names, tags and references (distribution-spec v1.1, "Pulling manifests").

A repository name follows the spec grammar::

    [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*

and, as on ghcr.io, must have at least two components: ``owner/name[/more]``. The owner is the
user or organisation that the permission model is anchored on.
"""

from __future__ import annotations

import re

from cargohold.errors import NameInvalidError, TagInvalidError
from cargohold.oci.digest import Digest

MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"\A{_COMPONENT}(?:/{_COMPONENT})*\Z")
_COMPONENT_RE = re.compile(rf"\A{_COMPONENT}\Z")
_NAME_CHARS_RE = re.compile(r"[^a-z0-9._/-]")
#: Tag grammar; anchored, so ``TAG_RE.match`` is a full match.
TAG_RE = re.compile(r"\A[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
_TAG_CHARS_RE = re.compile(r"[^a-zA-Z0-9._-]")
_SHOWN = 100


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _name_error(name: str, reason: str) -> NameInvalidError:
    return NameInvalidError(
        f"invalid repository name {_shown(name)}: {reason}", detail={"name": name[:_SHOWN]}
    )


def validate_name(name: str) -> str:
    """Return ``name`` unchanged if it is a valid ``owner/name`` repository name.

    Raises ``NameInvalidError`` whose message names the first problem found: empty, too long,
    upper case, ``..`` (path traversal), an empty component, a character outside ``[a-z0-9._-]``,
    a component that starts or ends with a separator or repeats one, or no owner segment.
    """
    if not isinstance(name, str) or not name:
        raise NameInvalidError("invalid repository name: it is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise _name_error(
            name, f"it is {len(name)} characters long; the maximum is {MAX_NAME_LENGTH}"
        )
    if any("A" <= c <= "Z" for c in name):
        raise _name_error(name, "it must be lower case")
    if ".." in name:
        raise _name_error(name, "'..' is not allowed (path traversal)")
    components = name.split("/")
    if "" in components:
        raise _name_error(name, "it has an empty path component (leading, trailing or '//')")
    bad = _NAME_CHARS_RE.search(name)
    if bad:
        raise _name_error(
            name, f"character {bad.group()!r} is not allowed; use a-z, 0-9, '.', '_', '-', '/'"
        )
    for component in components:
        if not _COMPONENT_RE.match(component):
            raise _name_error(
                name,
                f"path component {component!r} must start and end with a letter or digit, "
                "with single '.', '_' or '__', or dashes, between them",
            )
    if len(components) < 2:
        raise _name_error(name, "it has no owner segment; use 'owner/name'")
    # Belt and braces: the checks above are the spec grammar, explained piece by piece.
    if not NAME_RE.match(name):  # pragma: no cover
        raise _name_error(name, "it does not match the repository name grammar")
    return name


def split_owner(name: str) -> tuple[str, str]:
    """Split a valid name into ``(owner, rest)``: ``"acme/tools/cli"`` -> ``("acme", "tools/cli")``.

    Validates first; raises ``NameInvalidError`` like ``validate_name``.
    """
    owner, _, rest = validate_name(name).partition("/")
    return owner, rest


def validate_tag(tag: str) -> str:
    """Return ``tag`` unchanged if it matches ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``.

    Raises ``TagInvalidError`` saying what is wrong.
    """
    if not isinstance(tag, str) or not tag:
        raise TagInvalidError("invalid tag: it is empty")
    if TAG_RE.match(tag):
        return tag
    shown = _shown(tag)
    detail = {"tag": tag[:_SHOWN]}
    if len(tag) > MAX_TAG_LENGTH:
        reason = f"it is {len(tag)} characters long; the maximum is {MAX_TAG_LENGTH}"
    elif bad := _TAG_CHARS_RE.search(tag):
        reason = f"character {bad.group()!r} is not allowed; use a-z, A-Z, 0-9, '_', '.', '-'"
    else:
        reason = "it must start with a letter, a digit or '_'"
    raise TagInvalidError(f"invalid tag {shown}: {reason}", detail=detail)


def parse_reference(ref: str) -> Digest | str:
    """Parse the ``<reference>`` of ``/v2/<name>/manifests/<reference>``.

    A reference containing ``:`` is a digest, parsed strictly (``DigestInvalidError``); anything
    else is a tag, validated (``TagInvalidError``). Tags cannot contain ``:``, so this is exact.
    """
    if ":" in ref:
        return Digest.parse(ref)
    return validate_tag(ref)
