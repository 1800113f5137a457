"""Tier 2: the Proxy component under Pulumi's mocks: what it registers and sends.

Mocks prove the program's side: names, parents, ports, uploads (and their secret
markers), the ACME state volume's options. Not that Docker or the image behave.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.apps.nextcloud.settings import NextcloudApp
from components.apps.registry import proxy_routes
from components.apps.wordpress.settings import WordPressApp
from components.edge.nginx.config import PublicPorts, TlsSettings, render_nginx_config
from components.edge.proxy import ProxyArgs, check_proxy_args, published_ports
from config.settings import StackSettings
from stack import app_specs
from tests.mockstack import ProgramRun, Registration, run_program, walk

ROUTES = proxy_routes(
    app_specs(
        StackSettings(
            apps={
                "blog": WordPressApp(kind="wordpress", hostname="blog.localhost"),
                "cloud": NextcloudApp(kind="nextcloud", hostname="cloud.localhost"),
            }
        )
    )
)

PROGRAM = """
import pulumi
from components.apps.registry import proxy_routes
from config.settings import StackSettings
from stack import app_specs
from components.edge.proxy import Proxy, ProxyArgs
from components.core.volumes import StatePolicy
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.wordpress.settings import WordPressApp

routes = proxy_routes(app_specs(StackSettings(apps={{
    "blog": WordPressApp(kind="wordpress", hostname="blog.localhost"),
    "cloud": NextcloudApp(kind="nextcloud", hostname="cloud.localhost"),
}})))
proxy = Proxy("proxy", ProxyArgs(
    routes=routes,
    edge_network="selfhost-dev-edge",
    container_name="selfhost-dev-proxy",
    memory_bytes=128 * 1024**2,
    tls={tls!r},
    acme_email="ops@example.com",
    certificate=pulumi.Output.secret("CERT") if {tls!r} == "provided" else None,
    private_key=pulumi.Output.secret("KEY") if {tls!r} == "provided" else None,
    state=StatePolicy(protect=True),
    acme_volume_name="selfhost-dev-proxy-acme",
))
pulumi.export("sha", proxy.config_sha256)
pulumi.export("https_port", proxy.https_port)
"""


def run(tls: str, tmp_path: Path) -> ProgramRun:
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(PROGRAM.format(tls=tls)))
    return run_program({}, program=program, with_project_defaults=False)


def container(result: ProgramRun) -> Registration:
    return result.named("proxy-container")


def uploads(result: ProgramRun) -> dict[str, dict[str, Any]]:
    return {upload["file"]: upload for upload in container(result).inputs["uploads"]}


@pytest.mark.parametrize("tls", ["off", "provided", "letsencrypt"])
def test_children_are_named_and_parented(tls: str, tmp_path: Path) -> None:
    result = run(tls, tmp_path)
    component = result.named("proxy")
    assert component.type == "selfhost:index:Proxy"
    children = {r.name: r.type for r in result.children_of(component)}
    expected = {
        "proxy-image": "docker:index/remoteImage:RemoteImage",
        "proxy-container": "docker:index/container:Container",
    }
    if tls == "letsencrypt":
        expected["proxy-acme-state"] = "docker:index/volume:Volume"
    assert children == expected
    assert result.named("proxy-image").inputs["name"] == "nginx:1.30"


@pytest.mark.parametrize(
    ("tls", "ports"),
    [("off", [(80, 8080)]), ("provided", [(80, 8080), (443, 8443)]), ("letsencrypt", [(80, 8080), (443, 8443)])],
)
def test_publishes_http_and_https_only_when_tls_is_on(tls: str, ports: list[tuple[int, int]], tmp_path: Path) -> None:
    published = container(run(tls, tmp_path)).inputs["ports"]
    # Each port on IPv4 and IPv6, IPv4 first: the order Docker reports them back in.
    expected = [(internal, external, ip) for internal, external in ports for ip in ("0.0.0.0", "::")]
    assert [(int(p["internal"]), int(p["external"]), p["ip"]) for p in published] == expected
    assert {p["protocol"] for p in published} == {"tcp"}


def test_publishes_ipv4_only_when_told_the_engine_cannot_bind_ipv6() -> None:
    """With userland-proxy: false Docker drops the :: binding: sending it would diff on every run."""
    both = ProxyArgs(routes=[], edge_network="edge", container_name="p", memory_bytes=128 * 1024**2)
    ipv4 = ProxyArgs(routes=[], edge_network="edge", container_name="p", memory_bytes=128 * 1024**2, publish_ipv6=False)
    assert [p.ip for p in published_ports(both)] == ["0.0.0.0", "::"]
    assert [(p.internal, p.external, p.ip) for p in published_ports(ipv4)] == [(80, 8080, "0.0.0.0")]


def test_uploads_the_rendered_config(tmp_path: Path) -> None:
    result = run("off", tmp_path)
    expected = render_nginx_config(ROUTES, TlsSettings(), PublicPorts(8080, 8443))
    assert uploads(result)["/etc/nginx/nginx.conf"]["content"] == expected
    assert list(uploads(result)) == ["/etc/nginx/nginx.conf"]


def test_provided_certificate_and_key_are_secret_files(tmp_path: Path) -> None:
    result = run("provided", tmp_path)
    files = uploads(result)
    assert files["/etc/nginx/tls/fullchain.pem"]["content"] == "CERT"
    assert files["/etc/nginx/tls/privkey.pem"]["content"] == "KEY"
    assert files["/etc/nginx/tls/privkey.pem"]["permissions"] == "0400"
    secret_paths = {path for path, value, secret in walk(container(result).raw_inputs) if value in ("CERT", "KEY")}
    assert secret_paths and all(
        secret for path, value, secret in walk(container(result).raw_inputs) if path in secret_paths
    )
    assert "CERT" not in files["/etc/nginx/nginx.conf"]["content"]


def test_letsencrypt_state_lives_on_a_retained_volume(tmp_path: Path) -> None:
    result = run("letsencrypt", tmp_path)
    volume = result.named("proxy-acme-state")
    assert volume.inputs["name"] == "selfhost-dev-proxy-acme"
    assert volume.retain_on_delete and volume.protect
    mounts = container(result).inputs["volumes"]
    assert [(m["volumeName"], m["containerPath"]) for m in mounts] == [
        ("selfhost-dev-proxy-acme", "/var/cache/nginx/acme")
    ]
    assert "state_path /var/cache/nginx/acme/letsencrypt;" in uploads(result)["/etc/nginx/nginx.conf"]["content"]


def test_container_is_healthchecked_on_the_health_endpoint(tmp_path: Path) -> None:
    inputs = container(run("off", tmp_path)).inputs
    assert inputs["healthcheck"]["tests"] == ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/healthz"]
    assert inputs["wait"] is True
    assert inputs["name"] == "selfhost-dev-proxy"
    assert [n["name"] for n in inputs["networksAdvanced"]] == ["selfhost-dev-edge"]


def test_outputs(tmp_path: Path) -> None:
    result = run("off", tmp_path)
    assert len(result.outputs["sha"]) == 64
    assert result.outputs.get("https_port") is None


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"tls": "provided"}, "selfhost:tlsCertificate, selfhost:tlsKey"),
        ({"tls": "letsencrypt", "acme_email": "a@example.com"}, "selfhost:tls"),
        ({"tls": "provided", "certificate": "C", "private_key": "K", "https_port": 8080}, "selfhost:httpsPort"),
    ],
)
def test_bad_args_name_the_config_key(change: dict[str, Any], key: str) -> None:
    args = ProxyArgs(routes=ROUTES, edge_network="edge", container_name="proxy", memory_bytes=128 * 1024**2)
    bad = ProxyArgs(**{**args.__dict__, **change})
    with pytest.raises(pulumi.RunError, match=f"^{key}"):
        check_proxy_args(bad)
