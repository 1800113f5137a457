#!/usr/bin/env bash
# Set up and run `pulumi up` on the dev stack against the local Docker host, with a local
# file backend (unless PULUMI_BACKEND_URL says otherwise). Extra args go to `pulumi up`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pulumi >/dev/null || { echo "pulumi CLI not found: https://www.pulumi.com/docs/install/" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker engine answers 'docker info' (start it, or set DOCKER_HOST)" >&2; exit 1; }
# Healthchecks use start_interval, which needs Docker Engine 25 (API 1.44) or newer.
api="$(docker version --format '{{.Server.APIVersion}}')"
if [ "$(printf '%s\n1.44\n' "$api" | sort -V | head -n 1)" != "1.44" ]; then
  echo "Docker Engine API $api is too old: selfhost needs Docker Engine 25 (API 1.44) or newer" >&2
  exit 1
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
