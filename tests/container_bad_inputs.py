"""Bad config of a container app, in the catalogue of tests/test_bad_inputs.py and checked message by
message in tests/test_kind_container.py: ``(id, options on top of MINIMAL, key under apps.tool, what it says)``."""

from __future__ import annotations

from typing import Any

from components.core.container import NO_ENV_IN_LOGS

SECRET = "s3cr3t-value-7d41"
"""A secret's value: it must never appear in an error message or an environment value."""
MINIMAL: dict[str, Any] = {
    "kind": "container",
    "hostname": "tool.localhost",
    "image": "ghcr.io/owner/tool:2.4.1",
    "port": 8080,
    "healthcheck": {"path": "/health"},
}


def app(**options: Any) -> dict[str, Any]:
    """App ``tool`` with ``options`` on top of the valid minimum (None drops a key)."""
    return {key: value for key, value in {**MINIMAL, **options}.items() if value is not None}


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, options, the key the message names, what it says)
    ("image-untagged", {"image": "nginx"}, "image", "'nginx' has no tag: Docker would pull 'latest'"),
    ("image-latest", {"image": "nginx:latest"}, "image", "which is not reproducible"),
    ("image-moving-tag", {"image": "nginx:stable"}, "image", "tag 'stable' names no version"),
    ("image-uppercase", {"image": "Owner/Tool:1.0"}, "image", "the repository name must be lower case"),
    ("image-grammar", {"image": "ghcr.io/owner/tool: 1.0"}, "image", "is not an image reference Docker accepts"),
    ("image-digest", {"image": "tool@sha256:" + "a" * 40}, "image", "the digest must be sha256"),
    ("image-empty", {"image": ""}, "image", "is empty"),
    ("image-missing", {"image": None}, "image", "is required"),
    ("port-zero", {"port": 0}, "port", "greater than or equal to 1"),
    ("port-high", {"port": 65536}, "port", "less than or equal to 65535"),
    ("port-string", {"port": "8080"}, "port", "valid integer"),
    ("port-missing", {"port": None}, "port", "is required"),
    ("healthcheck-missing", {"healthcheck": None}, "healthcheck", "is required ({path: /health}"),
    ("healthcheck-empty", {"healthcheck": {}}, "healthcheck.path", "set either path"),
    ("healthcheck-both", {"healthcheck": {"path": "/", "command": ["CMD", "true"]}}, "healthcheck.path", "not both"),
    ("healthcheck-path", {"healthcheck": {"path": "health"}}, "healthcheck.path", "start it with '/'"),
    (
        "healthcheck-start-period",
        {"healthcheck": {"path": "/health", "startPeriod": "soon"}},
        "healthcheck.startPeriod",
        "is not a Go duration",
    ),
    ("healthcheck-path-space", {"healthcheck": {"path": "/a b"}}, "healthcheck.path", "no spaces"),
    ("healthcheck-command-form", {"healthcheck": {"command": ["curl", "x"]}}, "healthcheck.command", "'CMD'"),
    ("healthcheck-cmd-alone", {"healthcheck": {"command": ["CMD"]}}, "healthcheck.command", "needs the program"),
    (
        "healthcheck-shell-two",
        {"healthcheck": {"command": ["CMD-SHELL", "a", "b"]}},
        "healthcheck.command",
        "exactly one shell command line",
    ),
    ("healthcheck-interval", {"healthcheck": {"path": "/", "interval": "30"}}, "healthcheck.interval", "Go duration"),
    ("healthcheck-interval-int", {"healthcheck": {"path": "/", "interval": 30}}, "healthcheck.interval", "string"),
    ("healthcheck-timeout-tiny", {"healthcheck": {"path": "/", "timeout": "5us"}}, "healthcheck.timeout", "1ms"),
    ("healthcheck-retries", {"healthcheck": {"path": "/", "retries": 0}}, "healthcheck.retries", "greater than"),
    ("healthcheck-unknown", {"healthcheck": {"url": "/"}}, "healthcheck.url", "allowed here: command, interval"),
    ("env-name", {"env": {"1ABC": "x"}}, "env.1ABC", "is not an environment variable name"),
    ("env-name-dash", {"env": {"A-B": "x"}}, "env.A-B", "letters, digits and '_'"),
    ("env-reserved", {"env": {NO_ENV_IN_LOGS: "1"}}, f"env.{NO_ENV_IN_LOGS}", "is reserved"),
    ("env-secret-like", {"env": {"API_TOKEN": "abc123"}}, "env", "API_TOKEN looks like a secret"),
    ("env-secret-file-value", {"env": {"DB_PASSWORD_FILE": "hunter2"}}, "env", "must name a file"),
    ("command-secret-flag", {"command": ["--password=hunter2"]}, "command", "--password passes a secret"),
    ("entrypoint-secret-flag", {"entrypoint": ["/bin/tool", "--token", "x"]}, "entrypoint", "--token passes a secret"),
    ("env-number", {"env": {"PORT": 8080}}, "env", "PORT: 8080 is not a string; quote it"),
    ("env-nul", {"env": {"A": "x\x00y"}}, "env", "NUL"),
    ("env-list", {"env": ["A=b"]}, "env", "must be an object"),
    ("secret-name", {"secrets": {"api-token": SECRET}}, "secrets.api-token", "is not an environment variable name"),
    ("secret-number", {"secrets": {"PIN": 1234}}, "secrets", "PIN: is not a string"),
    ("secret-not-a-map", {"secrets": SECRET}, "secrets", "must be an object"),
    ("secret-file-suffix", {"secrets": {"TOKEN_FILE": SECRET}}, "secrets", "ends in _FILE"),
    ("secret-case", {"secrets": {"Token": SECRET, "TOKEN": SECRET}}, "secrets", "would both be the file"),
    ("secret-in-env", {"secrets": {"SMTP": SECRET}, "env": {"SMTP": "x"}}, "env", "SMTP is also set by secret"),
    ("secret-file-in-env", {"secrets": {"TOKEN": SECRET}, "env": {"TOKEN_FILE": "/x"}}, "env", "TOKEN_FILE is also"),
    ("secret-named-user", {"secrets": {"TOKEN": SECRET}, "user": "node"}, "user", "write the number"),
    ("secret-other-gid", {"secrets": {"TOKEN": SECRET}, "user": "1000:100"}, "user", "write uid or uid:uid"),
    ("volume-name", {"volumes": {"Data": "/data"}}, "volumes.Data", "volume name 'Data' is not allowed"),
    ("volume-name-long", {"volumes": {"a" * 21: "/data"}}, "volumes." + "a" * 21, "1-20 lower-case"),
    ("volume-relative", {"volumes": {"data": "data"}}, "volumes.data", "not a normalised absolute path"),
    ("volume-root", {"volumes": {"data": "/"}}, "volumes.data", "not / itself"),
    ("volume-trailing", {"volumes": {"data": "/data/"}}, "volumes.data", "no trailing '/'"),
    ("volume-dots", {"volumes": {"data": "/a/../b"}}, "volumes.data", "normalised"),
    ("volume-colon", {"volumes": {"data": "/a:b"}}, "volumes.data", "letters, digits and . _ @ + -"),
    ("volume-secrets", {"volumes": {"data": "/run/secrets"}}, "volumes.data", "would hold the secret files"),
    ("volume-run", {"volumes": {"data": "/run"}}, "volumes.data", "would hold the secret files"),
    ("volume-twice", {"volumes": {"a": "/data", "b": "/data"}}, "volumes", "are both mounted at /data"),
    ("command-empty", {"command": []}, "command", "is empty"),
    ("command-string", {"command": "serve --port 80"}, "command", "valid list"),
    ("entrypoint-blank", {"entrypoint": [""]}, "entrypoint", "the program) is empty"),
    ("user-space", {"user": "tool user"}, "user", "is not a user"),
    ("user-huge", {"user": "4294967295"}, "user", "at most 2147483647"),
    ("user-int", {"user": 1000}, "user", "valid string"),
    ("websocket-string", {"websocket": "yes"}, "websocket", "valid boolean"),
    ("read-timeout-zero", {"readTimeout": "0s"}, "readTimeout", "from 1s to 24h"),
    ("read-timeout-fraction", {"readTimeout": "1.5s"}, "readTimeout", "whole seconds"),
    ("read-timeout-long", {"readTimeout": "25h"}, "readTimeout", "from 1s to 24h"),
    ("body-limit-small", {"bodyLimit": "512Ki"}, "bodyLimit", "at least 1Mi"),
    ("body-limit-large", {"bodyLimit": "17Gi"}, "bodyLimit", "above the 16Gi maximum"),
    ("body-limit-number", {"bodyLimit": 1048576}, "bodyLimit", "is not a size"),
    ("memory-small", {"memory": {"app": "16Mi"}}, "memory.app", "below the 32Mi minimum"),
    ("memory-role", {"memory": {"db": "64Mi"}}, "memory.db", "unknown key 'db'; allowed here: app"),
    ("reservation-unit", {"memoryReservation": {"app": "64"}}, "memoryReservation.app", "is not a memory size"),
    ("hostname", {"hostname": "Tool"}, "hostname", "is not a host name"),
    ("unknown", {"ports": [8080]}, "ports", "unknown key 'ports'"),
]
