"""The one settings object: defaults, file, environment, overrides; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from cargohold.errors import ConfigError
from cargohold.settings import load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"data_dir": str(tmp_path)}, environ={})
    assert s.listen == "127.0.0.1:5000"
    assert s.external_url == "http://127.0.0.1:5000"
    assert s.service_name == "127.0.0.1:5000"
    assert s.db_url == f"sqlite:///{tmp_path}/cargohold.db"
    assert s.blob_root == f"{tmp_path}/storage"
    assert s.auth_enabled is True


def test_precedence_file_env_override(tmp_path: Path) -> None:
    (tmp_path / "cargohold.toml").write_text(
        'listen = "0.0.0.0:6000"\nworkers = 3\nbase_url = "https://r.example"\n'
    )
    env = {"CARGOHOLD_WORKERS": "4", "CARGOHOLD_AUTH_ENABLED": "false"}
    s = load_settings({"data_dir": str(tmp_path)}, environ=env)
    assert s.listen == "0.0.0.0:6000"
    assert s.workers == 4
    assert s.auth_enabled is False
    assert s.external_url == "https://r.example"
    assert s.service_name == "r.example"
    s2 = load_settings({"data_dir": str(tmp_path), "workers": 2, "listen": None}, environ=env)
    assert s2.workers == 2
    assert s2.listen == "0.0.0.0:6000"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CARGOHOLD_WORKERS": "many"}, "CARGOHOLD_WORKERS"),
        ({"CARGOHOLD_AUTH_ENABLED": "perhaps"}, "CARGOHOLD_AUTH_ENABLED"),
        ({"CARGOHOLD_NO_SUCH": "1"}, "CARGOHOLD_NO_SUCH"),
        ({"CARGOHOLD_LISTEN": "nohost"}, "listen"),
        ({"CARGOHOLD_WORKERS": "0"}, "workers"),
        ({"CARGOHOLD_STORAGE": "floppy"}, "storage"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings({"data_dir": str(tmp_path)}, environ=env)


def test_bad_file_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings({"data_dir": str(tmp_path)}, environ={}, config_file=str(cfg))
