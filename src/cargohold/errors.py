"""The one error hierarchy of cargohold, and its table to the wire.

Every error raised by the domain carries an OCI error code. Adapters never build error JSON:
the web layer turns a ``CargoholdError`` into ``{"errors": [{"code", "message", "detail"}]}``
with the status from ``STATUS``; the CLI prints the same message and exits non-zero.
"""

from __future__ import annotations

from typing import Any, ClassVar

# OCI distribution-spec error codes (code-1..14) plus the ones registries commonly add.
STATUS: dict[str, int] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    # distribution's code for a dependency that is down (database, blob store); with Retry-After.
    "UNAVAILABLE": 503,
    # Not in the spec's list, but used with the spec's error body shape.
    "RANGE_INVALID": 416,
    "MANIFEST_TOO_LARGE": 413,
    "PAGINATION_NUMBER_INVALID": 400,
    "TAG_INVALID": 400,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "INVALID_REQUEST": 400,
}


class CargoholdError(Exception):
    """Base of every error cargohold reports to a client.

    ``code`` is the OCI error code (a key of ``STATUS``); ``message`` is what clients print;
    ``detail`` is structured data for machines. ``status`` may be overridden per instance for the
    few places where the spec asks a different status for the same code (e.g. 416 on uploads).
    """

    code: ClassVar[str] = "INVALID_REQUEST"
    default_message: ClassVar[str] = "invalid request"

    def __init__(
        self,
        message: str | None = None,
        detail: Any = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.detail = detail
        self.status = status if status is not None else STATUS[self.code]
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class BlobUnknownError(CargoholdError):
    code = "BLOB_UNKNOWN"
    default_message = "blob unknown to registry"


class BlobUploadInvalidError(CargoholdError):
    code = "BLOB_UPLOAD_INVALID"
    default_message = "blob upload invalid"


class BlobUploadUnknownError(CargoholdError):
    code = "BLOB_UPLOAD_UNKNOWN"
    default_message = "blob upload unknown to registry"


class DigestInvalidError(CargoholdError):
    code = "DIGEST_INVALID"
    default_message = "provided digest did not match uploaded content"


class ManifestBlobUnknownError(CargoholdError):
    code = "MANIFEST_BLOB_UNKNOWN"
    default_message = "manifest references a manifest or blob unknown to registry"


class ManifestInvalidError(CargoholdError):
    code = "MANIFEST_INVALID"
    default_message = "manifest invalid"


class ManifestUnknownError(CargoholdError):
    code = "MANIFEST_UNKNOWN"
    default_message = "manifest unknown to registry"


class ManifestTooLargeError(CargoholdError):
    code = "MANIFEST_TOO_LARGE"
    default_message = "manifest exceeds the size limit"


class NameInvalidError(CargoholdError):
    code = "NAME_INVALID"
    default_message = "invalid repository name"


class NameUnknownError(CargoholdError):
    code = "NAME_UNKNOWN"
    default_message = "repository name not known to registry"


class SizeInvalidError(CargoholdError):
    code = "SIZE_INVALID"
    default_message = "provided length did not match content length"


class TagInvalidError(CargoholdError):
    code = "TAG_INVALID"
    default_message = "invalid tag"


class RangeInvalidError(CargoholdError):
    code = "RANGE_INVALID"
    default_message = "requested range not satisfiable"


class PaginationInvalidError(CargoholdError):
    code = "PAGINATION_NUMBER_INVALID"
    default_message = "invalid number of results requested"


class UnauthorizedError(CargoholdError):
    code = "UNAUTHORIZED"
    default_message = "authentication required"


class DeniedError(CargoholdError):
    code = "DENIED"
    default_message = "requested access to the resource is denied"


class UnsupportedError(CargoholdError):
    code = "UNSUPPORTED"
    default_message = "the operation is unsupported"


class TooManyRequestsError(CargoholdError):
    code = "TOOMANYREQUESTS"
    default_message = "too many requests"


class ServiceUnavailableError(CargoholdError):
    """The database or the blob store does not answer; the client should retry later.

    Always carries ``Retry-After`` (seconds). The message never names hosts or credentials.
    """

    code = "UNAVAILABLE"
    default_message = "service unavailable; retry later"

    def __init__(
        self, message: str | None = None, detail: Any = None, *, retry_after: int = 5
    ) -> None:
        super().__init__(message, detail, headers={"Retry-After": str(retry_after)})


class NotFoundError(CargoholdError):
    """A management object (user, org, team, repository, token) that does not exist."""

    code = "NOT_FOUND"
    default_message = "not found"


class ConflictError(CargoholdError):
    """A management object that already exists, or a state change that conflicts."""

    code = "CONFLICT"
    default_message = "conflict"


class InvalidRequestError(CargoholdError):
    code = "INVALID_REQUEST"
    default_message = "invalid request"


class StorageError(Exception):
    """Raised by blob-store backends; vendor exceptions are wrapped in it (``from exc``).

    Not a client error: the web layer answers 500 with a generic body and logs it.
    """


class ConfigError(Exception):
    """A bad setting; the message names the key."""
