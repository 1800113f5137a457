"""One way to run a long-lived service container, so every container gets the same care.

Each gets: the image by ``image_id`` (a name there would replace it on every run), a
healthcheck with ``wait``, restart ``unless-stopped``, a memory limit, rotated logs,
sorted environment and files (stable diffs), and secrets as files, not variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

LOG_OPTIONS = {"max-file": "3", "max-size": "10m"}


@dataclass(frozen=True)
class Healthcheck:
    test: Sequence[str]
    interval: str = "30s"
    timeout: str = "10s"
    retries: int = 5
    start_period: str = "60s"
    start_interval: str = "2s"

    def args(self) -> docker.ContainerHealthcheckArgs:
        return docker.ContainerHealthcheckArgs(
            tests=list(self.test),
            interval=self.interval,
            timeout=self.timeout,
            retries=self.retries,
            start_period=self.start_period,
            start_interval=self.start_interval,
        )


def http_healthcheck(path: str, start_period: str = "60s") -> Healthcheck:
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

    def args(self) -> docker.ContainerUploadArgs:
        content = pulumi.Output.secret(self.content) if self.secret else self.content
        return docker.ContainerUploadArgs(
            file=self.path, content=content, owner=self.owner, group=self.group, permissions=self.mode
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
    """Volume name."""
    path: str
    read_only: bool = False


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
    labels: Mapping[str, str] | None = None
    user: str | None = None
    """``uid:gid`` to run as, when the image's default user is wrong for shared volumes."""
    memory_reservation_bytes: int | None = None
    """What it needs to run (Docker's ``memory_reservation``, cgroup ``memory.low``); at most ``memory_bytes``."""


def _env_list(envs: Mapping[str, pulumi.Input[str]]) -> list[pulumi.Input[str]]:
    return [pulumi.Output.concat(key, "=", value) for key, value in sorted(envs.items())]


def service_container(
    resource_name: str, spec: ServiceSpec, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
) -> docker.Container:
    labels = {"io.selfhost.service": spec.container_name, **(spec.labels or {})}
    return docker.Container(
        resource_name,
        name=spec.container_name,
        image=spec.image.image_id,
        envs=_env_list(spec.envs or {}),
        uploads=[upload.args() for upload in sorted(spec.files, key=lambda upload: upload.path)],
        volumes=[
            docker.ContainerVolumeArgs(volume_name=mount.volume, container_path=mount.path, read_only=mount.read_only)
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
        memory=spec.memory_bytes // 1024**2,
        # MiB, like memory; the provider updates it in place and reads it back in MiB (0 when unset).
        memory_reservation=spec.memory_reservation_bytes // 1024**2 if spec.memory_reservation_bytes else None,
        log_driver="json-file",
        log_opts=LOG_OPTIONS,
        destroy_grace_seconds=spec.stop_grace_seconds,
        labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())],
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True, depends_on=list(depends_on)),
    )
