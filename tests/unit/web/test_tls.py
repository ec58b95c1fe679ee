"""web.tls: the SSL context from the settings, its errors, and reloading."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargohold.errors import ConfigError
from cargohold.settings import load_settings
from cargohold.web import tls
from support.tls import ThrowawayCA


def test_no_files_is_plain_http(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    assert tls.server_context(settings) is None
    assert settings.external_url.startswith("http://")


def test_both_files_or_neither(tmp_path: Path) -> None:
    ca = ThrowawayCA.create(tmp_path / "tls")
    with pytest.raises(ConfigError, match="both"):
        tls.server_context(load_settings({"tls_cert": str(ca.cert_pem)}, environ={}))
    with pytest.raises(ConfigError, match="both"):
        tls.server_context(load_settings({"tls_key": str(ca.key_pem)}, environ={}))


def test_loads_and_reloads(tmp_path: Path) -> None:
    ca = ThrowawayCA.create(tmp_path / "tls")
    settings = load_settings({"tls_cert": str(ca.cert_pem), "tls_key": str(ca.key_pem)}, environ={})
    context = tls.server_context(settings)
    assert context is not None
    assert settings.external_url.startswith("https://")
    assert tls.reload(context, settings)
    ca.cert_pem.write_text("garbage")
    assert not tls.reload(context, settings)  # keeps the previous certificate


def test_unreadable_files_name_the_setting(tmp_path: Path) -> None:
    settings = load_settings(
        {"tls_cert": str(tmp_path / "missing.pem"), "tls_key": str(tmp_path / "missing.key")},
        environ={},
    )
    with pytest.raises(ConfigError, match="tls_cert"):
        tls.server_context(settings)
