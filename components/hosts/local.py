"""The Docker host the stack deploys onto.

A host owns the Docker provider and decides where volumes live. The composition (stack.py)
tells the host every volume the stack will make (``prepare_volumes``), once, before any app
is built; the host prepares each (a directory on its data disk, or nothing) and returns
the placement the apps' volumes use. Apps receive the provider through ``opts`` and the
placement through their args, so a new kind of host slots in without touching them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_docker as docker

from components.core.volumes import PreparedPlacement, VolumePlacement


class DockerHost(Protocol):
    """What every host offers the rest of the stack."""

    @property
    def provider(self) -> docker.Provider: ...

    def prepare_volumes(self, volume_names: Sequence[str]) -> VolumePlacement:
        """Prepare a place for each named volume; the placement answers for exactly these."""
        ...

    @property
    def address(self) -> pulumi.Output[str]:
        """Where users reach the proxy (an IP address or host name)."""
        ...


ENGINE_ENVIRONMENT = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CA_MATERIAL",
    "DOCKER_CERT_MATERIAL",
    "DOCKER_KEY_MATERIAL",
    "DOCKER_SSH_OPTS",
)
"""What the Docker provider would read from the operator's shell for a setting it is not given
(and DOCKER_CERT_PATH, which :func:`refuse_engine_tls_environment` handles).

terraform-provider-docker v4.5.0 ``internal/provider/provider.go`` (the same file in the
v4.6.0 that pulumi-docker 5.2.0 bridges, docs/provider-readback.md): ``host`` defaults to
DOCKER_HOST (so does the pulumi-docker SDK itself, ``Provider.__init__``), ``context`` to
DOCKER_CONTEXT and *overrides host* (``configure``: the endpoint of that context from
~/.docker/contexts), ``cert_path`` to DOCKER_CERT_PATH and ``ca_/cert_/key_material`` to
DOCKER_*_MATERIAL (TLS to the host, ``config.go`` ``MakeClient``), ``ssh_opts`` to
DOCKER_SSH_OPTS. The bridged client is built
without ``client.FromEnv``, so DOCKER_TLS_VERIFY and DOCKER_API_VERSION reach only the native
half's throwaway client (see :func:`refuse_engine_tls_environment`), which the program's
resources do not use.
"""


class EngineEnvironmentError(pulumi.RunError):
    """The operator's shell holds a DOCKER_* variable that would break the provider; the CLI prints only this."""


def refuse_engine_tls_environment(target: str, environ: Mapping[str, str]) -> None:
    """DOCKER_CERT_PATH cannot be overridden: refuse it before any resource is registered.

    The bridged provider gets ``cert_path=""`` and ignores it, but pulumi-docker's native
    half (``provider/provider.go`` ``Configure`` -> ``image.go`` ``configureDockerClient``)
    builds a client with ``client.FromEnv``, which loads TLS files from DOCKER_CERT_PATH
    whatever the config says: the provider's Configure then fails (files missing, or TLS
    spoken to a plain socket). It never changes the target, only breaks the deploy
    confusingly; this says why.
    """
    cert_path = environ.get("DOCKER_CERT_PATH", "")
    if cert_path:
        raise EngineEnvironmentError(
            f"DOCKER_CERT_PATH={cert_path} is set in your shell. This stack talks to the Docker engine at "
            f"{target} without client certificates, and pulumi-docker's provider would load TLS files from "
            "DOCKER_CERT_PATH anyway and fail to start. Unset it for Pulumi: env -u DOCKER_CERT_PATH pulumi up"
        )


def default_engine_endpoint(platform: str = sys.platform) -> str:
    """The engine's own default socket, as pulumi-docker computes it (``defaultDockerProviderHost``)."""
    return "npipe:////./pipe/docker_engine" if platform == "win32" else "unix:///var/run/docker.sock"


def engine_provider(
    resource_name: str, host: pulumi.Input[str], ssh_opts: Sequence[str], opts: pulumi.ResourceOptions
) -> docker.Provider:
    """A Docker provider for exactly ``host``, whatever DOCKER_* variables the operator's shell holds.

    Every setting the provider would otherwise take from the environment is sent, empty
    where unused. An explicit empty string counts as set: pulumi-terraform-bridge
    (``pkg/tfbridge/schema.go``, ``applyDefaults``) fills in schema defaults only for keys
    the program did not send, and the SDK's ``ConfigFieldReader.readPrimitive`` calls the
    ``EnvDefaultFunc`` only when the key is absent from the config. The values are the same
    in every shell, so they never show as a provider diff; and a changed ``host`` would be
    an update of the provider, not a replacement of its containers (the bridge's
    ``DiffConfig`` replaces only on ``ForcesProviderReplace``, which pulumi-docker sets on
    no key).
    """
    return docker.Provider(
        resource_name,
        host=host,
        context="",
        cert_path="",
        ca_material="",
        cert_material="",
        key_material="",
        ssh_opts=list(ssh_opts),
        opts=opts,
    )


def ignored_environment(target: str, environ: Mapping[str, str]) -> list[str]:
    """The DOCKER_* variables set in ``environ`` that would have sent the provider elsewhere than ``target``."""
    ignored = []
    for variable in ENGINE_ENVIRONMENT:
        value = environ.get(variable, "")
        if value and not (variable == "DOCKER_HOST" and value == target):
            ignored.append(f"{variable}={value}")
    return ignored


@dataclass(frozen=True)
class LocalDockerHostArgs:
    docker_host: str = ""
    """Engine endpoint (``unix:///var/run/docker.sock``, ``tcp://...``); empty: the engine's default socket.

    Never DOCKER_HOST or DOCKER_CONTEXT: the stack's config alone says where it deploys, the
    same in every operator's shell.
    """


class LocalDockerHost(pulumi.ComponentResource):
    """The Docker engine on this machine (or at ``docker_host``)."""

    def __init__(self, name: str, args: LocalDockerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        endpoint = args.docker_host or default_engine_endpoint()
        refuse_engine_tls_environment(endpoint, os.environ)
        super().__init__("selfhost:index:LocalDockerHost", name, None, opts)
        ignored = ignored_environment(endpoint, os.environ)
        if ignored:
            other = os.environ.get("DOCKER_HOST") or "unix:///run/user/1000/docker.sock"
            pulumi.log.warn(
                f"this stack deploys to the Docker engine at {endpoint} (selfhost:dockerHost"
                f"{'' if args.docker_host else ' is empty: the default socket'}) and ignores "
                f"{', '.join(ignored)} from your shell. To deploy to another engine, say so in the "
                f'stack: pulumi config set selfhost:dockerHost "{other}"',
                resource=self,
            )
        self._docker = engine_provider(f"{name}-docker", endpoint, [], pulumi.ResourceOptions(parent=self))
        self._public_address = pulumi.Output.from_input("127.0.0.1")
        self.register_outputs({"address": self._public_address})

    @property
    def provider(self) -> docker.Provider:
        return self._docker

    def prepare_volumes(self, volume_names: Sequence[str]) -> VolumePlacement:
        """Where the engine keeps volumes (/var/lib/docker/volumes): nothing to prepare."""
        return PreparedPlacement(dict.fromkeys(volume_names))

    @property
    def address(self) -> pulumi.Output[str]:
        return self._public_address
