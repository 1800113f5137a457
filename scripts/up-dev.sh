#!/usr/bin/env bash
# Set up and run `pulumi up` on the dev stack against the local Docker host, with a local
# file backend (unless PULUMI_BACKEND_URL says otherwise). Extra args go to `pulumi up`.
# Without a Pulumi CLI on PATH it installs the pinned release below into .pulumi/bin, with
# PULUMI_HOME (plugins, credentials) in .pulumi-home: the CLI lands nowhere outside this directory.
set -euo pipefail
cd "$(dirname "$0")/.."
project="$PWD"

# The pinned Pulumi CLI. The SHA-256 of pulumi-v3.256.0-linux-x64.tar.gz, from two independent
# public sources that agree:
#   - Fryuni/config-files overlay/pulumi/data.nix at b82d2a5 (nixpkgs' pulumi-bin update.sh,
#     nix-prefetch-url of get.pulumi.com/releases/sdk/pulumi-v3.256.0-linux-x64.tar.gz):
#     base32 1snaj7x6qbpf02nn3viiigx1xyvqmx686s0jjq3gxxs8v96gsjpy, which is the hex below;
#   - dirien/infrastructure-sandbox-kit scripts/install-pulumi.sh at 18544e3 ("bump Pulumi
#     CLI to 3.256.0 (pins + checksums)", from pulumi-3.256.0-checksums.txt; its download is
#     the GitHub release asset of the same name).
# Only linux-x64 is pinned: no second source confirmed another platform's digest. Bump the
# version and the digest together, from the release's pulumi-<version>-checksums.txt.
pulumi_version="3.256.0"
pulumi_sha256_linux_x64="fe4afd4cda48f7fe06961268834caf78fb1efa8b31ee61ad00ee2e6cfa91caea"
# Where the archive comes from (override for a mirror, or for tests: the digest still applies).
release_url="${SELFHOST_PULUMI_RELEASE_URL:-https://get.pulumi.com/releases/sdk/pulumi-v${pulumi_version}-linux-x64.tar.gz}"
local_bin="$project/.pulumi/bin"

die() { echo "up-dev.sh: $*" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
  fi
}

download() {  # url, file
  if command -v curl >/dev/null; then
    curl -fsSL --retry 2 -o "$2" "$1"
  else
    python3 -c 'import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as r, open(sys.argv[2], "wb") as f: shutil.copyfileobj(r, f)' "$1" "$2"
  fi
}

local_pulumi_is_pinned() {
  [ -x "$local_bin/pulumi" ] &&
    [ "$(PULUMI_SKIP_UPDATE_CHECK=true "$local_bin/pulumi" version 2>/dev/null)" = "v$pulumi_version" ]
}

# Download, verify, unpack, then rename into place: .pulumi/bin appears whole or not at all.
install_pinned_pulumi() {
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
    die "no pinned Pulumi CLI for $(uname -s) $(uname -m) (only linux-x64 is pinned): install it from https://www.pulumi.com/docs/install/ and run again"
  work="$(mktemp -d "$project/.pulumi-install.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "installing Pulumi CLI v$pulumi_version into .pulumi/bin from $release_url"
  download "$release_url" "$work/pulumi.tar.gz" || die "could not download $release_url"
  actual="$(sha256_of "$work/pulumi.tar.gz")"
  if [ "$actual" != "$pulumi_sha256_linux_x64" ]; then
    die "checksum mismatch for $release_url: expected sha256 $pulumi_sha256_linux_x64, got $actual; nothing was installed"
  fi
  mkdir "$work/unpacked"
  tar -xzf "$work/pulumi.tar.gz" -C "$work/unpacked"
  [ -x "$work/unpacked/pulumi/pulumi" ] || die "$release_url has no pulumi/pulumi executable; nothing was installed"
  mkdir -p "$project/.pulumi"
  if [ -e "$local_bin" ]; then mv "$local_bin" "$work/replaced"; fi
  mv "$work/unpacked/pulumi" "$local_bin"
  rm -rf "$work"
  trap - EXIT
}

docker info >/dev/null 2>&1 || { echo "no Docker engine answers 'docker info' (start it, or set DOCKER_HOST)" >&2; exit 1; }
# Healthchecks use start_interval, which needs Docker Engine 25 (API 1.44) or newer.
api="$(docker version --format '{{.Server.APIVersion}}')"
if [ "$(printf '%s\n1.44\n' "$api" | sort -V | head -n 1)" != "1.44" ]; then
  echo "Docker Engine API $api is too old: selfhost needs Docker Engine 25 (API 1.44) or newer" >&2
  exit 1
fi

if command -v pulumi >/dev/null; then
  echo "using the Pulumi CLI on PATH: $(command -v pulumi)"
else
  # (an if, not ||: set -e must stay in force inside install_pinned_pulumi)
  if ! local_pulumi_is_pinned; then install_pinned_pulumi; fi
  # The language hosts (pulumi-language-python) sit beside the CLI; Pulumi finds them on PATH.
  export PATH="$local_bin:$PATH"
  # Plugins, credentials and the update check's state go here, not to ~/.pulumi
  # (pulumi/pulumi v3.256.0 sdk/go/common/workspace/paths.go GetPulumiHomeDir reads PULUMI_HOME).
  export PULUMI_HOME="${PULUMI_HOME:-$project/.pulumi-home}"
  echo "using the project's Pulumi CLI: $local_bin/pulumi (PULUMI_HOME=$PULUMI_HOME)"
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

state="$PWD/.pulumi-state"
mkdir -p "$state"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$state}"
# The dev stack's secrets (generated passwords) are encrypted with a passphrase kept beside
# the state, readable only by you, unless you bring your own.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$state/passphrase" ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$state/passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$state/passphrase"
fi

pulumi stack select dev --create --non-interactive
exec pulumi up --stack dev "$@"
