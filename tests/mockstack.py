"""Run the real program (``__main__.py``) under Pulumi's mocks and record what it registers.

Config comes from the real stack files, with Pulumi.yaml's defaults applied as the CLI
applies them. Every RegisterResource request is kept with its options (protect,
retainOnDelete, dependencies, ignoreChanges, ...), and inputs keep their secret markers,
so tests can check what the program itself sends. Mocks prove the graph, not the provider.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import runpy
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "selfhost"
ORGANIZATION = "organization"
"""What the file (diy) backend reports as the organization."""
SECRET_PLACEHOLDER = "secret-from-stack-file"


@dataclass
class Registration:
    """One resource the program registered, as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    raw_inputs: dict[str, Any]
    """Inputs as sent, secrets still wrapped (see ``is_secret``)."""
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    provider: str
    providers: dict[str, str]
    aliases: list[Any]
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace_defined: bool = False
    """The program set ``delete_before_replace`` (True or False), overriding the provider's choice."""

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs with secret markers removed."""
        inputs: dict[str, Any] = unwrap(self.raw_inputs)
        return inputs


def unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def service_name(container: Any) -> str:
    """A container registration's stable service name (its ``io.selfhost.service`` label): the container's
    name, without the generation suffix a create-first service's name carries (components/core/container.py)."""
    labels = {item["label"]: item["value"] for item in unwrap(container.inputs.get("labels", []))}
    return str(labels["io.selfhost.service"])


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, bool]]:
    """Every leaf of an input tree: (path, value, inside a secret)."""

    def go(item: Any, where: str, secret: bool) -> Iterator[tuple[str, Any, bool]]:
        if rpc.is_rpc_secret(item):
            yield from go(rpc.unwrap_rpc_secret(item), where, True)
        elif isinstance(item, dict):
            for key, child in item.items():
                yield from go(child, f"{where}.{key}" if where else str(key), secret)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                yield from go(child, f"{where}[{index}]", secret)
        else:
            yield where, item, secret

    yield from go(value, path, False)


OutputFactory = Callable[[mocks.MockResourceArgs], dict[str, Any]]


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _remote_image(args: mocks.MockResourceArgs) -> dict[str, Any]:
    name = unwrap(args.inputs["name"])  # a secret name is a defect the tests report, not a crash here
    if not isinstance(name, str):
        return {}  # unknown in a preview: so are the image's outputs
    tag, _, digest = name.partition("@")
    return {
        "imageId": "sha256:" + _digest(name),
        "repoDigest": tag + "@" + (digest or "sha256:" + _digest("d", name)),
    }


def mock_password(resource_name: str, length: int) -> str:
    """The password the mocked pulumi-random returns for a RandomPassword resource."""
    return ("pw" + _digest(resource_name))[:length]


def _random_password(args: mocks.MockResourceArgs) -> dict[str, Any]:
    return {"result": mock_password(args.name, int(args.inputs.get("length", 32)))}


def _random_id(args: mocks.MockResourceArgs) -> dict[str, Any]:
    """Like pulumi-random's RandomId: a new value when the keepers change (here: derived from them)."""
    try:
        keepers = json.dumps(unwrap(args.inputs.get("keepers", {})), sort_keys=True)
    except TypeError:
        return {}  # keepers unknown in a preview: so is the id
    return {"hex": _digest("random-id", args.name, keepers)[: 2 * int(args.inputs.get("byteLength", 8))]}


MOCK_SERVER_IP = "192.0.2.10"
"""The primary IPv4 address the mocked Hetzner API hands out (a documentation address)."""
MOCK_DOCKER_VERSION = "26.1.5+dfsg1"
"""What the mocked readiness command prints (`docker info --format {{.ServerVersion}}`)."""


def _primary_ip(args: mocks.MockResourceArgs) -> dict[str, Any]:
    return {"ipAddress": MOCK_SERVER_IP}


def _server(args: mocks.MockResourceArgs) -> dict[str, Any]:
    return {"ipv4Address": MOCK_SERVER_IP, "status": "running"}


MOCK_PRIVATE_IP = "10.20.0.2"
"""The private address the mocked Hetzner API gives a server on a network."""


def _server_network(args: mocks.MockResourceArgs) -> dict[str, Any]:
    return {"ip": MOCK_PRIVATE_IP}


def _remote_command(args: mocks.MockResourceArgs) -> dict[str, Any]:
    return {"stdout": MOCK_DOCKER_VERSION if "docker info" in str(args.inputs.get("create")) else "", "stderr": ""}


COMPUTED_OUTPUTS: dict[str, OutputFactory] = {
    "docker:index/remoteImage:RemoteImage": _remote_image,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
    "hcloud:index/primaryIp:PrimaryIp": _primary_ip,
    "hcloud:index/server:Server": _server,
    "command:remote:Command": _remote_command,
    "hcloud:index/serverNetwork:ServerNetwork": _server_network,
}
"""Outputs a provider would compute, by resource type; other modules may add entries."""


def mock_id(type_token: str, resource_name: str) -> str:
    """Hetzner ids are numbers (strings in outputs, ints in inputs); other ids derive from the name."""
    if type_token.startswith("hcloud:"):
        return str(int(_digest(type_token, resource_name)[:8], 16))
    return f"{resource_name}-id"


STACK_REFERENCE = "pulumi:pulumi:StackReference"
REGISTRY_IMAGE = "docker:index/getRegistryImage:getRegistryImage"
REGISTRY_BUILDS: dict[str, int] = {}
"""How often upstream has rebuilt a tag since the mocked registry opened (tests bump it)."""


def registry_digest(ref: str) -> str:
    """What the mocked registry answers for ``ref`` now: a new digest after each rebuild."""
    return "sha256:" + _digest("registry", ref, str(REGISTRY_BUILDS.get(ref, 0)))


def _holds_secret(value: Any) -> bool:
    return any(secret for _, _, secret in walk(value))


class StackMocks(pulumi.runtime.Mocks):
    """Deterministic providers: ids and computed outputs derive from names only.

    A ``pulumi.StackReference`` (read, not registered) returns ``previous_outputs``: what the
    stack's last completed deploy exported, as the engine would hand it back: values wrapped
    with ``rpc.wrap_rpc_secret`` come back secret, and ``secretOutputNames`` lists the outputs
    holding a secret (pulumi/pulumi pkg/resource/deploy/builtins.go, ``readStackReference``).
    """

    def __init__(
        self, previous_outputs: Mapping[str, Any] | None = None, unconfigured_providers: Collection[str] = ()
    ) -> None:
        self.previous_outputs = dict(previous_outputs or {})
        self.unconfigured_providers = frozenset(unconfigured_providers)
        """Names of providers whose config the engine sees unknown (a preview before their host exists).

        The engine configures no such provider and answers each invoke through it with an empty
        map (pulumi/pulumi sdk/go/common/resource/plugin/provider_plugin.go, ``Configure``
        leaves ``known`` unset, ``Invoke``: "not fully configured, return an empty property map").
        """
        self.registry_lookups: list[str] = []
        self.registry_lookup_providers: list[str] = []
        """The provider reference (``<urn>::<id>``) of each registry look-up."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            secret_names = sorted(key for key, value in self.previous_outputs.items() if _holds_secret(value))
            return args.resource_id, {
                "name": args.inputs["name"],
                "outputs": self.previous_outputs,
                "secretOutputNames": secret_names,
            }
        outputs = dict(args.inputs)
        factory = COMPUTED_OUTPUTS.get(args.typ)
        if factory is not None:
            outputs.update(factory(args))
        return mock_id(args.typ, args.name), outputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == REGISTRY_IMAGE:
            self.registry_lookups.append(args.args["name"])
            self.registry_lookup_providers.append(args.provider)
            if args.provider.split("::")[-2] in self.unconfigured_providers:
                return {}, []
            return {"name": args.args["name"], "sha256Digest": registry_digest(args.args["name"])}, []
        return {}, []


@dataclass
class Read:
    """A resource the program read rather than registered (e.g. a StackReference)."""

    type: str
    name: str
    id: str
    parent: str
    dependencies: list[str]


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: pulumi.runtime.Mocks) -> None:
        super().__init__(mock)
        self.registrations: list[Registration] = []
        self.reads: list[Read] = []

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.reads.append(
            Read(
                type=request.type,
                name=request.name,
                id=request.id,
                parent=request.parent,
                dependencies=list(request.dependencies),
            )
        )
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    raw_inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    dependencies=list(request.dependencies),
                    property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                    ignore_changes=list(request.ignoreChanges),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    provider=request.provider,
                    providers=dict(request.providers),
                    aliases=list(request.aliases),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace_defined=bool(request.deleteBeforeReplaceDefined),
                )
            )
        return response


@dataclass
class ProgramRun:
    registrations: list[Registration]
    outputs: dict[str, Any]
    """Stack outputs as exported, secrets still wrapped."""
    config: dict[str, str] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    registry_lookups: list[str] = field(default_factory=list)
    """Image refs the program asked the (mocked) registry for."""
    registry_lookup_providers: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def generated_passwords(self) -> set[str]:
        return {
            mock_password(r.name, int(r.inputs["length"]))
            for r in self.of_type("random:index/randomPassword:RandomPassword")
        }

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]

    def by_urn(self, urn: str) -> Registration:
        matches = [r for r in self.registrations if r.urn == urn]
        assert len(matches) == 1, f"{len(matches)} resources with URN {urn!r}"
        return matches[0]

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent.urn]

    def descendants_of(self, ancestor: Registration) -> list[Registration]:
        found: list[Registration] = []
        frontier = [ancestor.urn]
        while frontier:
            urn = frontier.pop()
            for child in (r for r in self.registrations if r.parent == urn):
                found.append(child)
                frontier.append(child.urn)
        return found


def project_defaults() -> dict[str, Any]:
    """Pulumi.yaml's declared config defaults, keyed ``selfhost:<key>``."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    defaults: dict[str, Any] = {}
    for key, declaration in project.get("config", {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            defaults[full_key] = declaration["default"]
    return defaults


OPERATOR_SECRETS: dict[str, dict[str, tuple[str, ...]]] = {
    "prod": {"selfhost:backups": ("target.accessKeyId", "target.secretAccessKey")},
}
"""Values inside an object key that the operator sets with ``pulumi config set --secret --path`` before the
first ``up`` (the stack file's header lists the commands; no fake encrypted blob is committed). The mocks
set them as the CLI hands them over: decrypted inside the object, the whole key among the secret keys."""


def stack_file_config(stack: str) -> tuple[dict[str, Any], set[str]]:
    """A stack file's config; ``secure:`` values become a placeholder marked secret, and so do the
    operator's ``--secret --path`` values (``OPERATOR_SECRETS``)."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = SECRET_PLACEHOLDER
            secret_keys.add(full_key)
        else:
            values[full_key] = value
    for full_key, paths in OPERATOR_SECRETS.get(stack, {}).items():
        if not isinstance(values.get(full_key), dict):
            continue
        values[full_key] = copy.deepcopy(values[full_key])
        for path in paths:
            *parents, leaf = path.split(".")
            holder = values[full_key]
            for part in parents:
                holder = holder.setdefault(part, {})
            holder[leaf] = SECRET_PLACEHOLDER
        secret_keys.add(full_key)
    return values, secret_keys


def as_cli_string(value: Any) -> str:
    """How the CLI hands a config value to the program: objects as JSON, scalars as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def run_program(
    config: Mapping[str, Any],
    *,
    stack: str = "dev",
    secret_keys: set[str] | frozenset[str] = frozenset(),
    with_project_defaults: bool = True,
    program: Path = PROJECT_DIR / "__main__.py",
    monitors: list[RecordingMonitor] | None = None,
    previous_outputs: Mapping[str, Any] | None = None,
    preview: bool = False,
    unconfigured_providers: Collection[str] = (),
) -> ProgramRun:
    """Run the program once with ``config`` (keys ``selfhost:<key>``, YAML-typed values).

    ``previous_outputs``: the outputs of the stack's last completed deploy, which the program
    may read through a StackReference to itself; ``preview`` runs it as ``pulumi preview`` would.
    """
    merged = {**(project_defaults() if with_project_defaults else {}), **config}
    cli_config = {key: as_cli_string(value) for key, value in sorted(merged.items())}
    return _run(
        lambda: runpy.run_path(str(program), run_name="__main__"),
        stack=stack,
        cli_config=cli_config,
        secret_keys=secret_keys,
        monitors=monitors,
        previous_outputs=previous_outputs,
        preview=preview,
        unconfigured_providers=unconfigured_providers,
    )


def run_components(build: Callable[[], object], *, stack: str = "test") -> ProgramRun:
    """Run ``build`` (which registers resources, e.g. one component) under the same mocks, without config."""
    return _run(build, stack=stack, cli_config={}, secret_keys=frozenset(), monitors=None)


def _run(
    body: Callable[[], object],
    *,
    stack: str,
    cli_config: dict[str, str],
    secret_keys: set[str] | frozenset[str],
    monitors: list[RecordingMonitor] | None,
    previous_outputs: Mapping[str, Any] | None = None,
    preview: bool = False,
    unconfigured_providers: Collection[str] = (),
) -> ProgramRun:
    stack_mocks = StackMocks(previous_outputs, unconfigured_providers)
    monitor = RecordingMonitor(stack_mocks)
    if monitors is not None:
        monitors.append(monitor)
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks.set_mocks(
        stack_mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, organization=ORGANIZATION
    )
    runtime_config.set_all_config(cli_config, sorted(secret_keys))
    outputs: dict[str, Any] = {}

    async def main() -> None:
        body()
        root = runtime_settings.get_root_resource()
        exported = getattr(root, "outputs", {})
        outputs.update(rpc.deserialize_properties(await rpc.serialize_properties(exported, {}), keep_unknowns=True))

    try:
        _sync_await(run_pulumi_func(main))
    except BaseException:
        # A failed program leaves tasks pending on the shared event loop; the next run would
        # wait for them (and re-raise their errors) as "outstanding tasks" of its own.
        _cancel_leftover_tasks()
        raise
    finally:
        runtime_config.set_all_config({}, [])
    return ProgramRun(
        registrations=monitor.registrations,
        outputs=outputs,
        config=cli_config,
        reads=monitor.reads,
        registry_lookups=stack_mocks.registry_lookups,
        registry_lookup_providers=stack_mocks.registry_lookup_providers,
    )


def _cancel_leftover_tasks() -> None:
    loop = asyncio.get_event_loop()
    # Cancelling a task can schedule others (callbacks of the outputs it held): repeat until none is left.
    while pending := [task for task in asyncio.all_tasks(loop) if not task.done()]:
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # The runtime keeps its output tasks in a set of its own, which would still hold the cancelled ones.
    runtime_settings.SETTINGS.outputs.clear()


def run_stack_file(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    previous_outputs: Mapping[str, Any] | None = None,
    preview: bool = False,
    unconfigured_providers: Collection[str] = (),
) -> ProgramRun:
    """Run the program with the real ``Pulumi.<stack>.yaml``."""
    values, secret_keys = stack_file_config(stack)
    return run_program(
        {**values, **(overrides or {})},
        stack=stack,
        secret_keys=secret_keys,
        previous_outputs=previous_outputs,
        preview=preview,
        unconfigured_providers=unconfigured_providers,
    )
