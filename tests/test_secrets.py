"""Tier 2: no secret in plain text anywhere in the graph of any shipped stack, and secrets reach
containers as files only.

The secrets: every password pulumi-random makes (deterministic under the mocks) and every
``secure:`` value of the stack file (a placeholder under the mocks). A run with
``tls=provided`` adds a certificate key set with ``--secret``. The whole captured graph is
searched: every input of every resource, every name and URN, every stack output.
What this does not prove: what the engine or a provider does with a secret afterwards
(state encryption, `docker inspect` of a running container); the live tiers look there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.core.secret_names import is_secret_name
from policy import rules
from tests import tls_material
from tests.mockstack import (
    SECRET_PLACEHOLDER,
    ProgramRun,
    Registration,
    run_program,
    run_stack_file,
    stack_file_config,
    unwrap,
    walk,
)
from tests.stateful_urns import container_stacks

STACK_FILES = container_stacks()
TLS_KEY = tls_material.pair().key
TLS_CERTIFICATE = tls_material.pair().certificate
TLS_KEY_MATERIAL = TLS_KEY.splitlines()[1]
"""A line of the key's base64 body: found wherever the key went, whatever the file around it."""
SECRETS_DIR = "/run/secrets/"

FILE_VARIABLES = {
    "mariadb": {"MARIADB_PASSWORD_FILE", "MARIADB_ROOT_PASSWORD_FILE"},
    "postgres": {"POSTGRES_PASSWORD_FILE"},
    "wordpress": {"WORDPRESS_DB_PASSWORD_FILE"},
    "nextcloud": {"NEXTCLOUD_ADMIN_PASSWORD_FILE", "REDIS_HOST_PASSWORD_FILE"},
}
"""Per image, the ``*_FILE`` variables its entrypoint reads and the stack must use for its passwords.
Redis has no such variable: its password sits in its config file (also an upload)."""


def _tls_provided(stack: str) -> ProgramRun:
    values, secret_keys = stack_file_config(stack)
    overrides = {"selfhost:tls": "provided", "selfhost:tlsCertificate": TLS_CERTIFICATE, "selfhost:tlsKey": TLS_KEY}
    keys = {*secret_keys, "selfhost:tlsCertificate", "selfhost:tlsKey"}
    return run_program({**values, **overrides}, stack=stack, secret_keys=keys)


CONFIG_SECRET = "cfg-secret-5e1f9a"
"""A value set with `pulumi config set --secret --path 'apps.tool.secrets.API_TOKEN'` (container kind)."""


def _config_secret(stack: str) -> ProgramRun:
    values, secret_keys = stack_file_config(stack)
    apps = dict(values["selfhost:apps"])
    tool = {**apps["tool"], "user": "101", "secrets": {"API_TOKEN": CONFIG_SECRET}}
    return run_program(
        {**values, "selfhost:apps": {**apps, "tool": tool}}, stack=stack, secret_keys={*secret_keys, "selfhost:apps"}
    )


RUNS = [(stack, "as shipped") for stack in STACK_FILES] + [("dev", "tls=provided"), ("lab", "config secret")]
_CACHE: dict[tuple[str, str], ProgramRun] = {}


def program_run(stack: str, variant: str) -> ProgramRun:
    if (stack, variant) not in _CACHE:
        variants = {"as shipped": run_stack_file, "tls=provided": _tls_provided, "config secret": _config_secret}
        _CACHE[stack, variant] = variants[variant](stack)
    return _CACHE[stack, variant]


def secrets_of(run: ProgramRun, variant: str) -> set[str]:
    secrets = set(run.generated_passwords())
    secrets.add(SECRET_PLACEHOLDER)
    if variant == "tls=provided":
        secrets.add(TLS_KEY_MATERIAL)
    if variant == "config secret":
        secrets.add(CONFIG_SECRET)
    return secrets


def _holds_secret(value: Any, secrets: set[str]) -> bool:
    return isinstance(value, str) and any(secret in value for secret in secrets)


def leaks(run: ProgramRun, secrets: set[str]) -> Iterator[str]:
    """Every place a secret sits unmarked: inputs, names, URNs, outputs."""
    for registration in run.registrations:
        for text in (registration.name, registration.urn):
            if _holds_secret(text, secrets):
                yield f"the name or URN of {registration.urn}"
        for path, value, secret in walk(registration.raw_inputs):
            if _holds_secret(value, secrets) and not secret:
                yield f"{registration.name}.{path}"
    for path, value, secret in walk(run.outputs):
        if _holds_secret(value, secrets) and not secret:
            yield f"stack output {path}"


def outside_files(run: ProgramRun, secrets: set[str]) -> Iterator[str]:
    """Every input that holds a secret, marked or not, other than a container's uploaded file."""
    for registration in run.registrations:
        for path, value, _ in walk(registration.raw_inputs):
            if not _holds_secret(value, secrets):
                continue
            if registration.type == rules.CONTAINER and path.startswith("uploads[") and path.endswith("].content"):
                continue
            yield f"{registration.name}.{path}"


@pytest.mark.parametrize(("stack", "variant"), RUNS, ids=[f"{s}-{v}" for s, v in RUNS])
def test_secrets_are_found_in_the_graph(stack: str, variant: str) -> None:
    """Guards the two tests below against passing on a graph that holds no secret at all."""
    run = program_run(stack, variant)
    secrets = secrets_of(run, variant)
    found = {s for r in run.registrations for _, v, _ in walk(r.raw_inputs) for s in secrets if _holds_secret(v, {s})}
    assert run.generated_passwords() <= found, "a generated password reaches no resource"
    if variant == "tls=provided" and run.of_type("selfhost:index:Proxy"):
        assert TLS_KEY_MATERIAL in found, "the proxy never gets the TLS key"
    if variant == "config secret":
        assert CONFIG_SECRET in found, "the container never gets its secret"


@pytest.mark.parametrize(("stack", "variant"), RUNS, ids=[f"{s}-{v}" for s, v in RUNS])
def test_no_secret_in_plain_text_in_any_input_name_or_output(stack: str, variant: str) -> None:
    run = program_run(stack, variant)
    assert list(leaks(run, secrets_of(run, variant))) == []


@pytest.mark.parametrize(("stack", "variant"), RUNS, ids=[f"{s}-{v}" for s, v in RUNS])
def test_secrets_reach_containers_only_as_uploaded_files(stack: str, variant: str) -> None:
    run = program_run(stack, variant)
    assert list(outside_files(run, secrets_of(run, variant))) == []


def _containers(run: ProgramRun) -> list[Registration]:
    return run.of_type(rules.CONTAINER)


def _runs_its_images_entrypoint(run: ProgramRun, container: Registration) -> bool:
    """The backups' helpers (components/backups) run a script on a database's or an app's image instead of
    its entrypoint: the image's ``*_FILE`` variables mean nothing there (tests/test_backups.py checks them)."""
    backups = {r.urn for r in run.of_type("selfhost:index:Backups")}
    return container.parent not in backups


def _image_of(run: ProgramRun, container: Registration) -> str:
    images = {r.urn: r.inputs["name"] for r in run.of_type(rules.REMOTE_IMAGE)}
    [ref] = [images[urn] for urn in container.property_dependencies.get("image", []) if urn in images]
    return rules.image_repository(str(ref))


def _env(container: Registration) -> dict[str, str]:
    return dict(str(item).split("=", 1) for item in container.inputs.get("envs", []))


def _uploads(container: Registration) -> dict[str, tuple[dict[str, Any], bool]]:
    """Uploaded file path -> (upload, whether its content reaches the engine as a secret)."""
    found = {}
    for path, _, secret in walk(container.raw_inputs.get("uploads", []), "uploads"):
        if path.endswith("].content"):
            index = int(path[len("uploads[") : path.index("]")])
            upload = unwrap(container.raw_inputs["uploads"])[index]
            found[upload["file"]] = (upload, secret)
    return found


@pytest.mark.parametrize("stack", STACK_FILES)
def test_each_image_gets_its_passwords_through_its_file_variables(stack: str) -> None:
    run = program_run(stack, "as shipped")
    checked = set()
    for container in _containers(run):
        image = _image_of(run, container)
        if image not in FILE_VARIABLES or not _runs_its_images_entrypoint(run, container):
            continue
        env = _env(container)
        required = FILE_VARIABLES[image] | ({"MARIADB_ROOT_PASSWORD_FILE"} if image == "mariadb" else set())
        if image == "nextcloud":
            database = "POSTGRES_PASSWORD_FILE" if "POSTGRES_HOST" in env else "MYSQL_PASSWORD_FILE"
            required = required | {database}
        assert required <= set(env), f"{container.name} lacks {sorted(required - set(env))}"
        checked.add(image)
    assert checked, "no container of a known image"


@pytest.mark.parametrize(("stack", "variant"), RUNS, ids=[f"{s}-{v}" for s, v in RUNS])
def test_every_file_variable_names_a_secret_file_the_container_gets(stack: str, variant: str) -> None:
    """A ``*_FILE`` variable pointing nowhere would make the image fall back or fail at start."""
    run = program_run(stack, variant)
    for container in _containers(run):
        uploads = _uploads(container)
        for variable, path in _env(container).items():
            if not (variable.endswith("_FILE") and is_secret_name(variable)):
                continue
            assert path in uploads, f"{container.name}: {variable}={path} is not uploaded"
            upload, secret = uploads[path]
            assert path.startswith(SECRETS_DIR), f"{container.name}: {path} outside {SECRETS_DIR}"
            assert secret and upload["permissions"] == "0400", f"{container.name}: {path}"


@pytest.mark.parametrize(("stack", "variant"), RUNS, ids=[f"{s}-{v}" for s, v in RUNS])
def test_every_uploaded_file_holding_a_secret_is_secret_and_private(stack: str, variant: str) -> None:
    run = program_run(stack, variant)
    secrets = secrets_of(run, variant)
    for container in _containers(run):
        for path, (upload, secret) in _uploads(container).items():
            if _holds_secret(upload["content"], secrets):
                assert secret, f"{container.name}: {path} reaches the engine unmarked"
                assert upload["permissions"] == "0400", f"{container.name}: {path} is {upload['permissions']}"
