"""Every container image the stack runs, in one place, and the policy that keeps them current.

The policy (docs/apps.md, "Images"): each pin is a tag that upstream still rebuilds
(docker-library/official-images ``library/<name>``: a tag listed there gets every security
rebuild), and each stack runs that tag at a digest it records. A deploy pulls
``<tag>@<digest>``; the digests stay as recorded in the stack's outputs (``imageDigests``)
until the operator changes the ``imageRefresh`` config key, and then every tag is resolved
again at the registry. So deploys are reproducible (a new server gets the very images the
old one ran), and rebuilds arrive when asked for: ``pulumi config set imageRefresh
2026-12-01 && pulumi up``. A changed digest replaces the RemoteImage and, when the image id
differs, the containers on it; volumes never change.

Why digests in ``name`` and not ``pull_triggers``: the bridged provider
(kreuzwerker/terraform-provider-docker internal/provider/resource_docker_image_funcs.go
``findImage``, the same in v4.5.0 and the v4.6.0 that pulumi-docker 5.2.0 bridges) pulls only when no local image
answers to ``name``: a changed ``pull_triggers`` replaces the resource, whose create finds the
tag already on the host and pulls nothing (kreuzwerker/terraform-provider-docker#172,
pulumi/pulumi-docker#342, both open). A digest that is not on the host is pulled; one that is
(same content) is found locally, and the image id, so the containers, stay the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_docker as docker

from components.core.image_reference import SHA256_DIGEST_RE


@dataclass(frozen=True)
class ImagePin:
    repository: str
    tag: str
    """Empty for an image pinned by digest alone (``repo@sha256:...``)."""
    digest: str | None = None
    """Set when the reference itself carries a digest (an operator's ``image: app:2.1@sha256:...``):
    the pull names it, and ``DigestPins`` passes it through unchanged, neither looking it up nor
    recording it. The stack's own pins leave it unset: their digests live in the record."""

    @property
    def ref(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"

    @property
    def major(self) -> int:
        return int(self.tag.split(".")[0].split("-")[0])

    @property
    def php(self) -> str | None:
        """The PHP version in tags such as ``7.1-php8.4-apache`` (``8.4``), if the tag names one."""
        match = re.search(r"(?:\A|-)php(\d+\.\d+)(?:-|\Z)", self.tag)
        return match.group(1) if match else None


# Tags checked against docker-library/official-images library/<name> (2026-08-21): each is
# listed there, so upstream rebuilds it. A major or minor bump is an edit here (Nextcloud:
# one major per deploy, components/apps/nextcloud/upgrades.py); a rebuild of the same tag is imageRefresh.
WORDPRESS = ImagePin("wordpress", "7.1-php8.4-apache")
WORDPRESS_CLI = ImagePin("wordpress", "cli-2.12-php8.4")
"""WP-CLI (Alpine); keep its PHP version equal to WORDPRESS's: both run the same site code."""
NEXTCLOUD = ImagePin("nextcloud", "33.0-apache")
MARIADB = ImagePin("mariadb", "11.8")
POSTGRES = ImagePin("postgres", "18")
"""The major only: minor releases of one major share the data format and are rebuilt under ``18``."""
REDIS = ImagePin("redis", "8.2")
NGINX = ImagePin("nginx", "1.30")
ROCKETCHAT = ImagePin("rocket.chat", "8.5")
"""Rocket.Chat's official image (RocketChat/Docker.Official.Image 8.5/Dockerfile, listed in official-images
library/rocket.chat as ``8.5.1, 8.5, 8, latest`` on 2026-08-21): node:22-bookworm-slim, no curl left in it,
``USER rocketchat`` (uid 999), ``WORKDIR /app/bundle``, ``CMD ["node", "main.js"]`` under the node image's
``docker-entrypoint.sh``. amd64 only: library/rocket.chat names no other architecture."""
MONGODB = ImagePin("mongo", "8.0")
"""Rocket.Chat 8 refuses MongoDB below 7.0 (apps/meteor/server/startup/serverRunning.ts); 8.0 is the
long-supported major (official-images library/mongo lists ``8.0.29, 8.0``). The major.minor only: its patch
releases share the data format and are rebuilt under ``8.0``."""

RESTIC = ImagePin("ghcr.io/restic/restic", "0.19")
"""The backups' scheduler. Not a docker-library image: the restic project's own, built by its release
workflow (restic/restic .github/workflows/docker.yml, at a80be14 after v0.19.1) from docker/Dockerfile.release:
``alpine:latest`` plus the release binary at /usr/bin/restic and ``ca-certificates fuse openssh-client tzdata
jq``, root, ``ENTRYPOINT ["/entrypoint.sh"]`` (``nice``/``ionice`` around restic), for 386, amd64, arm and
arm64. It is pushed to ghcr.io under ``{{version}}`` and ``{{major}}.{{minor}}`` on each release tag: ``0.19``
follows the patch releases, but the Alpine base is refreshed only when restic releases, not for every
Alpine fix as a docker-library tag would be. The scheduler runs busybox ``sh`` and ``jq`` from it."""

ALL = (WORDPRESS, WORDPRESS_CLI, NEXTCLOUD, MARIADB, POSTGRES, REDIS, NGINX, ROCKETCHAT, MONGODB, RESTIC)

REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
DIGESTS_OUTPUT = "imageDigests"
"""Stack output ``{"refresh": <imageRefresh>, "digests": {<tag ref>: "sha256:..."}}``, read back next run."""


def postgres_data_path(pin: ImagePin) -> str:
    """Postgres 18 moved PGDATA's parent: the volume goes on /var/lib/postgresql from 18 on."""
    return "/var/lib/postgresql" if pin.major >= 18 else "/var/lib/postgresql/data"


def pull(
    name: str, pin: ImagePin, parent: pulumi.Resource, after: pulumi.Output[object] | None = None
) -> docker.RemoteImage:
    """Pull ``pin`` on the parent's Docker host; containers use its ``image_id``.

    The stack pins the tag to a digest (``DigestPins.transformation``, installed by
    stack.py on every resource of the host). ``keep_locally`` leaves the image on
    the host at destroy or replacement: other stacks may share it, and a container keeps
    running on its image while its replacement is pulled. ``after``: an output that must
    resolve first (e.g. a version check that may fail); the pull, and every container on the
    image, waits for it.
    """
    ref: pulumi.Input[str] = pin.ref if after is None else after.apply(lambda _: pin.ref)
    return docker.RemoteImage(
        f"{name}-image",
        name=ref,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def recorded_digests(record: object, refresh: str) -> dict[str, str]:
    """The digests the last deploy recorded, if it recorded them under the same ``refresh``; else none.

    A record that is not of the form this module writes counts as none: resolving the tags
    again is what a refresh does, never a risk to data.
    """
    if not isinstance(record, dict) or record.get("refresh") != refresh:
        return {}
    digests = record.get("digests")
    if not isinstance(digests, dict):
        return {}
    return {
        ref: digest for ref, digest in digests.items() if isinstance(digest, str) and SHA256_DIGEST_RE.fullmatch(digest)
    }


@dataclass
class DigestPins:
    """Which digest each tag runs at on this stack: the recorded one, or the registry's current one.

    ``refresh``: the ``imageRefresh`` config value. ``recorded``: the ``imageDigests`` output
    of the stack's last deploy (None if it has none). ``provider``: the host's Docker provider;
    its registry look-up (``getRegistryImage``, a HEAD of the manifest that accepts OCI indexes,
    so the digest covers every platform) talks to the registry only, never to the engine.
    """

    refresh: str
    recorded: pulumi.Output[object]
    provider: pulumi.ProviderResource | None = None
    _pulled: list[pulumi.Output[list[str]]] = field(default_factory=list, init=False, repr=False)
    _looked_up: dict[str, pulumi.Output[str]] = field(default_factory=dict, init=False, repr=False)

    def digest(self, ref: str, record: object) -> pulumi.Output[str] | str:
        known = recorded_digests(record, self.refresh).get(ref)
        if known is not None:
            return known
        if ref not in self._looked_up:
            found = docker.get_registry_image_output(
                name=ref, opts=pulumi.InvokeOutputOptions(provider=self.provider)
            ).sha256_digest
            self._looked_up[ref] = found.apply(lambda digest: _checked_digest(ref, digest))
        return self._looked_up[ref]

    def pinned(self, ref: pulumi.Input[str]) -> pulumi.Output[str]:
        """``<ref>@<digest>``; noted for the record this deploy exports.

        A ``ref`` that already carries a digest (``app:2.1@sha256:...``, ``ImagePin.digest``) runs
        at that digest: it passes through unchanged, with no registry look-up and no record entry.
        """
        tag = pulumi.Output.from_input(ref)
        digest = pulumi.Output.all(tag, self.recorded).apply(
            lambda args: None if carries_digest(str(args[0])) else self.digest(str(args[0]), args[1])
        )
        pair = pulumi.Output.all(tag, digest)
        self._pulled.append(pair)
        return pair.apply(lambda args: str(args[0]) if args[1] is None else f"{args[0]}@{args[1]}")

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        """Rewrite every RemoteImage's ``name`` from a tag to ``tag@digest``; leave other resources alone."""
        if args.type_ != REMOTE_IMAGE:
            return None
        return pulumi.ResourceTransformationResult({**args.props, "name": self.pinned(args.props["name"])}, args.opts)

    def record(self) -> pulumi.Output[dict[str, object]]:
        """The ``imageDigests`` output: each image this deploy pulled, by tag, and the refresh it was resolved under."""
        return pulumi.Output.all(*self._pulled).apply(
            lambda pairs: {
                "refresh": self.refresh,
                "digests": {str(ref): str(digest) for ref, digest in sorted(p for p in pairs if p[1] is not None)},
            }
        )


def carries_digest(ref: str) -> bool:
    """``ref`` names its digest: in Docker's reference grammar ``@`` only ever precedes one
    (distribution/reference regexp.go ``referencePat``)."""
    return "@" in ref


def _checked_digest(ref: str, digest: object) -> str:
    if digest is None and pulumi.runtime.is_dry_run():
        # A preview before the host exists: the host's provider has an unknown ``host`` (it
        # derives from the server's readiness), so the engine does not configure it and
        # answers every invoke through it with an empty map (pulumi/pulumi
        # sdk/go/common/resource/plugin/provider_plugin.go, ``Configure`` with unknown
        # inputs leaves ``known`` unset; ``Invoke`` then returns no properties). Not an
        # answer to refuse: the digest is unknown until ``pulumi up`` configures the provider.
        return cast(str, pulumi.UNKNOWN)
    if not isinstance(digest, str) or not SHA256_DIGEST_RE.fullmatch(digest):
        raise pulumi.RunError(f"the registry answered {digest!r} for {ref}, which is not a sha256 digest")
    return digest
