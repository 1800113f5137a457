"""The ``container`` kind (components/apps/container): settings, spec, and the image grammar it rests on.

Tier 1 throughout (plain data, no mocks), except the digest pass-through of DigestPins, which
runs the real transformation under the project's mocks (tests/mockstack.py).

Messages are checked as the config loader prints them: each pydantic error goes through
config/loading.py's own ``_describe``, with the container kind added to its tables the way the
registry will add it, so the paths here (``selfhost:apps.tool.image: ...``) are the real ones.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_docker as docker
import pytest
from pydantic import SecretStr

from components.apps.container import KIND
from components.apps.container.settings import ContainerApp
from components.apps.container.spec import spec
from components.apps.spec import ConfigSecret, SecretFile, Site, Volume, VolumeMount
from components.core import images
from components.core.image_reference import ImageReferenceError, parse_image_reference
from components.edge.nginx.config import render_nginx_config
from config import loading
from tests import mockstack
from tests.container_bad_inputs import BAD, SECRET, app

DIGEST = "sha256:" + "f" * 64
OTHER_DIGEST = "sha256:" + "0123456789abcdef" * 4
SITE = Site(
    app="tool",
    hostname="tool.localhost",
    public_url="http://tool.localhost:8080",
    scheme="http",
    public_host="tool.localhost:8080",
    trusted_proxies="172.30.0.0/24",
)


# --- the loader's formatting ---------------------------------------------------------------------


def settings(**options: Any) -> ContainerApp:
    result = loading.parse_settings({"apps": {"tool": app(**options)}}).apps["tool"]
    assert isinstance(result, ContainerApp)
    return result


def config_errors(**options: Any) -> list[str]:
    """The loader's lines for app ``tool`` with ``options``; [] when it is valid."""
    try:
        loading.parse_settings({"apps": {"tool": app(**options)}})
    except loading.ConfigError as error:
        return sorted(line.strip() for line in str(error).splitlines()[1:])
    return []


# --- the image grammar: cases from distribution/reference's own tests ------------------------------
# github.com/distribution/reference @ 0965666a6ade2e06035fe352e38344be1e68951a: reference_test.go
# TestReferenceParse (inputs, repositories, tags, digests), normalize_test.go TestValidateReferenceName,
# TestValidateRemoteName and TestParseRepositoryInfo. Copied as data; the expected domain and path
# are those of ParseNormalizedNamed (``docker pull``), which puts a first element without '.' or ':'
# on Docker Hub, where TestReferenceParse's plain Parse would call it a domain.

FFFF = "sha256:" + "f" * 64
VALID = [
    # (input, fully qualified name, tag, digest)
    ("test_com", "docker.io/library/test_com", None, None),
    ("test.com:tag", "docker.io/library/test.com", "tag", None),
    ("test.com:5000", "docker.io/library/test.com", "5000", None),
    ("test.com/repo:tag", "test.com/repo", "tag", None),
    ("test:5000/repo", "test:5000/repo", None, None),
    ("test:5000/repo:tag", "test:5000/repo", "tag", None),
    (f"test:5000/repo@{FFFF}", "test:5000/repo", None, FFFF),
    (f"test:5000/repo:tag@{FFFF}", "test:5000/repo", "tag", FFFF),
    ("lowercase:Uppercase", "docker.io/library/lowercase", "Uppercase", None),
    ("a/" * 127 + "a:tag-puts-this-over-max", "docker.io/" + "a/" * 127 + "a", "tag-puts-this-over-max", None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com/bar/baz/quux", None, None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com/bar/baz/quux", "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io/test.example.com/my-app", "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", None),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@{FFFF}", "xn--7o8h.com/myimage", "xn--7o8h.com", FFFF),
    ("foo_bar.com:8080", "docker.io/library/foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com", "8080", None),
    ("192.168.1.1", "docker.io/library/192.168.1.1", None, None),
    ("192.168.1.1:5000", "docker.io/library/192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1/repo", None, None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]/repo", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo", "tag", None),
    (f"[2001:db8::1]:5000/repo:tag@{FFFF}", "[2001:db8::1]:5000/repo", "tag", FFFF),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo", None, None),
    ("[::1]:5000/repo", "[::1]:5000/repo", None, None),
    ("example.com/" + "a" * 255 + ":tag", "example.com/" + "a" * 255, "tag", None),
    # normalize_test.go TestValidateReferenceName / TestValidateRemoteName
    ("localhost/library/debian", "localhost/library/debian", None, None),
    ("LOCALDOMAIN/debian", "LOCALDOMAIN/debian", None, None),
    ("index.docker.io/docker/docker", "docker.io/docker/docker", None, None),
    ("index.docker.io/debian", "docker.io/library/debian", None, None),
    ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker", None, None),
    ("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000/library/debian", None, None),
    ("Docker/docker", "Docker/docker", None, None),
    ("docker---rules/docker", "docker.io/docker---rules/docker", None, None),
    ("dock__er/docker", "docker.io/dock__er/docker", None, None),
    (
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        None,
        None,
    ),
]
INVALID = [
    # (input, what the message says)
    ("", "is empty"),
    (":justtag", "is not an image reference"),
    (f"@{FFFF}", "is not an image reference"),
    ("repo@sha256:" + "f" * 34, "the digest must be sha256"),
    ("validname@invaliddigest:" + "f" * 64, "the digest must be sha256"),
    ("validname@sha512:" + "f" * 128, "the digest must be sha256"),
    ("Uppercase:tag", "must be lower case"),
    ("test:5000/Uppercase/lowercase:tag", "must be lower case"),
    ("docker/Docker", "must be lower case"),
    ("docker.io/docker/Docker", "must be lower case"),
    ("domain/" + "a" * 256 + ":tag", "Docker allows at most 255"),
    ("aa/asdf$$^/aa", "is not an image reference"),
    ("[2001:db8::1]", "is not an image reference"),
    ("[2001:db8::1]:5000", "is not an image reference"),
    ("[fe80::1%eth0]:5000/repo", "is not an image reference"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "is not an image reference"),
    ("https://github.com/docker/docker", "is not an image reference"),
    ("-docker", "is not an image reference"),
    ("docker-/docker", "is not an image reference"),
    ("docker///docker", "is not an image reference"),
    ("____/____", "is not an image reference"),
    ("dock..er/docker", "is not an image reference"),
    ("dock_.er/docker", "is not an image reference"),
    ("docker/", "is not an image reference"),
    ("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "64-digit hexadecimal image id"),
    # Beyond Go's table: the tag's 128-character limit, a trailing newline, an upper-case sha256 digest.
    ("repo:" + "t" * 129, "is not an image reference"),
    ("repo:1.0\n", "is not an image reference"),
    ("repo@sha256:" + "F" * 64, "the digest must be sha256"),
]
FAMILIAR = [
    # normalize_test.go TestParseRepositoryInfo: (input, familiar name)
    ("fooo/bar", "fooo/bar"),
    ("library/ubuntu", "ubuntu"),
    ("docker.io/library/ubuntu", "ubuntu"),
    ("index.docker.io/library/ubuntu", "ubuntu"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu"),
    ("other/library", "other/library"),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase"),
    ("example.com:8000/privatebase", "example.com:8000/privatebase"),
    ("localhost/fooo", "localhost/fooo"),
    ("ubuntu-12.04-base", "ubuntu-12.04-base"),
]


@pytest.mark.parametrize(("text", "name", "tag", "digest"), VALID, ids=[case[0][:60] for case in VALID])
def test_references_docker_accepts_parse_into_name_tag_and_digest(
    text: str, name: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_image_reference(text)
    assert (reference.name, reference.tag, reference.digest) == (name, tag, digest)


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[case[0][:60] or "empty" for case in INVALID])
def test_references_docker_refuses_are_refused_with_the_rule(text: str, why: str) -> None:
    with pytest.raises(ImageReferenceError, match=why):
        parse_image_reference(text)


@pytest.mark.parametrize(("text", "familiar"), FAMILIAR)
def test_docker_hub_names_are_normalised_to_their_familiar_form(text: str, familiar: str) -> None:
    assert parse_image_reference(text).familiar_name == familiar
    assert str(parse_image_reference(text + ":1.0")) == familiar + ":1.0"


# --- ImagePin and DigestPins: a digest in the reference passes through ----------------------------


def test_a_pin_with_a_digest_names_it_in_its_ref() -> None:
    assert images.ImagePin("ghcr.io/owner/tool", "2.4.1", DIGEST).ref == f"ghcr.io/owner/tool:2.4.1@{DIGEST}"
    assert images.ImagePin("ghcr.io/owner/tool", "", DIGEST).ref == f"ghcr.io/owner/tool@{DIGEST}"
    assert images.ImagePin("nginx", "1.30").ref == "nginx:1.30"


def test_digest_pins_look_up_tags_and_pass_references_with_a_digest_through_unrecorded() -> None:
    record: dict[str, Any] = {}

    def build() -> None:
        provider = docker.Provider("host-docker", host="unix:///run/docker.sock")
        pins = images.DigestPins(refresh="r1", recorded=pulumi.Output.from_input(None), provider=provider)
        opts = pulumi.ResourceOptions(providers=[provider], transformations=[pins.transformation])
        for name, ref in (("tagged", "nginx:1.30"), ("pinned", f"ghcr.io/owner/tool:2.4.1@{OTHER_DIGEST}")):
            images.pull(name, images.ImagePin(ref, ""), pulumi.ComponentResource("test:index:Holder", name, None, opts))
        pins.record().apply(record.update)

    run = mockstack.run_components(build)
    pulled = {r.name: r.inputs["name"] for r in run.of_type(images.REMOTE_IMAGE)}
    assert pulled == {
        "tagged-image": f"nginx:1.30@{mockstack.registry_digest('nginx:1.30')}",
        "pinned-image": f"ghcr.io/owner/tool:2.4.1@{OTHER_DIGEST}",
    }
    assert run.registry_lookups == ["nginx:1.30"]
    assert record == {"refresh": "r1", "digests": {"nginx:1.30": mockstack.registry_digest("nginx:1.30")}}


# --- settings: every option ----------------------------------------------------------------------


def test_the_minimum_takes_documented_defaults() -> None:
    tool = settings()
    assert tool.image == "ghcr.io/owner/tool:2.4.1"
    assert tool.image_pin == images.ImagePin("ghcr.io/owner/tool", "2.4.1")
    assert (tool.env, tool.secrets, tool.volumes) == ({}, {}, {})
    assert (tool.command, tool.entrypoint, tool.user, tool.websocket) == (None, None, None, False)
    assert (tool.memory.app, tool.reserved.app) == (256 * 1024**2, 64 * 1024**2)
    assert (tool.body_limit, tool.proxy_read_timeout) == (16 * 1024**2, 60)


def test_every_option_is_read() -> None:
    tool = settings(
        image=f"docker.io/library/nginx:1.30@{DIGEST}",
        port=80,
        healthcheck={"command": ["CMD", "true"], "interval": "1m", "timeout": "5s", "retries": 3, "startPeriod": "2m"},
        env={"LOG_LEVEL": "debug", "lower_case_too": "1"},
        secrets={"API_TOKEN": SECRET},
        volumes={"data": "/var/lib/tool", "cache": "/var/cache/tool"},
        command=["serve", "--port", "80"],
        entrypoint=["/usr/bin/tool"],
        user="1000:1000",
        websocket=True,
        readTimeout="2h",
        bodyLimit="1Gi",
        memory={"app": "1Gi"},
        memoryReservation={"app": "512Mi"},
    )
    assert tool.image == f"nginx:1.30@{DIGEST}", "normalised to the familiar name, digest kept"
    assert tool.image_pin == images.ImagePin("nginx", "1.30", DIGEST)
    assert tool.healthcheck.command == ["CMD", "true"] and tool.healthcheck.retries == 3
    assert tool.secrets["API_TOKEN"].get_secret_value() == SECRET
    assert tool.volumes == {"data": "/var/lib/tool", "cache": "/var/cache/tool"}
    assert (tool.uid, tool.proxy_read_timeout, tool.body_limit) == (1000, 7200, 1024**3)
    assert (tool.memory.app, tool.reserved.app) == (1024**3, 512 * 1024**2)


@pytest.mark.parametrize(
    "image",
    [
        f"nginx:latest@{DIGEST}",
        f"nginx@{DIGEST}",
        "nginx:1.30",
        "nginx:1.30-alpine",
        "registry.example.com:5000/team/app:v2",
        "localhost/tool:20260101",
    ],
)
def test_a_version_tag_or_a_digest_is_accepted(image: str) -> None:
    assert config_errors(image=image) == []


def test_websocket_lengthens_the_default_read_timeout_only() -> None:
    assert settings(websocket=True).proxy_read_timeout == 3600
    assert settings(websocket=True, readTimeout="90s").proxy_read_timeout == 90


def test_an_unset_reservation_never_exceeds_a_lowered_limit() -> None:
    assert settings(memory={"app": "48Mi"}).reserved.app == 48 * 1024**2


# --- settings: every bad input, as the loader prints it --------------------------------------------


@pytest.mark.parametrize(("options", "key", "says"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_names_the_key_and_what_is_allowed(options: dict[str, Any], key: str, says: str) -> None:
    errors = config_errors(**options)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"selfhost:apps.tool.{key}: "), errors[0]
    assert says in errors[0], errors[0]
    assert SECRET not in errors[0]


def test_every_option_has_a_bad_input() -> None:
    covered = {next(iter(options)) for _, options, _, _ in BAD if options}
    keys = set(loading.config_keys(ContainerApp)) - {"kind"}
    assert keys <= covered, f"no bad input for {sorted(keys - covered)}"


# --- secrets in config ---------------------------------------------------------------------------


def load(apps: dict[str, Any], apps_is_secret: bool) -> list[str]:
    """The loader's problems for ``selfhost:apps`` as the CLI hands it, secret or not; [] when it loads."""
    config = {"selfhost:apps": json.dumps(apps)}
    try:
        loading.settings_from_config(config, frozenset(config) if apps_is_secret else frozenset())
    except loading.ConfigError as error:
        return [line.strip() for line in str(error).splitlines()[1:]]
    return []


def raw_apps(**tool: Any) -> dict[str, Any]:
    return {"blog": {"kind": "wordpress", "hostname": "blog.localhost"}, "tool": app(**tool)}


def test_secrets_in_a_plain_apps_object_are_refused_with_the_command_that_sets_them() -> None:
    problems = load(raw_apps(secrets={"API_TOKEN": SECRET, "DB_PASSWORD": SECRET}), apps_is_secret=False)
    assert problems == [
        f"selfhost:apps.tool.secrets.{name}: is in plain text in the stack file (a committed file shows it); set it "
        f"with `pulumi config set --secret --path 'apps.tool.secrets.{name}' <value>`"
        for name in ("API_TOKEN", "DB_PASSWORD")
    ]
    assert not any(SECRET in problem for problem in problems)


def test_an_apps_object_holding_a_secure_value_loads_and_one_holding_none_may_not_be_secret() -> None:
    assert load(raw_apps(secrets={"API_TOKEN": SECRET}), apps_is_secret=True) == []
    assert load(raw_apps(), apps_is_secret=False) == []
    (problem,) = load(raw_apps(), apps_is_secret=True)
    assert problem.startswith("selfhost:apps: is set as a secret, but the program uses it in plain text")
    assert "it holds no secret value" in problem


# --- the spec: plain data ------------------------------------------------------------------------


def test_secrets_reach_the_container_as_files_and_env_holds_only_their_paths() -> None:
    tool = settings(env={"LOG_LEVEL": "info"}, secrets={"API_TOKEN": SECRET, "Smtp_Pass": SECRET}, user="1000")
    (service,) = spec("tool", tool, SITE).services
    assert dict(service.env) == {
        "API_TOKEN_FILE": "/run/secrets/api_token",
        "LOG_LEVEL": "info",
        "Smtp_Pass_FILE": "/run/secrets/smtp_pass",
    }
    assert list(service.env) == sorted(service.env), "sorted: a stable diff"
    assert SECRET not in repr(service.env) and SECRET not in repr(service)
    assert service.files == (
        SecretFile(
            path="/run/secrets/api_token",
            source=ConfigSecret(value=tool.secrets["API_TOKEN"], key="apps.tool.secrets.API_TOKEN"),
            owner=1000,
        ),
        SecretFile(
            path="/run/secrets/smtp_pass",
            source=ConfigSecret(value=tool.secrets["Smtp_Pass"], key="apps.tool.secrets.Smtp_Pass"),
            owner=1000,
        ),
    )
    source = service.files[0].source
    assert isinstance(source, ConfigSecret) and isinstance(source.value, SecretStr)
    assert source.value.get_secret_value() == SECRET


@pytest.mark.parametrize(("user", "owner"), [(None, 0), ("0", 0), ("1000", 1000), ("1000:1000", 1000)])
def test_a_secret_file_belongs_to_the_uid_the_container_runs_as(user: str | None, owner: int) -> None:
    (service,) = spec("tool", settings(secrets={"TOKEN": SECRET}, user=user), SITE).services
    assert [file.owner for file in service.files] == [owner]
    assert service.user == user


def test_one_routed_service_on_the_edge_only_with_its_volumes_mounted() -> None:
    tool = settings(volumes={"data": "/var/lib/tool", "cache": "/var/cache/tool"}, memory={"app": "512Mi"})
    app_spec = spec("tool", tool, SITE)
    (service,) = app_spec.services
    assert (app_spec.kind, service.role, service.edge, service.backend) == ("container", "app", "routed", False)
    assert app_spec.backing == () and app_spec.secrets == () and app_spec.upgrade_guard is None
    assert app_spec.volumes == (
        Volume(role="cache", holds="what the container keeps at /var/cache/tool"),
        Volume(role="data", holds="what the container keeps at /var/lib/tool"),
    )
    assert service.mounts == (VolumeMount("cache", "/var/cache/tool"), VolumeMount("data", "/var/lib/tool"))
    assert (service.memory, service.memory_reservation) == (512 * 1024**2, 64 * 1024**2)
    assert service.image == images.ImagePin("ghcr.io/owner/tool", "2.4.1")
    assert not hasattr(service, "ports"), "a spec cannot publish a port"


def test_the_route_reaches_the_container_on_its_port_by_host_name() -> None:
    route = spec("tool", settings(port=3000, websocket=True, bodyLimit="100Mi"), SITE).route
    assert (route.app, route.kind, route.server_name) == ("tool", "container", "tool.localhost")
    assert (route.upstream_host, route.upstream_port) == ("app-tool", 3000)
    assert (route.websocket, route.read_timeout_seconds, route.max_body_bytes) == (True, 3600, 100 * 1024**2)
    assert (route.request_buffering, route.dav_redirects, route.login_paths) == (True, False, ())


def test_an_http_healthcheck_runs_curl_on_the_containers_own_port() -> None:
    (service,) = spec("tool", settings(port=8080, healthcheck={"path": "/health?full=1"}), SITE).services
    assert tuple(service.healthcheck.test) == (
        "CMD",
        "curl",
        "--fail",
        "--silent",
        "--show-error",
        "--output",
        "/dev/null",
        "http://localhost:8080/health?full=1",
    )
    assert service.wait_timeout_seconds == 60 + 5 * (30 + 10)


def test_a_command_healthcheck_its_timings_and_the_wait_for_it_are_taken_as_given() -> None:
    check = {"command": ["CMD-SHELL", "pg_isready || exit 1"], "interval": "5s", "timeout": "2s", "retries": 2}
    (service,) = spec("tool", settings(healthcheck={**check, "startPeriod": "10s"}), SITE).services
    assert tuple(service.healthcheck.test) == ("CMD-SHELL", "pg_isready || exit 1")
    assert (service.healthcheck.interval, service.healthcheck.timeout, service.healthcheck.retries) == ("5s", "2s", 2)
    assert service.wait_timeout_seconds == 120, "never below the App's default wait"
    (slow,) = spec("tool", settings(healthcheck={**check, "startPeriod": "10m"}), SITE).services
    assert slow.wait_timeout_seconds == 600 + 2 * 7


def test_command_entrypoint_user_and_a_digest_image_pass_into_the_service() -> None:
    tool = settings(image=f"tool@{DIGEST}", command=["serve"], entrypoint=["/bin/tool", "--"], user="node")
    (service,) = spec("tool", tool, SITE).services
    assert (service.command, service.entrypoint, service.user) == (("serve",), ("/bin/tool", "--"), "node")
    assert service.image.ref == f"tool@{DIGEST}"


def test_the_spec_is_a_pure_function_of_the_settings() -> None:
    first = settings(env={"B": "2", "A": "1"}, secrets={"Y": SECRET, "X": SECRET}, volumes={"b": "/b", "a": "/a"})
    second = settings(env={"A": "1", "B": "2"}, secrets={"X": SECRET, "Y": SECRET}, volumes={"a": "/a", "b": "/b"})
    assert spec("tool", first, SITE) == spec("tool", second, SITE)


def test_the_kind_registers_its_model_spec_and_a_valid_example() -> None:
    assert (KIND.name, KIND.settings, KIND.spec) == ("container", ContainerApp, spec)
    example = ContainerApp.model_validate(KIND.example, by_alias=True, by_name=False)
    assert spec("tool", example, SITE).route.upstream_port == 80


def test_the_proxy_renders_the_route_to_the_containers_port_with_its_limits() -> None:
    """The edge's real renderer (components/edge/nginx) takes the route as it is."""
    route = spec("tool", settings(port=3000, websocket=True, bodyLimit="100Mi"), SITE).route
    rendered = render_nginx_config([route])
    assert "server app-tool:3000 resolve" in rendered
    assert "client_max_body_size 100m;" in rendered and "proxy_read_timeout 3600s;" in rendered


def _stack_file(secrets: dict[str, object], title: object = "Blog") -> dict[str, object]:
    """A stack file's document as yaml.safe_load gives it: encrypted values are {secure: ...}."""
    return {
        "config": {
            "selfhost:apps": {
                "blog": {"kind": "wordpress", "hostname": "blog.localhost", "title": title},
                "tool": {**app(), "secrets": secrets},
            }
        }
    }


def test_a_plain_secret_beside_an_encrypted_one_in_the_stack_file_is_refused() -> None:
    settings = loading.parse_settings({"apps": raw_apps(secrets={"API_TOKEN": SECRET, "SMTP": SECRET})})
    document = _stack_file({"API_TOKEN": {"secure": "v1:abc"}, "SMTP": SECRET})
    problems = loading.stack_file_secret_problems(document, settings, "Pulumi.dev.yaml")
    assert problems == [
        "selfhost:apps.tool.secrets.SMTP: is in plain text in Pulumi.dev.yaml (a committed file shows it); set it "
        "with `pulumi config set --secret --path 'apps.tool.secrets.SMTP' <value>`"
    ]
    assert not any(SECRET in problem for problem in problems)
    both = _stack_file({"API_TOKEN": {"secure": "v1:abc"}, "SMTP": {"secure": "v1:def"}})
    assert loading.stack_file_secret_problems(both, settings, "Pulumi.dev.yaml") == []


def test_an_encrypted_value_the_program_uses_in_plain_text_is_refused() -> None:
    settings = loading.parse_settings({"apps": raw_apps(secrets={"API_TOKEN": SECRET})})
    document = _stack_file({"API_TOKEN": {"secure": "v1:abc"}}, title={"secure": "v1:xyz"})
    (problem,) = loading.stack_file_secret_problems(document, settings, "Pulumi.dev.yaml")
    assert problem.startswith("selfhost:apps.blog.title: is encrypted in Pulumi.dev.yaml, but the program uses it")


def test_values_the_stack_file_does_not_hold_are_not_judged() -> None:
    settings = loading.parse_settings({"apps": raw_apps(secrets={"API_TOKEN": SECRET})})
    assert loading.stack_file_secret_problems({"config": {}}, settings, "Pulumi.dev.yaml") == []
    assert loading.stack_file_secret_problems(None, settings, "Pulumi.dev.yaml") == []
