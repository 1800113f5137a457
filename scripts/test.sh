#!/usr/bin/env bash
# Set up and run every test: lint, types, and all four tiers (tier 4 skips without Pulumi CLI + Docker).
# Usage: scripts/test.sh [pytest args...]    e.g. scripts/test.sh tests/test_e2e.py
set -euo pipefail
cd "$(dirname "$0")/.."

# Real binaries for the tier-3 tests (Debian/Ubuntu). Elsewhere those tests skip, and say so.
# Docker, nginx, the databases and Redis 8 come from the Debian unstable root that tests/sidroot.py
# builds with debootstrap (Docker 28 runs in namespaces of its own: tests/dockerd28.py).
DEBIAN_PACKAGES=(php-cli cloud-init redis-server openssl curl wrk shellcheck apache2-bin iso-codes
                 iproute2 debootstrap golang-go openssh-client)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  # Node.js and npm for Mermaid's own parser (tests/mermaid_parser.py), unless a Node.js with npm is there
  # already (e.g. NodeSource's, which bundles npm and conflicts with Debian's npm package).
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    # Installing a server package must not start it: the tests run their own instances.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "no apt-get: tier-3 tests that need ${DEBIAN_PACKAGES[*]} will skip" >&2
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
exec .venv/bin/python -m pytest "$@"
