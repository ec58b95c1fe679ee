"""A small OCI distribution client over HTTP, as skopeo and buildx talk to a registry.

    client = RegistryClient("127.0.0.1:5000", Credentials("x", token), insecure=True)
    client.push_blob("acme/shop", data)           # HEAD, then POST + PUT (monolithic)
    client.push_manifest("acme/shop", "v1", body, media_type)
    client.get_manifest("library/alpine", "3.19")

Authentication follows the registry's challenge: ``WWW-Authenticate: Bearer realm=...`` gets a
token from the realm with HTTP Basic (the login's credentials) for the scope
``repository:NAME:pull,push``; ``Basic`` challenges get the credentials directly. A refused
request raises ``RegistryError`` whose ``str()`` is what docker prints: ``denied: <message>``
(the OCI error code lower-cased, then the registry's message unchanged).

With a ``signal`` (``interrupt.StepSignal``), a request in flight when it fires is stopped at
once: its connection is shut down, which wakes a send or a read blocked on a stalled registry,
and ``Interrupted`` is raised instead of a ``RegistryError``; no request starts after it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from socket import SOCK_STREAM
from typing import Any

from cargohold.workflow.interrupt import StepSignal

TIMEOUT = 120.0
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


class RegistryError(Exception):
    """The registry refused a request; ``str()`` is ``code: message`` as docker prints it."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def __str__(self) -> str:
        return self.text


def error_text(status: int, body: bytes) -> str:
    """An OCI error body as docker prints it: ``denied: <message>`` (first error)."""
    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return f"{str(first.get('code', 'unknown')).lower()}: {first.get('message', '')}"
    except (ValueError, AttributeError, IndexError, TypeError):
        text = body.decode(errors="replace").strip()
        return f"unexpected status {status}" + (f": {text[:300]}" if text else "")


_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryClient:
    """One registry host; remembers bearer tokens per scope for the client's lifetime."""

    def __init__(
        self,
        host: str,
        creds: Credentials | None,
        *,
        insecure: bool,
        signal: StepSignal | None = None,
    ) -> None:
        self.host = host
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.creds = creds
        self.signal = signal
        self._tokens: dict[str, str] = {}
        self._opener = (
            urllib.request.build_opener()
            if signal is None
            else urllib.request.build_opener(_Http(signal), _Https(signal))
        )

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        if self.signal is not None:
            self.signal.check()
        try:
            try:
                with self._opener.open(request, timeout=TIMEOUT) as resp:
                    return resp.status, dict(resp.headers.items()), resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, dict(exc.headers.items()), exc.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if self.signal is not None:
                self.signal.check()  # shut down by the signal: say that, not "cannot reach"
            raise RegistryError(0, f"cannot reach {self.host}: {exc}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request with authentication; a 401 is answered once by the challenge."""
        url = path if path.startswith("http") else self.base + path
        all_headers = dict(headers or {})
        if scope in self._tokens:
            all_headers["Authorization"] = self._tokens[scope]
        status, resp_headers, body = self._send(method, url, all_headers, data)
        if status != 401:
            return status, resp_headers, body
        challenge = _header(resp_headers, "WWW-Authenticate")
        self._tokens[scope] = self._authorize(challenge, scope)
        all_headers["Authorization"] = self._tokens[scope]
        return self._send(method, url, all_headers, data)

    def _authorize(self, challenge: str, scope: str) -> str:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self.creds is None:
                raise RegistryError(401, "unauthorized: authentication required")
            return _basic(self.creds)
        if scheme.lower() != "bearer":
            raise RegistryError(401, f"unauthorized: unsupported challenge {challenge!r}")
        params = dict(_PARAM.findall(rest))
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        url = params.get("realm", "") + "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": _basic(self.creds)} if self.creds else {}
        status, _, body = self._send("GET", url, headers, None)
        if status != 200:
            raise RegistryError(status, error_text(status, body))
        token = json.loads(body).get("token") or json.loads(body).get("access_token")
        return f"Bearer {token}"

    # -- API --------------------------------------------------------------------------------

    def login(self) -> None:
        """Check the credentials as ``docker login`` does (``GET /v2/`` then the token realm)."""
        status, headers, body = self._send("GET", f"{self.base}/v2/", {}, None)
        if status == 200:
            return
        if status != 401:
            raise RegistryError(status, error_text(status, body))
        auth = self._authorize(_header(headers, "WWW-Authenticate"), "")
        status, _, body = self._send("GET", f"{self.base}/v2/", {"Authorization": auth}, None)
        if status != 200:
            raise RegistryError(status, error_text(status, body))

    def blob_exists(self, name: str, digest: str) -> bool:
        status, _, body = self.request(
            "HEAD", f"/v2/{name}/blobs/{digest}", scope=_push_scope(name)
        )
        if status in (401, 403):
            raise RegistryError(status, error_text(status, body))
        return status == 200

    def push_blob(self, name: str, data: bytes, digest: str | None = None) -> tuple[str, bool]:
        """Upload ``data`` unless present; returns (digest, uploaded)."""
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        if self.blob_exists(name, digest):
            return digest, False
        scope = _push_scope(name)
        status, headers, body = self.request("POST", f"/v2/{name}/blobs/uploads/", scope=scope)
        if status != 202:
            raise RegistryError(status, error_text(status, body))
        location = _header(headers, "Location")
        if not location.startswith("http"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        status, _, body = self.request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            scope=scope,
            headers={"Content-Type": "application/octet-stream"},
            data=data,
        )
        if status != 201:
            raise RegistryError(status, error_text(status, body))
        return digest, True

    def push_manifest(self, name: str, reference: str, body: bytes, media_type: str) -> str:
        status, headers, resp = self.request(
            "PUT",
            f"/v2/{name}/manifests/{reference}",
            scope=_push_scope(name),
            headers={"Content-Type": media_type},
            data=body,
        )
        if status != 201:
            raise RegistryError(status, error_text(status, resp))
        return _header(headers, "Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(body).hexdigest()
        )

    def get_manifest(self, name: str, reference: str) -> tuple[bytes, str]:
        """(body, media type) of a manifest or index; ``RegistryError`` when refused."""
        status, headers, body = self.request(
            "GET",
            f"/v2/{name}/manifests/{reference}",
            scope=f"repository:{name}:pull",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if status != 200:
            raise RegistryError(status, error_text(status, body))
        return body, _header(headers, "Content-Type").split(";")[0].strip()

    def get_blob(self, name: str, digest: str) -> bytes:
        status, _, body = self.request(
            "GET", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:pull"
        )
        if status != 200:
            raise RegistryError(status, error_text(status, body))
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise RegistryError(status, f"blob {digest} of {name}: the content does not match")
        return body


def _push_scope(name: str) -> str:
    return f"repository:{name}:pull,push"


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def manifest_json(data: Any) -> bytes:
    """Canonical manifest bytes (sorted keys, no spaces) so the same image gives one digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class _StoppableHttp(http.client.HTTPConnection):
    """A connection whose socket is shut down when ``signal`` fires, from before it connects
    (a registry whose queue is full never completes the handshake). The sockets are held
    here, not read from ``self.sock``: urllib detaches it from the connection once the
    response starts, and the body is still read from it."""

    def __init__(self, signal: StepSignal, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signal = signal
        self._releases: list[Callable[[], None]] = []
        vars(self)["_create_connection"] = self._connect_watched  # not in the stubs

    def _connect_watched(
        self, address: tuple[str, int], timeout: Any, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection``, each socket watched before it connects."""
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(*address, 0, SOCK_STREAM):
            self._signal.check()
            sock = socket.socket(family, kind, proto)
            self._watch(sock)
            try:
                if isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"cannot resolve {address[0]}")

    def _watch(self, sock: socket.socket) -> None:
        self._releases.append(self._signal.register(lambda: _shutdown(sock)))

    def close(self) -> None:
        for release in self._releases:
            release()
        self._releases.clear()
        super().close()


class _StoppableHttps(_StoppableHttp, http.client.HTTPSConnection):
    """TLS too: the handshake is done after the TLS socket is watched (``wrap_socket`` takes
    the descriptor away from the TCP socket, and a handshake may stall as well)."""

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        attrs = vars(self)  # http.client's, not in the stubs
        host = attrs["_tunnel_host"] or self.host
        tls = attrs["_context"].wrap_socket(
            self.sock, server_hostname=host, do_handshake_on_connect=False
        )
        self.sock = tls
        self._watch(tls)
        tls.do_handshake()


def _shutdown(sock: socket.socket) -> None:
    """Shut the socket's descriptor down, which wakes a thread blocked on it. The plain
    socket's method even for TLS: ``SSLSocket.shutdown`` would also drop its TLS object
    under the feet of the thread reading through it."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Http(urllib.request.HTTPHandler):
    def __init__(self, signal: StepSignal) -> None:
        super().__init__()
        self._signal = signal

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            return _StoppableHttp(self._signal, host, **kwargs)

        return self.do_open(connection, req)


class _Https(urllib.request.HTTPSHandler):
    def __init__(self, signal: StepSignal) -> None:
        super().__init__()
        self._signal = signal

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            return _StoppableHttps(self._signal, host, **kwargs)

        return self.do_open(connection, req)
