"""Built-in TLS: ``serve --tls-cert --tls-key`` answers over HTTPS, and SIGHUP reloads the
certificate without a restart (a handshake afterwards sees the new one)."""

from __future__ import annotations

import signal
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from support.e2e import wait_for
from support.tls import ThrowawayCA, TlsServerProcess


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServerProcess]:
    server = TlsServerProcess(ThrowawayCA.create(tmp_path / "tls", "first"))
    with server.start(tmp_path / "data"):
        yield server


def served_name(server: TlsServerProcess, ca: ThrowawayCA) -> str:
    """The common name of the certificate the server presents (verified against ``ca``)."""
    context = ca.client_context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.rfc4514_string())


def test_https_and_reload_on_sighup(tls_server: TlsServerProcess, tmp_path: Path) -> None:
    server = tls_server
    assert served_name(server, server.ca) == "CN=first"
    # plain HTTP on the TLS port gets no registry answer
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /v2/ HTTP/1.0\r\n\r\n")
        assert b"Docker-Distribution-API-Version" not in raw.recv(4096)
    # a renewed certificate (another CA here) replaces the files; SIGHUP picks it up
    renewed = ThrowawayCA.create(tmp_path / "renewed", "second")
    server.ca.cert_pem.write_bytes(renewed.cert_pem.read_bytes())
    server.ca.key_pem.write_bytes(renewed.key_pem.read_bytes())
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)

    def reloaded() -> bool:
        try:
            return served_name(server, renewed) == "CN=second"
        except ssl.SSLError:
            return False

    wait_for(reloaded, timeout=10, what="the server to present the renewed certificate")
    assert server.proc.poll() is None
    # a broken file on the next reload keeps the working certificate
    server.ca.cert_pem.write_text("not a certificate")
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "TLS reload failed" in server.stderr_path.read_text(), timeout=10,
             what="the failed reload to be logged")  # fmt: skip
    assert served_name(server, renewed) == "CN=second"
