"""Private configuration for skopeo, podman and buildah, through environment variables only.

``containers_env(tmp_path, registry_host)`` writes, under ``tmp_path/containers``:

    storage.conf      driver vfs, graphroot/runroot inside tmp_path (no overlay, no fuse)
    registries.conf   the registry under test as an insecure (plain HTTP) registry (also
                      copied to home/.config/containers/, the only place skopeo 1.9 looks)
    containers.conf   cgroupfs + file events logger: no systemd or journald needed
    home/.config/containers/policy.json   accept anything (c/image reads $HOME's first)
    auth.json         REGISTRY_AUTH_FILE, so logins never touch /run or ~/.docker

and returns the environment (``os.environ`` plus the overrides) to pass to ``subprocess``.
Nothing under /etc is read for these settings or written. Pass the same ``tmp_path`` for
every call that should share images, and a new one for isolation.

``require_tool(name)`` returns the binary's path, skipping the test when it is missing, or
failing it when ``CI=true`` (CI installs every tool, so a missing one is a broken setup).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support.oci_layout import make_oci_layout

__all__ = ["containers_env", "in_ci", "make_oci_layout", "require_tool"]


def in_ci() -> bool:
    """True when the ``CI`` environment variable says so (CI runs with ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """Path of executable ``name``; skip the test if absent (fail it under CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/install-test-deps.sh installs it)"
        if in_ci():
            pytest.fail(message + "; CI must not skip it", pytrace=False)
        pytest.skip(message)
    return path


def _toml_str(value: str | os.PathLike[str]) -> str:
    # JSON string escaping is a subset of TOML basic strings.
    return json.dumps(str(value))


def containers_env(tmp_path: str | os.PathLike[str], registry_host: str) -> dict[str, str]:
    """Write the configuration files and return the environment that selects them.

    ``registry_host`` is ``HOST:PORT`` exactly as in image references (``127.0.0.1:5000``);
    registries.conf matches insecure registries by that exact location.
    """
    base = Path(tmp_path) / "containers"
    home = base / "home"
    for directory in (
        base / "graphroot",
        base / "runroot",
        base / "tmp",
        base / "xdg-run",
        home / ".config" / "containers",
    ):
        directory.mkdir(parents=True, exist_ok=True)
    os.chmod(base / "xdg-run", 0o700)

    storage_conf = base / "storage.conf"
    storage_conf.write_text(
        "[storage]\n"
        'driver = "vfs"\n'
        f"runroot = {_toml_str(base / 'runroot')}\n"
        f"graphroot = {_toml_str(base / 'graphroot')}\n"
    )
    registries_conf = base / "registries.conf"
    registries_conf.write_text(
        "unqualified-search-registries = []\n"
        'short-name-mode = "disabled"\n\n'
        "[[registry]]\n"
        f"location = {_toml_str(registry_host)}\n"
        "insecure = true\n"
    )
    containers_conf = base / "containers.conf"
    containers_conf.write_text(
        "[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f"events_logfile_path = {_toml_str(base / 'events.log')}\n"
        f"tmp_dir = {_toml_str(base / 'tmp')}\n"
        "[containers]\n"
        'log_driver = "k8s-file"\n'
        # No network namespaces: nothing under /run/netns or /etc/cni gets touched.
        'netns = "none"\n'
        "[network]\n"
        'network_backend = "netavark"\n'
        f"network_config_dir = {_toml_str(base / 'networks')}\n"
    )
    # skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF but, like every c/image user, reads
    # $HOME/.config/containers/registries.conf in preference to /etc's.
    (home / ".config" / "containers" / "registries.conf").write_text(registries_conf.read_text())
    auth_file = base / "auth.json"
    if not auth_file.exists():
        # podman and buildah refuse a REGISTRY_AUTH_FILE that does not exist.
        auth_file.write_text('{"auths": {}}\n')
    policy = {"default": [{"type": "insecureAcceptAnything"}]}
    (home / ".config" / "containers" / "policy.json").write_text(json.dumps(policy))
    (base / "policy.json").write_text(json.dumps(policy))

    env = dict(os.environ)
    env.update(
        {
            "CONTAINERS_STORAGE_CONF": str(storage_conf),
            "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
            "CONTAINERS_CONF": str(containers_conf),
            "REGISTRY_AUTH_FILE": str(auth_file),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_RUNTIME_DIR": str(base / "xdg-run"),
            "TMPDIR": str(base / "tmp"),
            # buildah: no user namespace as root; chroot isolation needs no runtime.
            "BUILDAH_ISOLATION": "chroot",
            "STORAGE_DRIVER": "vfs",
        }
    )
    return env
