#!/usr/bin/env bash
# Install everything the test suite needs; safe to run again (idempotent).
#
#   scripts/install-test-deps.sh            # Debian packages + .venv
#   scripts/install-test-deps.sh --venv     # .venv only (what a unit-test run needs)
#
#   1. Debian packages: the real OCI clients (skopeo, podman, buildah), the CNCF
#      distribution registry (peer for benchmarks and e2e comparisons), PostgreSQL 15,
#      wrk (load client for benchmarks). apt runs only when a package is missing.
#   2. .venv with `pip install -e '.[test]'`, redone only when pyproject.toml changed.
#
# Nothing is written to /etc: the tests point skopeo/podman/buildah at private config
# files through environment variables (tests/support/containers.py).
#
# Why this package set (root, vfs storage, no systemd, installed --no-install-recommends):
#   - podman depends on conmon, crun and golang-github-containers-common; containers-common
#     depends on *a* network stack (netavark | containernetworking-plugins) and only
#     recommends netavark. apt picks containernetworking-plugins (CNI), but podman 4 defaults
#     to netavark and then every command fails: `could not find "netavark" in one of
#     [/usr/local/libexec/podman ...]`. So netavark is listed explicitly.
#   - aardvark-dns (DNS inside named podman networks) is only recommended by netavark; the
#     tests run no container with a network (netns = "none"), so it is not needed.
#   - buildah depends on uidmap; fuse-overlayfs, slirp4netns and catatonit are for rootless,
#     overlay or `--init` setups that the tests do not use (vfs storage, root, chroot
#     isolation), so they are not installed.
#   - docker-registry and wrk are for benchmarks/ only; the tests do not need them.
# scripts/preflight.py checks that each client actually runs after the install.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ca-certificates
  skopeo
  podman
  netavark
  buildah
  uidmap
  docker-registry
  postgresql-15
  postgresql-client-15
  gh
  wrk
  umoci
  chromium
  haproxy  # the load balancer in front of replicas (tests/e2e/test_e2e_cluster.py)
)

venv_only=0
case ${1:-} in
  --venv) venv_only=1 ;;
  "") ;;
  *)
    echo "usage: $0 [--venv]" >&2
    exit 2
    ;;
esac

missing=()
((venv_only)) && APT_PACKAGES=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "install-test-deps: installing Debian packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends "${missing[@]}"
  # docker-registry's and postgresql's packages start system services where an init
  # system exists; the tests start their own throwaway instances instead.
elif ((!venv_only)); then
  echo "install-test-deps: Debian packages present"
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install-test-deps: $PYTHON is older than 3.11" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "install-test-deps: creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.cargohold-test-deps
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "install-test-deps: pip install -e '.[test]'"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" >"$stamp"
else
  echo "install-test-deps: .venv up to date"
fi
