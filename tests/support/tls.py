"""A throwaway certificate authority and a TLS ``cargohold serve`` process for tests.

ca = ThrowawayCA.create(tmp_path / "tls")             # ca.pem, server.pem, server.key
with TlsServerProcess(ca).start(tmp_path / "data") as server:
    server.url                                    # https://127.0.0.1:PORT
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.server import ServerProcess, ServerStartError, _tail


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass(frozen=True)
class ThrowawayCA:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path

    @classmethod
    def create(cls, directory: Path, common_name: str = "cargohold test server") -> ThrowawayCA:
        """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
        directory.mkdir(parents=True, exist_ok=True)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        end = start + dt.timedelta(days=2)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("cargohold test CA"))
            .issuer_name(_name("cargohold test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        paths = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        paths.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        os.chmod(paths.key_pem, 0o600)
        return paths

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_pem))


class TlsServerProcess(ServerProcess):
    """``cargohold serve --tls-cert --tls-key``; ready once ``GET /v2/`` answers over TLS."""

    def __init__(self, ca: ThrowawayCA) -> None:
        super().__init__()
        self.ca = ca

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def start(
        self,
        data_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> Self:
        tls = ["--tls-cert", str(self.ca.cert_pem), "--tls-key", str(self.ca.key_pem)]
        return super().start(data_dir, env=env, extra_args=[*tls, *extra_args], timeout=timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        context = self.ca.client_context()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError("cargohold serve exited:\n" + _tail(self.stderr_path))
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=context):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise ServerStartError("cargohold serve (TLS) did not answer:\n" + _tail(self.stderr_path))
