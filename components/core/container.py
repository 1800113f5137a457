"""One way to run a long-lived service container, so every container gets the same care.

Each gets: the image by ``image_id`` (a name there would replace it on every run), a
healthcheck with ``wait``, restart ``unless-stopped``, a memory limit without swap, a stop
timeout, rotated logs, sorted environment and files (stable diffs), and secrets as files,
not variables.

Every input is written the way the Docker provider reads it back, so a second preview shows
no change; docs/provider-readback.md has the table, with the provider's source for each row.
The provider is kreuzwerker/terraform-provider-docker v4.6.0 as bridged by pulumi-docker
5.2.0 (its SDK has ``device_cgroup_rules`` and upload ``owner``/``group``, both new in v4.6.0);
its container resource is internal/provider/resource_docker_container*.go there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.core.durations import DurationInput, go_duration, healthcheck_duration_problem

SERVICE_LABEL: Final = "io.selfhost.service"
"""On every container: its service's stable name (``ServiceSpec.container_name``), which is the container's
name too unless the service is replaced create-first (then the name carries a generation suffix):
``docker ps -qf label=io.selfhost.service=selfhost-dev-blog-app`` finds it either way. Also the one label
each log line carries (``docker logs --details``)."""
NO_ENV_IN_LOGS: Final = "SELFHOST_NO_ENV_IN_LOGS"
LOG_DRIVER: Final = "json-file"
LOG_OPTIONS: Final = {
    # What we want: rotation, and an app that never stalls on a slow or full log disk
    # (non-blocking drops lines past a 1 MiB buffer instead of blocking the app's writes).
    "max-size": "10m",
    "max-file": "3",
    "compress": "false",
    "mode": "non-blocking",
    "max-buffer-size": "1m",
    # Set only so that nothing is left for the daemon to fill in. dockerd merges its own
    # default log-opts into a container's LogConfig for every key the container leaves out
    # when the driver is the daemon's default, and its cache-* keys whatever the driver
    # (moby daemon/logs.go mergeAndVerifyLogConfig, daemon/logger/loggerutils/cache
    # MergeDefaultLogConfig, same in v25.0 to v28.5). The provider reads the merged map back
    # (resourceDockerContainerRead: log_opts = HostConfig.LogConfig.Config) and log_opts is
    # ForceNew: a daemon with other defaults would replace every container on every run.
    # These are every key json-file and the daemon accept on Engine 25 to 28
    # (jsonfilelog.ValidateLogOpt, logger builtInLogOpts, local.LogOptKeys with "cache-").
    # No value is empty: Terraform's SDK has dropped empty map values from a plan before
    # (hashicorp/terraform#19757); a "" lost on the way would let a daemon default fill in.
    "tag": "{{.Name}}",
    "labels": SERVICE_LABEL,
    "labels-regex": "^" + SERVICE_LABEL.replace(".", "\\.") + "$",
    # Attributes from the environment: only this variable, which no container has (checked in
    # service_container), so no environment value ever reaches a log line.
    "env": NO_ENV_IN_LOGS,
    "env-regex": "^" + NO_ENV_IN_LOGS + "$",
    "cache-disabled": "true",
    "cache-max-size": "20m",
    "cache-max-file": "5",
    "cache-compress": "true",
}
"""Read back unchanged under any daemon log defaults: checked on Docker 28 by
tests/test_provider_readback_live.py with a daemon.json of other defaults."""

InputHandling = Literal["replace", "update", "create-or-delete-only", "not-applied"]
CONTAINER_INPUTS: Final[Mapping[str, InputHandling]] = {
    # What resourceDockerContainerUpdate (v4.6.0) does with a change to each input the
    # program sets. "replace": ForceNew in the schema. "update": one of the attributes it
    # sends to ContainerUpdate (restart, max_retry_count, cpu_shares, memory,
    # memory_reservation, cpu_set, memory_swap, device_*_bps/iops). "create-or-delete-only":
    # read only when the container is created (wait, wait_timeout) or deleted
    # (destroy_grace_seconds, from state), so recording the new value is all a change needs.
    # "not-applied": the update would report success and change nothing; such an input must
    # be listed in replace_on_changes. In v4.6.0 none is: healthcheck became ForceNew in
    # that release (#989), which the point 3 predates.
    "name": "replace",
    "image": "replace",
    "envs": "replace",
    "uploads": "replace",
    "volumes": "replace",
    "networksAdvanced": "replace",
    "ports": "replace",
    "command": "replace",
    "entrypoints": "replace",
    "user": "replace",
    "healthcheck": "replace",
    "logDriver": "replace",
    "logOpts": "replace",
    "labels": "replace",
    "stopTimeout": "replace",
    # Not ForceNew in the schema and not in the update's attribute list (resource_docker_container.go,
    # resource_docker_container_funcs.go, v4.6.0): a changed tmpfs would be "updated" without effect.
    "tmpfs": "not-applied",
    "restart": "update",
    "memory": "update",
    "memorySwap": "update",
    "memoryReservation": "update",
    "wait": "create-or-delete-only",
    "waitTimeout": "create-or-delete-only",
    "destroyGraceSeconds": "create-or-delete-only",
    "removeVolumes": "create-or-delete-only",
}
"""Pulumi property names, as replace_on_changes and the engine spell them."""

INIT_ERROR: Final = "#initerror"
"""The engine's key for "the last create failed after the resource existed" (pulumi/pulumi
pkg/resource/deploy/step_generator.go, initErrorSpecialKey / applyReplaceOnChanges).

When ``wait`` times out, the provider has already recorded the container's ID
(resourceDockerContainerCreate sets it before starting and waiting), so the bridge reports
an initialization failure and the engine keeps the container with init errors. On the next
``up`` the engine would issue an empty update to "continue" it, which the bridged Update
answers with no change and no health wait: the unhealthy container would be accepted. With
this key in replace_on_changes the engine replaces it instead, and the new one is waited for
again. docs/operations.md has the manual recovery."""


def replace_on_changes() -> list[str]:
    """Inputs whose change the provider would not apply in place, plus init errors."""
    return [INIT_ERROR, *sorted(key for key, handling in CONTAINER_INPUTS.items() if handling == "not-applied")]


@dataclass(frozen=True)
class Healthcheck:
    """Durations as Go duration strings (``"30s"``, ``"10m"``), whole seconds or timedeltas.

    They are sent in Go's canonical form (``go_duration``), which is how the provider reads
    them back; anything Docker would refuse fails here, before a resource is registered.
    """

    test: Sequence[str]
    interval: DurationInput = "30s"
    timeout: DurationInput = "10s"
    retries: int = 5
    start_period: DurationInput = "60s"
    start_interval: DurationInput = "2s"

    def __post_init__(self) -> None:
        for field_name in ("interval", "timeout", "start_period", "start_interval"):
            problem = healthcheck_duration_problem(getattr(self, field_name))
            if problem is not None:
                raise ValueError(f"healthcheck {field_name} {problem}")
        if self.retries < 0:
            raise ValueError(f"healthcheck retries {self.retries}: must be >= 0")

    def args(self) -> docker.ContainerHealthcheckArgs:
        return docker.ContainerHealthcheckArgs(
            tests=list(self.test),
            interval=go_duration(self.interval),
            timeout=go_duration(self.timeout),
            retries=self.retries,
            start_period=go_duration(self.start_period),
            start_interval=go_duration(self.start_interval),
        )


def http_healthcheck(path: str, start_period: DurationInput = "60s") -> Healthcheck:
    """The app answers ``path`` on its own port 80 with a non-error status (redirects count)."""
    return Healthcheck(
        test=["CMD", "curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", f"http://localhost{path}"],
        start_period=start_period,
    )


@dataclass(frozen=True)
class FileUpload:
    """A file written into the container before it starts."""

    path: str
    content: pulumi.Input[str]
    owner: str = "0"
    group: str = "0"
    mode: str = "0444"
    secret: bool = False
    content_base64: pulumi.Input[str] | None = None
    """Binary content, base64-encoded; then ``content`` is ignored (the provider's ``content_base64``)."""

    @property
    def root_owned(self) -> bool:
        return self.owner == "0" and self.group == "0"

    def args(self) -> docker.ContainerUploadArgs:
        """Root-owned files go without ``owner``/``group``: with either set, the provider asks the
        engine to copy ownership (``CopyUIDGID: owner != "" || group != ""``, terraform-provider-docker
        v4.6.0 resource_docker_container_funcs.go), and the engine then chowns every file to the
        container's ``user`` when it has one (moby daemon/archive_tarcopyoptions_unix.go,
        applyTarCopyUserOptions). Without them the tar header's 0:0 stands, as the provider writes it.
        """
        owner, group = (None, None) if self.root_owned else (self.owner, self.group)
        if self.content_base64 is not None:
            encoded = pulumi.Output.secret(self.content_base64) if self.secret else self.content_base64
            return docker.ContainerUploadArgs(
                file=self.path, content_base64=encoded, owner=owner, group=group, permissions=self.mode
            )
        content = pulumi.Output.secret(self.content) if self.secret else self.content
        return docker.ContainerUploadArgs(
            file=self.path, content=content, owner=owner, group=group, permissions=self.mode
        )


def secret_file(path: str, value: pulumi.Input[str], uid: int) -> FileUpload:
    """A secret readable only by ``uid`` (the service's user), for an image's ``*_FILE`` variables."""
    return FileUpload(path=path, content=value, owner=str(uid), group=str(uid), mode="0400", secret=True)


@dataclass(frozen=True)
class Attachment:
    network: pulumi.Input[str]
    """Network name."""
    aliases: Sequence[str] = ()


@dataclass(frozen=True)
class Mount:
    volume: pulumi.Input[str]
    """Volume name; with ``host_directory``, a directory of the Docker host."""
    path: str
    read_only: bool = False
    host_directory: bool = False
    """A bind mount of the host directory ``volume`` (sent as ``host_path``): only a local backup target
    uses one. Added for the backups (issue 12). The provider sends it as a ``Binds`` entry
    ``<host_path>:<container_path>:rw|ro`` (``volumeSetToDockerVolumes``,
    internal/provider/resource_docker_container_structures.go, read at 83c00e0 after v4.5.0), with which the
    engine creates a missing directory; ``volumes`` is not read back (docs/provider-readback.md)."""


Replacement = Literal["create-first", "stop-first"]
"""How a container is replaced when an input the provider cannot update changes (image, files, env...).

``stop-first``: the old container is stopped (its stop signal, then ``stop_grace_seconds``) and removed,
then the new one is created under the same fixed name and waited for (Pulumi ``delete_before_replace``).
The service is down from the stop until the new one is healthy. For anything that must never run twice
at once: databases, caches, apps that migrate their data on start, containers that publish host ports.

``create-first``: the new container is created next to the old one and waited for until healthy
(provider ``wait``); only then, at the end of the ``pulumi up``, is the old one stopped and removed
(Pulumi's default create-before-delete, which the stack must ask for explicitly: pulumi-docker marks
``docker_container`` ``DeleteBeforeReplace: true``, pulumi/pulumi-docker provider/resources.go, and the
engine lets ``ResourceOptions.delete_before_replace=False`` override the provider, pulumi/pulumi
pkg/resource/deploy/step_generator.go). Two containers cannot share a name, so each generation is named
``<container_name>-<6 hex>`` (``generation_name``). If the new one never becomes healthy the old one
keeps serving. For stateless services only: both run at once, on the same volumes and alias.
"""
GENERATION_BYTES: Final = 3
"""The generation suffix: 6 hex digits, random per replacement (pulumi-random ``RandomId``)."""


@dataclass(frozen=True)
class ServiceSpec:
    container_name: str
    image: docker.RemoteImage
    memory_bytes: int
    healthcheck: Healthcheck
    networks: Sequence[Attachment]
    envs: Mapping[str, pulumi.Input[str]] | None = None
    files: Sequence[FileUpload] = ()
    mounts: Sequence[Mount] = ()
    command: Sequence[str] | None = None
    entrypoint: Sequence[str] | None = None
    ports: Sequence[docker.ContainerPortArgs] = ()
    wait_timeout_seconds: int = 120
    stop_grace_seconds: int = 30
    keep_anonymous_volumes: bool = False
    """Sent as ``remove_volumes: false``: the provider's delete otherwise removes the container's anonymous
    volumes (``ContainerRemove`` with ``RemoveVolumes: d.Get("remove_volumes")``, default true;
    resource_docker_container_funcs.go). Unset, nothing is sent, as before."""
    """How long the container gets to stop cleanly before SIGKILL, on ``docker stop``, a
    daemon shutdown without live-restore, a restart and the provider's delete alike: sent as
    both ``stop_timeout`` (Docker's own, in the container's config) and ``destroy_grace_seconds``
    (used only by the provider's delete)."""
    labels: Mapping[str, str] | None = None
    user: str | None = None
    """``uid:gid`` to run as, when the image's default user is wrong for shared volumes."""
    memory_reservation_bytes: int | None = None
    """What it needs to run (Docker's ``memory_reservation``, cgroup ``memory.low``); at most ``memory_bytes``."""
    replacement: Replacement = "stop-first"
    """How it is replaced (``Replacement``); stop-first unless the caller knows the service is stateless."""
    tmpfs: Mapping[str, str] | None = None
    """Container path -> mount options (``size=41943040,mode=0700``): the provider's ``tmpfs`` map, sent as
    Docker's ``HostConfig.Tmpfs`` and read back from it verbatim (``d.Set("tmpfs", HostConfig.Tmpfs)``,
    resource_docker_container_funcs.go v4.6.0). Its pages count against the container's memory limit."""


def _env_list(envs: Mapping[str, pulumi.Input[str]]) -> list[pulumi.Input[str]]:
    return [pulumi.Output.concat(key, "=", value) for key, value in sorted(envs.items())]


def memory_mib(memory_bytes: int, what: str = "memory limit") -> int:
    """The provider's ``memory``/``memory_swap``/``memory_reservation`` unit: MiB (it multiplies
    by 1024*1024 and reads back ``HostConfig.Memory/1024/1024``, likewise the others), so a
    size is whole MiB; at least Docker's 6 MiB (moby's minimum for a limit and a reservation)."""
    mib, rest = divmod(memory_bytes, 1024**2)
    if rest or mib < 6:
        raise ValueError(f"{what} {memory_bytes} bytes: Docker needs whole MiB, at least 6")
    return mib


def _check_upload_owners(spec: ServiceSpec) -> None:
    """In a container with a ``user``, the engine gives every upload sent with an owner to that user
    (FileUpload.args): any other owner would be silently replaced, so it is a programming error."""
    if spec.user is None:
        return
    user, _, group = spec.user.partition(":")
    for upload in spec.files:
        if not upload.root_owned and (upload.owner, upload.group) != (user, group or user):
            raise ValueError(
                f"{spec.container_name}: {upload.path} would be owned {upload.owner}:{upload.group}, but the engine "
                f"gives uploads with an owner to the container's user {spec.user}"
            )


def replacement_inputs(spec: ServiceSpec, labels: Mapping[str, str]) -> dict[str, pulumi.Input[object]]:
    """Every input whose change replaces the container (``CONTAINER_INPUTS`` "replace"), except its name,
    as plain data with the program's outputs in it: what a create-first service's generation is keyed on."""
    return {
        "image": spec.image.image_id,
        "envs": [[key, value] for key, value in sorted((spec.envs or {}).items())],
        "uploads": [
            [upload.path, upload.content, upload.content_base64, upload.owner, upload.group, upload.mode]
            for upload in sorted(spec.files, key=lambda upload: upload.path)
        ],
        # A bind mount's flag only when set: a new entry would move every create-first service's keepers.
        "volumes": [
            [mount.volume, mount.path, mount.read_only, *(["host"] if mount.host_directory else [])]
            for mount in spec.mounts
        ],
        "networksAdvanced": [[attachment.network, sorted(attachment.aliases)] for attachment in spec.networks],
        "ports": [[port.internal, port.external, port.ip, port.protocol] for port in spec.ports],
        "command": list(spec.command) if spec.command is not None else None,
        "entrypoints": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "user": spec.user,
        "healthcheck": [
            list(spec.healthcheck.test),
            *(
                go_duration(duration)
                for duration in (
                    spec.healthcheck.interval,
                    spec.healthcheck.timeout,
                    spec.healthcheck.start_period,
                    spec.healthcheck.start_interval,
                )
            ),
            spec.healthcheck.retries,
        ],
        "logDriver": LOG_DRIVER,
        "logOpts": dict(LOG_OPTIONS),
        "labels": dict(sorted(labels.items())),
        "stopTimeout": spec.stop_grace_seconds,
        # Not-applied by the provider's update, so in replace_on_changes: a change replaces the container.
        # Absent when unset, as every input added later must be: a new key would change every service's
        # keepers, so every create-first container would be replaced once for nothing.
        **({"tmpfs": dict(sorted(spec.tmpfs.items()))} if spec.tmpfs else {}),
    }


def _digest(inputs: Mapping[str, object]) -> str:
    return _sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def generation_name(
    resource_name: str, spec: ServiceSpec, labels: Mapping[str, str], parent: pulumi.Resource
) -> pulumi.Output[str]:
    """``<container_name>-<6 hex>``: deterministic (kept in state, the same on every preview) and new
    exactly when the container is replaced, so the replacement can be created beside the old one.

    The suffix is a pulumi-random ``RandomId`` (resource ``<container resource>-generation``) whose
    ``keepers`` hold a SHA-256 of ``replacement_inputs``: a change to any of them replaces the id, and
    so renames, and so replaces, the container. Random rather than the digest itself so that no part of
    a name is derived from a secret file's content; the keepers are secret in the state.
    """
    # json_dumps waits for every output inside (and stays unknown in a preview while one is unknown).
    text = pulumi.Output.json_dumps(replacement_inputs(spec, labels), sort_keys=True, separators=(",", ":"))
    digest: pulumi.Output[str] = pulumi.Output.secret(text.apply(_sha256))
    generation = random.RandomId(
        f"{resource_name}-generation",
        byte_length=GENERATION_BYTES,
        keepers={"replacement-inputs": digest},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return generation.hex.apply(lambda suffix: f"{spec.container_name}-{suffix}")


def service_container(
    resource_name: str, spec: ServiceSpec, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
) -> docker.Container:
    """The container for ``spec``; see docs/provider-readback.md for why each input reads back equal.

    ``memory_swap`` equals ``memory``: no swap. Without it the engine stores twice the memory
    (moby daemon/daemon_unix.go adaptContainerSettings), and raising ``memory`` past that old
    swap later is refused ("Memory limit should be smaller than already set memoryswap
    limit", daemon/container/container_unix.go UpdateContainer), so the provider's in-place
    update fails. No swap also keeps the capacity check honest (a container cannot grow past
    its limit into swap) and a database's working set in RAM; at its limit a container is
    OOM-killed and restarted (``unless-stopped``) instead of thrashing the host.

    ``spec.replacement`` decides the name and ``delete_before_replace`` (``Replacement``).
    """
    memory = memory_mib(spec.memory_bytes)
    if NO_ENV_IN_LOGS in (spec.envs or {}):
        raise ValueError(
            f"{spec.container_name}: {NO_ENV_IN_LOGS} is reserved (log options name it to attach no environment)"
        )
    _check_upload_owners(spec)
    labels = {SERVICE_LABEL: spec.container_name, **(spec.labels or {})}
    create_first = spec.replacement == "create-first"
    if create_first and spec.ports:
        raise ValueError(
            f"{spec.container_name}: publishes host ports, which two containers cannot bind at once: stop-first only"
        )
    name: pulumi.Input[str] = (
        generation_name(resource_name, spec, labels, parent) if create_first else spec.container_name
    )
    return docker.Container(
        resource_name,
        name=name,
        image=spec.image.image_id,
        envs=_env_list(spec.envs or {}),
        uploads=[upload.args() for upload in sorted(spec.files, key=lambda upload: upload.path)],
        volumes=[
            docker.ContainerVolumeArgs(host_path=mount.volume, container_path=mount.path, read_only=mount.read_only)
            if mount.host_directory
            else docker.ContainerVolumeArgs(
                volume_name=mount.volume, container_path=mount.path, read_only=mount.read_only
            )
            for mount in spec.mounts
        ],
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=attachment.network, aliases=sorted(attachment.aliases))
            for attachment in spec.networks
        ],
        ports=list(spec.ports),
        command=list(spec.command) if spec.command is not None else None,
        entrypoints=list(spec.entrypoint) if spec.entrypoint is not None else None,
        user=spec.user,
        healthcheck=spec.healthcheck.args(),
        wait=True,
        wait_timeout=spec.wait_timeout_seconds,
        restart="unless-stopped",
        memory=memory,
        memory_swap=memory,
        # MiB, like memory; the provider updates it in place and reads it back in MiB (0 when unset).
        memory_reservation=(
            memory_mib(spec.memory_reservation_bytes, "memory reservation") if spec.memory_reservation_bytes else None
        ),
        log_driver=LOG_DRIVER,
        log_opts=dict(LOG_OPTIONS),
        stop_timeout=spec.stop_grace_seconds,
        destroy_grace_seconds=spec.stop_grace_seconds,
        remove_volumes=False if spec.keep_anonymous_volumes else None,
        tmpfs=dict(spec.tmpfs) if spec.tmpfs else None,
        labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())],
        opts=pulumi.ResourceOptions(
            parent=parent,
            delete_before_replace=not create_first,
            depends_on=list(depends_on),
            replace_on_changes=replace_on_changes(),
        ),
    )
