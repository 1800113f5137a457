"""Image references as Docker reads them: the grammar of distribution/reference, written once.

Source: github.com/distribution/reference at 0965666a6ade2e06035fe352e38344be1e68951a (2026-04-18):
``regexp.go`` (the expressions, copied term by term below), ``reference.go`` (``Parse``: the
upper-case diagnosis, the 255-character path limit) and ``normalize.go`` (``splitDockerDomain``
and ``familiarizeName``: how ``nginx`` means ``docker.io/library/nginx`` and back).

Go's RE2 and Python's ``re`` agree on every construct used here, with two translations: RE2's
``\\w`` is ASCII (``[0-9A-Za-z_]``), Python's is Unicode, so it is spelled out; ``[[:xdigit:]]``
is ``[0-9A-Fa-f]``. Every pattern is applied with ``fullmatch`` (the Go code anchors with
``^...$``, which in RE2 matches at the very end only; Python's ``$`` would also match before a
final newline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ALPHANUMERIC: Final = r"[a-z0-9]+"
SEPARATOR: Final = r"(?:[._]|__|[-]+)"
LOCALHOST: Final = "localhost"
DOMAIN_NAME_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
OPTIONAL_PORT: Final = r"(?::[0-9]+)?"
TAG: Final = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}"
DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
IDENTIFIER: Final = r"[a-f0-9]{64}"
IPV6_ADDRESS: Final = r"\[(?:[a-fA-F0-9:]+)\]"
DOMAIN_NAME: Final = DOMAIN_NAME_COMPONENT + r"(?:\." + DOMAIN_NAME_COMPONENT + ")*"
HOST: Final = "(?:" + DOMAIN_NAME + "|" + IPV6_ADDRESS + ")"
DOMAIN_AND_PORT: Final = HOST + OPTIONAL_PORT
PATH_COMPONENT: Final = ALPHANUMERIC + "(?:" + SEPARATOR + ALPHANUMERIC + ")*"
REMOTE_NAME: Final = PATH_COMPONENT + "(?:/" + PATH_COMPONENT + ")*"
NAME: Final = "(?:" + DOMAIN_AND_PORT + "/)?" + REMOTE_NAME

REFERENCE_RE: Final = re.compile("(" + NAME + ")(?::(" + TAG + "))?(?:@(" + DIGEST + "))?")
"""``reference := name [ ":" tag ] [ "@" digest ]``: groups name, tag, digest."""
TAG_RE: Final = re.compile(TAG)
IDENTIFIER_RE: Final = re.compile(IDENTIFIER)
SHA256_DIGEST_RE: Final = re.compile(r"sha256:[a-f0-9]{64}")
"""The one digest the stack runs at: what registries answer (``getRegistryImage``) and the
``imageDigests`` record holds. go-digest (v1.0.0, algorithm.go) requires lower-case hex for it."""

REPOSITORY_PATH_MAX: Final = 255
"""``RepositoryNameTotalLengthMax`` (reference.go): the path, without the domain."""
DEFAULT_DOMAIN: Final = "docker.io"
LEGACY_DEFAULT_DOMAIN: Final = "index.docker.io"
OFFICIAL_REPO_PREFIX: Final = "library/"

GRAMMAR_HELP: Final = (
    "[registry[:port]/]path[:tag][@sha256:<64 hex digits>], the path in lower-case letters, digits and "
    "single separators (. _ __ -) between slashes, e.g. nginx:1.30, ghcr.io/owner/app:2.4.1 or "
    "registry.example.com:5000/team/app@sha256:<digest>"
)


@dataclass(frozen=True)
class ImageReference:
    """A parsed, normalised reference: ``nginx:1.30`` is domain ``docker.io``, path ``library/nginx``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The fully qualified name (``docker.io/library/nginx``)."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker shows it (normalize.go ``familiarizeName``): ``nginx``, ``owner/app``,
        ``ghcr.io/owner/app``. The stack names its pulls this way, so one image written two ways
        (``nginx:1.30``, ``docker.io/library/nginx:1.30``) is one pull and one recorded digest."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            rest = self.path.removeprefix(OFFICIAL_REPO_PREFIX)
            if "/" not in rest:
                return rest
        return self.path

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.familiar_name}{tag}{digest}"


def split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go ``splitDockerDomain``: the registry and the path a name means."""
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


class ImageReferenceError(ValueError):
    """An image reference Docker would refuse, or one the stack cannot pin."""


def parse_image_reference(text: str) -> ImageReference:
    """``text`` parsed as ``docker pull`` reads it (reference.ParseNormalizedNamed), or ImageReferenceError.

    Beyond the grammar: a digest must be ``sha256:<64 lower-case hex>``; go-digest refuses other
    lengths and unregistered algorithms, and the stack records sha256 digests only.
    """
    if not text:
        raise ImageReferenceError("is empty; write an image reference: " + GRAMMAR_HELP)
    if IDENTIFIER_RE.fullmatch(text):
        # normalize.go ParseNormalizedNamed: a bare 64-hex string is an image id, not a name.
        raise ImageReferenceError(
            f"{text!r} is a 64-digit hexadecimal image id, which Docker refuses as a repository name; "
            "write a name with a tag or a digest: " + GRAMMAR_HELP
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        # normalize.go ParseNormalizedNamed: "repository name (%s) must be lowercase".
        raise ImageReferenceError(
            f"{text!r}: the repository name must be lower case (Docker's reference grammar allows capitals "
            "only in the registry's host name and in the tag); write it in lower case"
        )
    match = REFERENCE_RE.fullmatch(f"{domain}/{remainder}")
    if match is None:
        raise ImageReferenceError(f"{text!r} is not an image reference Docker accepts; write " + GRAMMAR_HELP)
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    path = name.removeprefix(f"{domain}/")
    if len(path) > REPOSITORY_PATH_MAX:
        raise ImageReferenceError(
            f"{text[:60]!r}...: the repository path has {len(path)} characters; "
            f"Docker allows at most {REPOSITORY_PATH_MAX}"
        )
    if digest is not None and not SHA256_DIGEST_RE.fullmatch(digest):
        raise ImageReferenceError(
            f"{text!r}: the digest must be sha256: followed by 64 lower-case hexadecimal digits, as registries "
            "report it (`docker buildx imagetools inspect <image>` prints it)"
        )
    return ImageReference(domain=domain, path=path, tag=tag, digest=digest)
