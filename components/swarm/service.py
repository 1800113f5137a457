"""A ``ServiceSpec`` (components/core/container.py) as a Docker Swarm service: the swarm's runtime.

The App component, the backing services and the proxy describe each process once; on a swarm
``SwarmRuntime.run`` registers, instead of a container:

- a ``docker.Secret`` for each secret file and a ``docker.ServiceConfig`` for each other file,
  named by a hash of their content: Swarm secrets and configs cannot change (every input of
  both is ForceNew: kreuzwerker/terraform-provider-docker internal/provider/resource_docker_secret.go
  and resource_docker_config.go, at 83c00e0, after v4.5.0), so a new content is a new name, created
  before the service moves to it and deleted after. Owner, group and mode go on the reference in the
  task (``file_uid``/``file_gid``/``file_mode``), as the container's uploads have them;
- the ``docker.Service``, replicated once, pinned by node label where it must be
  (``constraints``), on the overlay networks with the spec's aliases, ``dnsrr`` endpoints (no
  virtual IP: nginx resolves the tasks per request, and no IPVS is needed on the nodes), memory
  limit and reservation, the spec's healthcheck, stop grace period and log options;
- health-gated convergence: ``converge_config`` makes the provider wait until every task runs, and
  a task with a healthcheck reports running only once healthy (moby
  daemon/cluster/executor/container/controller.go, ``Start`` waits for ``health_status: healthy``
  and fails on ``unhealthy``), so ``pulumi up`` fails when a service does not get healthy;
- updates: start-first for a service its kind replaces create-first on one host (``ServiceSpec.replacement``:
  WordPress's Apache, static sites, container apps without volumes; the new task is healthy before the
  old one stops: no failed request), stop-first for every other (two MariaDBs on one datadir corrupt it;
  Rocket.Chat migrates on start; Nextcloud upgrades); a failed update rolls back.

Not set, on purpose: ``restart_policy`` delay and window, which pulumi-docker 5.x shows as changed on
every run (pulumi/pulumi-docker#1285); the restart policy is ``any`` with the engine's defaults.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_docker as docker

from components.core.container import LOG_DRIVER, LOG_OPTIONS, SERVICE_LABEL, FileUpload, ServiceSpec
from components.core.durations import DurationInput, go_duration
from components.core.network import Network, NetworkArgs
from components.core.runtime import overlay

NODE_LABEL = "selfhost.node"
"""The swarm node label naming each node (``docker node update --label-add selfhost.node=<name>``):
placement constraints use it, never the Docker hostname, which a replaced server may change."""
EDGE_LABEL = "selfhost.edge"
"""``true`` on the nodes that run the proxy."""
CONVERGE_DELAY = "7s"
"""How often the provider looks at the tasks while it waits (its own default)."""
HASH_LENGTH = 12


def tmpfs_mount(path: str, options: str) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    """A ``ServiceSpec.tmpfs`` entry (``size=<bytes>,mode=<octal>``, as the single host sends it to Docker)
    as a Swarm tmpfs mount, which takes the size and mode as numbers (the proxy's microcache)."""
    fields = dict(item.split("=", 1) for item in options.split(","))
    if set(fields) - {"size", "mode"}:
        raise ValueError(f"tmpfs {path}: only size= and mode= options are supported on a swarm, not {options!r}")
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        type="tmpfs",
        target=path,
        tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
            size_bytes=int(fields["size"]) if "size" in fields else None,
            mode=int(fields["mode"], 8) if "mode" in fields else None,
        ),
    )


def service_duration(value: DurationInput) -> str:
    """A duration as the provider reads a service's back: Go's ``Duration.String()`` with a trailing
    ``0s`` after minutes and ``0m`` after hours dropped (``shortDur``: ``1m``, ``2m``, ``1h``, ``1m30s``),
    used for the healthcheck, ``stop_grace_period`` and ``update_config.monitor``
    (internal/provider/resource_docker_service_structures.go at 83c00e0). Written any other way, a second
    preview would show a change; a container's durations keep Go's own form (components/core/container.py)."""
    text = go_duration(value)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def node_constraint(node: str) -> str:
    return f"node.labels.{NODE_LABEL}=={node}"


EDGE_CONSTRAINT = f"node.labels.{EDGE_LABEL}==true"


NAME_LIMIT = 64
"""Swarm refuses longer secret and config names: "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed,
and the start and end character must be [a-zA-Z0-9]" (Docker 28.5's answer, seen in tests/test_swarm_live.py)."""


DATA_LIMIT = 500 * 1024
"""The most a Swarm secret or config may hold (swarmkit's ``MaxSecretSize`` and ``MaxConfigSize``, 500 KiB)."""


def too_large(upload: FileUpload) -> int | None:
    """The size of a file whose content is known now and is more than Swarm takes, or None."""
    if isinstance(upload.content_base64, str):
        size = len(base64.b64decode(upload.content_base64))
    elif upload.content_base64 is None and isinstance(upload.content, str):
        size = len(upload.content.encode())
    else:
        return None
    return size if size > DATA_LIMIT else None


def content_hash(content: str, *scope: str) -> str:
    """A short hash of the content and of where it goes (``scope``: service and path), so that a name cut
    to ``NAME_LIMIT`` still names one object."""
    return hashlib.sha256("\0".join([*scope, content]).encode()).hexdigest()[:HASH_LENGTH]


def file_slug(path: str) -> str:
    """``/run/secrets/db_password`` -> ``db-password``: the readable part of a secret's or config's name."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "file"


def object_name(container_name: str, path: str, digest: str) -> str:
    """``selfhost-swarm-blog-db-db-password-<hash>``: which service and file (cut to fit), and which content."""
    readable = f"{container_name}-{file_slug(path)}"[: NAME_LIMIT - 1 - len(digest)].rstrip("-_.")
    return f"{readable}-{digest}"


def _encoded(upload: FileUpload) -> pulumi.Output[str]:
    if upload.content_base64 is not None:
        return pulumi.Output.from_input(upload.content_base64)
    return pulumi.Output.from_input(upload.content).apply(lambda text: base64.b64encode(text.encode()).decode())


def _object_name(data: pulumi.Output[str], container_name: str, path: str) -> pulumi.Output[str]:
    return data.apply(lambda text: object_name(container_name, path, content_hash(text, container_name, path)))


def _secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    secret: pulumi.Output[str] = pulumi.Output.secret(value)
    return secret


def file_mode(mode: str) -> int:
    """The container upload's octal string (``0400``) as the task's file mode, an integer."""
    return int(mode, 8)


@dataclass(frozen=True)
class SwarmRuntime:
    """Runs specs as services on a swarm; ``constraints`` say which nodes may run them."""

    constraints: Sequence[pulumi.Input[str]] = ()
    global_service: bool = False
    """One task on every node matching ``constraints`` (the proxy on the edge nodes), not one replica."""
    labels: dict[str, str] = field(default_factory=dict)

    def network(self, args: NetworkArgs) -> NetworkArgs:
        return overlay(args)

    def network_ref(self, network: Network) -> pulumi.Input[str]:
        """By id: ``networks_advanced.name`` is deprecated in pulumi-docker 5.x ("Using the name attribute of
        the docker network will lead to constant replacements", the SDK's ServiceTaskSpecNetworksAdvancedArgs)."""
        return network.network_id

    def run(
        self, resource_name: str, spec: ServiceSpec, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.CustomResource:
        child = pulumi.ResourceOptions(parent=parent)
        secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs] = []
        configs: list[docker.ServiceTaskSpecContainerSpecConfigArgs] = []
        for upload in sorted(spec.files, key=lambda upload: upload.path):
            size = too_large(upload)
            if size is not None:  # stack.swarm_file_problems refuses these before any resource, by config key
                raise pulumi.RunError(
                    f"{spec.container_name}: {upload.path} is {size} bytes; a Swarm secret or config holds at most "
                    f'{DATA_LIMIT} bytes, so this file cannot run on a swarm (docs/swarm.md, "Limits")'
                )
            data = _encoded(upload)
            suffix = f"{resource_name}-{file_slug(upload.path)}"
            if upload.secret:
                # The name is a hash of a secret: it stays secret (a short hash of a weak operator-set
                # secret could be guessed), and so does everything derived from it.
                data = _secret(data)
                name = _object_name(data, spec.container_name, upload.path)
                secret = docker.Secret(
                    f"{suffix}-secret",
                    name=name,
                    data=data,
                    labels=[docker.SecretLabelArgs(label=SERVICE_LABEL, value=spec.container_name)],
                    opts=child,
                )
                secrets.append(
                    docker.ServiceTaskSpecContainerSpecSecretArgs(
                        secret_id=secret.id,
                        file_name=upload.path,
                        file_uid=upload.owner,
                        file_gid=upload.group,
                        file_mode=file_mode(upload.mode),
                    )
                )
            else:
                name = _object_name(data, spec.container_name, upload.path)
                config = docker.ServiceConfig(
                    f"{suffix}-config",
                    name=name,
                    data=data,
                    opts=child,
                )
                configs.append(
                    docker.ServiceTaskSpecContainerSpecConfigArgs(
                        config_id=config.id,
                        file_name=upload.path,
                        file_uid=upload.owner,
                        file_gid=upload.group,
                        file_mode=file_mode(upload.mode),
                    )
                )
        if any(mount.host_directory for mount in spec.mounts):
            # Only a local backup target binds a host directory, and backups are refused on a swarm.
            raise pulumi.RunError(f"{spec.container_name}: a bind mount of a host directory cannot run on a swarm")
        health = spec.healthcheck
        labels = {SERVICE_LABEL: spec.container_name, **(spec.labels or {}), **self.labels}
        published = sorted(
            {
                (cast(int, port.internal), cast(int, port.external or port.internal), cast(str, port.protocol or "tcp"))
                for port in spec.ports
            }
        )
        return docker.Service(
            resource_name,
            name=spec.container_name,
            labels=[docker.ServiceLabelArgs(label=key, value=value) for key, value in sorted(labels.items())],
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    # Every node pulls the service's image itself: by the digest the stack pinned.
                    image=spec.image.repo_digest,
                    env=dict(sorted((spec.envs or {}).items())),
                    commands=list(spec.entrypoint) if spec.entrypoint is not None else None,
                    args=list(spec.command) if spec.command is not None else None,
                    user=spec.user,
                    mounts=[
                        docker.ServiceTaskSpecContainerSpecMountArgs(
                            type="volume", source=mount.volume, target=mount.path, read_only=mount.read_only
                        )
                        for mount in spec.mounts
                    ]
                    + [tmpfs_mount(path, options) for path, options in sorted((spec.tmpfs or {}).items())],
                    secrets=secrets,
                    configs=configs,
                    healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                        tests=list(health.test),
                        interval=service_duration(health.interval),
                        timeout=service_duration(health.timeout),
                        retries=health.retries,
                        start_period=service_duration(health.start_period),
                    ),
                    stop_grace_period=service_duration(spec.stop_grace_seconds),
                    labels=[
                        docker.ServiceTaskSpecContainerSpecLabelArgs(label=key, value=value)
                        for key, value in sorted(labels.items())
                    ],
                ),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(
                        id=attachment.network, aliases=sorted(attachment.aliases)
                    )
                    for attachment in spec.networks
                ],
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=list(self.constraints)),
                resources=docker.ServiceTaskSpecResourcesArgs(
                    limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=spec.memory_bytes),
                    reservation=docker.ServiceTaskSpecResourcesReservationArgs(
                        memory_bytes=spec.memory_reservation_bytes
                    )
                    if spec.memory_reservation_bytes
                    else None,
                ),
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any"),
                log_driver=docker.ServiceTaskSpecLogDriverArgs(name=LOG_DRIVER, options=dict(LOG_OPTIONS)),
            ),
            mode=docker.ServiceModeArgs(global_=True)
            if self.global_service
            else docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
            endpoint_spec=docker.ServiceEndpointSpecArgs(
                mode="dnsrr",
                ports=[
                    # Host mode: each edge node's own port; no routing mesh (it needs IPVS and a VIP).
                    docker.ServiceEndpointSpecPortArgs(
                        target_port=internal, published_port=external, protocol=protocol, publish_mode="host"
                    )
                    for internal, external, protocol in published
                ],
            ),
            update_config=docker.ServiceUpdateConfigArgs(
                # As on one host (ServiceSpec.replacement, set by each kind with its reason): start-first
                # only where two copies may briefly run side by side.
                order="start-first" if spec.replacement == "create-first" and not self.global_service else "stop-first",
                parallelism=1,
                failure_action="rollback",
                monitor=service_duration(health.interval),
            ),
            converge_config=docker.ServiceConvergeConfigArgs(
                delay=CONVERGE_DELAY, timeout=go_duration(spec.wait_timeout_seconds)
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
        )
