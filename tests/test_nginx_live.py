"""Tier 3: the production nginx.conf run by a real nginx 1.30 against stub apps and a stub DNS.

nginx 1.30 comes from Debian unstable (tests/sidroot.py) and runs in a network namespace of
its own, with a stub of Docker's DNS on 127.0.0.11 and stub apps on addresses of an edge
subnet (tests/nginx_harness.py). Routes come from the real WordPress and Nextcloud route
functions, upstreams are the real ``app-<name>:80`` aliases, and the config is production's:
``server … resolve`` with keepalive, ``http2 on;``, user ``nginx``; only listen addresses
and file paths differ (a test checks that nothing else does). With tls=letsencrypt the ACME
module's lines are swapped for a static certificate (Debian has no ACME module); the
rendering tests pin those lines.

Proven here: host routing, forwarded headers, refusal of unknown names (plain and TLS, with
SNI), well-known redirects, body limits and streaming, login rate limits, TLS and HTTP/2
over ALPN, HSTS and security headers, gzip, static cache headers, upstream keep-alive,
start while an app does not resolve, re-resolution after an app container is recreated,
and host names of the longest legal length. Routes shaped like the other kinds (a static
site's nginx, a plain container, Rocket.Chat) run against their own stubs: gzip and cache
validators passed through, WebSocket upgrades carried to a stub RFC 6455 app (plain and
over TLS), idle tunnels kept for the route's read timeout and closed after it. Not
involved: Docker, the official image, the ACME module itself.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import json
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from components.apps.nextcloud import spec as nextcloud
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.wordpress import spec as wordpress
from components.apps.wordpress.settings import WordPressApp, WordPressMicrocache
from components.edge.nginx.config import (
    LOGIN_BURST,
    PRODUCTION,
    PublicPorts,
    TlsSettings,
    acme_issuer_name,
    render_nginx_config,
)
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from tests import nginx_harness
from tests.dns_stub import DnsStub
from tests.nginx_harness import (
    DNS_ADDRESS,
    HTTP_PORT,
    HTTPS_PORT,
    LISTEN_ADDRESS,
    NetNamespace,
    NginxProcess,
    StubBackend,
    WebSocketClient,
    WebSocketStub,
    Workdir,
    get,
    get_at_rate,
    self_signed_certificate,
    swap_acme_for_static_certificate,
    websocket_accept,
)

REASON = nginx_harness.skip_reason()
pytestmark = [pytest.mark.live, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

BLOG, CLOUD = "blog.test", "cloud.test"
PUBLIC = PublicPorts(8080, 8443)
"""The dev stack's published ports: Docker maps them to the container's 80/443."""
WORDPRESS_LIMIT = wordpress.route("blog", WordPressApp(kind="wordpress", hostname=BLOG)).max_body_bytes
LETSENCRYPT = TlsSettings(mode="letsencrypt", acme_email="ops@example.com")


@pytest.fixture(scope="module")
def root() -> Path:
    return nginx_harness.nginx_root()


def app_routes(blog_host: str = BLOG, cloud_host: str = CLOUD, microcache: bool = False) -> list[ProxyRoute]:
    """The blog's microcache is off unless asked for: these tests count what reaches the stubs
    request by request (tests/test_microcache_live.py tests the cache)."""
    blog = WordPressApp(
        # An explicit e-mail: admin@<a 253-character name> is longer than WordPress's 100-character column.
        kind="wordpress",
        hostname=blog_host,
        admin_email="admin@example.com",
        microcache=WordPressMicrocache(enabled=microcache),
    )
    return [
        wordpress.route("blog", blog),
        nextcloud.route("cloud", NextcloudApp(kind="nextcloud", hostname=cloud_host)),
    ]


@dataclass
class Edge:
    root: Path
    ns: NetNamespace
    dns: DnsStub
    workdir: Workdir
    blog: StubBackend
    cloud: StubBackend
    nginx: NginxProcess
    routes: list[ProxyRoute]
    ca_file: str | None = None
    """The test certificate, as a path inside the root (curl runs there)."""


def wait_resolved(dns: DnsStub, names: list[str]) -> None:
    """nginx resolves ``resolve`` names right after its workers start; until then: 502."""
    for name in names:
        dns.next_answer(name, 0.0, timeout=10)
    time.sleep(0.2)


@contextmanager
def running_edge(root: Path, tls: TlsSettings, hosts: tuple[str, str] = (BLOG, CLOUD)) -> Iterator[Edge]:
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        try:
            blog_address, cloud_address = ns.add_address(), ns.add_address()
            with StubBackend("blog", ns, blog_address) as blog, StubBackend("cloud", ns, cloud_address) as cloud:
                routes = app_routes(*hosts)
                dns.records.update({routes[0].upstream_host: blog_address, routes[1].upstream_host: cloud_address})
                config = render_nginx_config(routes, tls, PUBLIC, workdir.runtime())
                ca_file = None
                if tls.enabled:
                    certificate, key = self_signed_certificate(workdir.host / "tls", list(hosts))
                    ca_file = str(workdir.inside / "tls" / "fullchain.pem")
                    if tls.mode == "letsencrypt":
                        config = swap_acme_for_static_certificate(
                            config, acme_issuer_name(tls), certificate.read_text(), key.read_text()
                        )
                ports = (HTTP_PORT, HTTPS_PORT) if tls.enabled else (HTTP_PORT,)
                with NginxProcess(ns, workdir, config, ports) as nginx:
                    wait_resolved(dns, [route.upstream_host for route in routes])
                    yield Edge(root, ns, dns, workdir, blog, cloud, nginx, routes, ca_file)
        finally:
            workdir.remove()


@pytest.fixture(scope="module")
def plain(root: Path) -> Iterator[Edge]:
    with running_edge(root, TlsSettings(mode="off")) as edge:
        yield edge


@pytest.fixture(scope="module")
def tls(root: Path) -> Iterator[Edge]:
    with running_edge(root, TlsSettings(mode="provided")) as edge:
        yield edge


@pytest.fixture(scope="module")
def letsencrypt(root: Path) -> Iterator[Edge]:
    with running_edge(root, LETSENCRYPT) as edge:
        yield edge


SITE, TOOL, CHAT, PULSE = "site.test", "tool.test", "chat.test", "pulse.test"
IDLE_LIMIT = 2
"""Seconds: the read timeout of ``pulse``, a WebSocket container, short enough to watch expire."""


def kind_routes() -> list[ProxyRoute]:
    """Routes as the static, container and rocketchat kinds shape them (their specs are not
    this module's business: only the fields the edge reads)."""
    return [
        # A static site: its own nginx compresses and sets cache headers; the edge only proxies.
        ProxyRoute(
            app="site", kind="static", server_name=SITE, upstream_host="app-site", upstream_port=80,
            max_body_bytes=1024**2, read_timeout_seconds=60, request_buffering=True,
        ),
        # Any image on a port of its own, without WebSocket (though the image could speak it).
        ProxyRoute(
            app="tool", kind="container", server_name=TOOL, upstream_host="app-tool", upstream_port=8080,
            max_body_bytes=8 * 1024**2, read_timeout_seconds=60, request_buffering=True,
        ),
        # Rocket.Chat: WebSocket with a long idle limit.
        ProxyRoute(
            app="chat", kind="rocketchat", server_name=CHAT, upstream_host="app-chat", upstream_port=3000,
            max_body_bytes=100 * 1024**2 + UPLOAD_ENVELOPE_BYTES, read_timeout_seconds=3600,
            request_buffering=True, websocket=True,
        ),
        # A WebSocket container whose idle limit a test can outwait.
        ProxyRoute(
            app="pulse", kind="container", server_name=PULSE, upstream_host="app-pulse", upstream_port=3000,
            max_body_bytes=1024**2, read_timeout_seconds=IDLE_LIMIT, request_buffering=True, websocket=True,
        ),
    ]  # fmt: skip


@dataclass
class KindsEdge:
    root: Path
    ns: NetNamespace
    workdir: Workdir
    nginx: NginxProcess
    routes: list[ProxyRoute]
    site: StubBackend
    tool: WebSocketStub
    chat: WebSocketStub
    pulse: WebSocketStub
    ca_file: str | None = None
    certificate: Path | None = None
    """The test certificate on this machine's side (Python's TLS client reads it)."""


@contextmanager
def running_kinds_edge(root: Path, tls: TlsSettings) -> Iterator[KindsEdge]:
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        try:
            routes = kind_routes()
            addresses = {route.app: ns.add_address() for route in routes}
            dns.records.update({route.upstream_host: addresses[route.app] for route in routes})
            port = {route.app: route.upstream_port for route in routes}
            with (
                StubBackend("site", ns, addresses["site"], port["site"]) as site,
                WebSocketStub("tool", ns, addresses["tool"], port["tool"]) as tool,
                WebSocketStub("chat", ns, addresses["chat"], port["chat"]) as chat,
                WebSocketStub("pulse", ns, addresses["pulse"], port["pulse"]) as pulse,
            ):
                config = render_nginx_config(routes, tls, PUBLIC, workdir.runtime())
                ca_file, certificate = None, None
                if tls.enabled:
                    certificate, _ = self_signed_certificate(workdir.host / "tls", [r.server_name for r in routes])
                    ca_file = str(workdir.inside / "tls" / "fullchain.pem")
                ports = (HTTP_PORT, HTTPS_PORT) if tls.enabled else (HTTP_PORT,)
                with NginxProcess(ns, workdir, config, ports) as nginx:
                    wait_resolved(dns, [route.upstream_host for route in routes])
                    yield KindsEdge(root, ns, workdir, nginx, routes, site, tool, chat, pulse, ca_file, certificate)
        finally:
            workdir.remove()


@pytest.fixture(scope="module")
def kinds(root: Path) -> Iterator[KindsEdge]:
    with running_kinds_edge(root, TlsSettings(mode="off")) as edge:
        yield edge


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.body)
        return report


class _NamespacedConnection(http.client.HTTPConnection):
    def __init__(self, ns: NetNamespace, port: int) -> None:
        super().__init__(LISTEN_ADDRESS, port, timeout=10)
        self.ns = ns

    def connect(self) -> None:
        self.sock = self.ns.connect(self.host, self.port, timeout=10)


def request(
    edge: Edge | KindsEdge,
    host: str | None,
    path: str = "/",
    method: str = "GET",
    body: bytes | None = None,
    **headers: str,
) -> Reply:
    """HTTP/1.1 to nginx's port 80 inside the edge's namespace, with exactly these headers."""
    connection = _NamespacedConnection(edge.ns, HTTP_PORT)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            connection.putheader("Host", host)
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


@dataclass
class CurlReply(Reply):
    http_version: str = ""


def curl(edge: Edge | KindsEdge, url: str, *options: str) -> tuple[int, CurlReply | None]:
    """The root's curl 8 in the edge's namespace, every test name resolved to nginx."""
    names = {route.server_name for route in edge.routes} | {"unknown.test"}
    resolve = [arg for name in sorted(names) for arg in ("--resolve", f"{name}:{HTTPS_PORT}:{LISTEN_ADDRESS}")]
    ca = ["--cacert", edge.ca_file] if edge.ca_file else []
    name = uuid.uuid4().hex[:8]
    headers, body = edge.workdir.inside / f"curl-{name}.headers", edge.workdir.inside / f"curl-{name}.body"
    command = edge.ns.command(
        "chroot", str(edge.root), "curl", "-sS", "--max-time", "20", "-D", str(headers), "-o", str(body),
        "-w", "%{http_version}", *resolve, *ca, *options, url,
    )  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return result.returncode, None
    on_host = edge.root / headers.relative_to("/")
    blocks = [block for block in on_host.read_bytes().decode().split("\r\n\r\n") if block.strip()]
    status_line, *lines = blocks[-1].split("\r\n")
    parsed = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    content = (edge.root / body.relative_to("/")).read_bytes()
    return 0, CurlReply(int(status_line.split()[1]), parsed, content, http_version=result.stdout.strip())


def refused(edge: Edge, host: str | None) -> bool:
    """nginx's 444: the connection closes without any response."""
    try:
        request(edge, host)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return True
    return False


# --- the config is production's ----------------------------------------------------------

ADAPTED = (
    "listen",
    "pid",
    "error_log",
    "access_log",
    "ssl_certificate",
    "ssl_certificate_key",
    "worker_processes",
    "proxy_cache_path",
)
"""What the tests change: listen addresses and file paths (the microcache's too; and two workers on any machine)."""


@pytest.mark.parametrize("tls", [TlsSettings(), TlsSettings(mode="provided"), LETSENCRYPT], ids=lambda t: t.mode)
def test_only_addresses_and_paths_differ_from_production(tls: TlsSettings) -> None:
    runtime = nginx_harness.namespaced_runtime(PurePosixPath("/tmp/selfhost-nginx-x"))
    tested = render_nginx_config(app_routes(microcache=True), tls, PUBLIC, runtime)
    production = render_nginx_config(app_routes(microcache=True), tls, PUBLIC, PRODUCTION)
    tested_lines, production_lines = tested.splitlines(), production.splitlines()
    temp_paths = [line for line in tested_lines if "_temp_path " in line]
    assert len(temp_paths) == 5  # production keeps the image's compiled-in temp paths
    tested_lines = [line for line in tested_lines if line not in temp_paths]
    assert len(tested_lines) == len(production_lines)
    changed = [(a, b) for a, b in zip(tested_lines, production_lines, strict=True) if a != b]
    assert changed and all(a.split()[0] == b.split()[0] and a.split()[0] in ADAPTED for a, b in changed)
    assert "user nginx;" in tested_lines
    assert "        server app-blog:80 resolve max_fails=1 fail_timeout=2s;" in tested_lines


def test_workers_run_as_the_images_nginx_user(plain: Edge) -> None:
    master = plain.nginx.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 2
    nginx_uid = (plain.workdir.host / "tmp").stat().st_uid
    for child in children:
        uids = next(line for line in Path(f"/proc/{child}/status").read_text().splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [str(nginx_uid)] * 4
    version = subprocess.run(["chroot", str(plain.root), "nginx", "-v"], capture_output=True, text=True).stderr
    assert "nginx/1.30." in version


# --- plain HTTP (tls=off) ---------------------------------------------------------------


@pytest.mark.parametrize(("host", "backend"), [(BLOG, "blog"), (CLOUD, "cloud")])
def test_each_host_reaches_its_backend_with_forwarded_headers(plain: Edge, host: str, backend: str) -> None:
    public = f"{host}:{PUBLIC.http}"
    reply = request(plain, public, "/a/b?c=1", X_Forwarded_For="203.0.113.9", X_Forwarded_Proto="https")
    report = reply.json()
    assert reply.status == 200
    assert report["backend"] == backend
    assert report["path"] == "/a/b?c=1"
    headers = report["headers"]
    assert headers["host"] == public
    # The edge overwrites what a client claims: nothing spoofed reaches the app.
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == public
    assert headers["x-forwarded-port"] == str(PUBLIC.http)


def test_host_name_matching_ignores_case_and_port(plain: Edge) -> None:
    assert request(plain, "BLOG.test").json()["backend"] == "blog"


@pytest.mark.parametrize("host", ["unknown.test", "127.0.0.1", "blog.test.evil.test"])
def test_unknown_host_names_are_refused(plain: Edge, host: str) -> None:
    assert refused(plain, host)


@pytest.mark.parametrize("host", ["", None])
def test_requests_without_a_host_name_never_reach_an_app(plain: Edge, host: str | None) -> None:
    """HTTP/1.1 without a Host header is malformed: nginx answers 400 itself."""
    assert refused(plain, host) or request(plain, host).status == 400


def test_health_endpoint_answers_loopback(plain: Edge) -> None:
    reply = request(plain, "localhost", "/healthz")
    assert (reply.status, reply.body) == (200, b"ok\n")


@pytest.mark.parametrize("service", ["carddav", "caldav"])
def test_nextcloud_dav_well_known_redirects(plain: Edge, service: str) -> None:
    reply = request(plain, f"{CLOUD}:{PUBLIC.http}", f"/.well-known/{service}")
    assert reply.status == 301
    assert reply.header("Location") == [f"http://{CLOUD}:{PUBLIC.http}/remote.php/dav/"]


def test_other_well_known_paths_reach_the_app(plain: Edge) -> None:
    assert request(plain, CLOUD, "/.well-known/webfinger?resource=x").json()["backend"] == "cloud"
    assert request(plain, BLOG, "/.well-known/carddav").json()["backend"] == "blog"


def raw_upload(edge: Edge | KindsEdge, host: str, path: str, length: int, first: bytes) -> socket.socket:
    """Headers plus the first part of a body; the caller sends the rest or reads the answer."""
    sock = edge.ns.connect(LISTEN_ADDRESS, HTTP_PORT)
    sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n".encode() + first)
    return sock


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split()[1])


def test_wordpress_rejects_a_body_over_its_limit(plain: Edge) -> None:
    with raw_upload(plain, BLOG, "/wp-admin/async-upload.php", WORDPRESS_LIMIT + 1, b"") as sock:
        assert read_status(sock) == 413
    assert "/wp-admin/async-upload.php" not in plain.blog.record.started


def test_nextcloud_accepts_a_body_over_the_wordpress_limit(plain: Edge) -> None:
    size = WORDPRESS_LIMIT + 16 * 1024**2
    reply = request(plain, CLOUD, "/remote.php/dav/files/admin/big.bin", "PUT", b"\0" * size)
    assert reply.status == 200
    assert reply.json()["body_bytes"] == size


@pytest.mark.parametrize(("host", "streams"), [(CLOUD, True), (BLOG, False)])
def test_request_bodies_stream_to_nextcloud_and_buffer_for_wordpress(plain: Edge, host: str, streams: bool) -> None:
    backend = plain.cloud if host == CLOUD else plain.blog
    path = f"/upload-{host}"
    started = backend.record.event(path)
    length = 4 * 1024**2
    first = b"\0" * (256 * 1024)
    with raw_upload(plain, host, path, length, first) as sock:
        # Half the body is still with the client: only a streaming proxy has called the app.
        assert started.wait(timeout=2 if streams else 0.5) is streams
        sock.sendall(b"\0" * (length - len(first)))
        assert read_status(sock) == 200
    assert started.is_set()


def test_upstream_connections_are_kept_alive(plain: Edge) -> None:
    before = len(plain.blog.record.connections)
    for _ in range(20):
        assert request(plain, BLOG, "/keepalive").status == 200
    used = plain.blog.record.connections[before:]
    assert len(used) == 20
    # Two workers, each with its own idle pool: at most a couple of upstream connections.
    assert len(set(used)) <= 4


def test_text_is_gzipped_and_images_are_not(plain: Edge) -> None:
    text = request(plain, BLOG, "/page?size=4000&type=text/html", Accept_Encoding="gzip")
    assert text.header("Content-Encoding") == ["gzip"]
    assert gzip.decompress(text.body) == b"x" * 4000
    image = request(plain, BLOG, "/a.png?size=4000&type=image/png", Accept_Encoding="gzip")
    assert image.header("Content-Encoding") == []


def test_wordpress_gets_security_headers_without_duplicates(plain: Edge) -> None:
    reply = request(plain, BLOG, "/")
    assert reply.header("X-Content-Type-Options") == ["nosniff"]
    assert reply.header("X-Frame-Options") == ["SAMEORIGIN"]
    assert reply.header("Referrer-Policy") == ["strict-origin-when-cross-origin"]
    assert reply.header("Strict-Transport-Security") == []  # not over plain HTTP
    # wp-login.php sends its own X-Frame-Options: the proxy must not add a second one.
    own = request(plain, BLOG, "/wp-login.php", X_Stub_Header="X-Frame-Options: DENY")
    assert own.header("X-Frame-Options") == ["DENY"]


def test_nextcloud_security_headers_are_its_own(plain: Edge) -> None:
    reply = request(plain, CLOUD, "/", X_Stub_Header="X-Content-Type-Options: nosniff")
    assert reply.header("X-Content-Type-Options") == ["nosniff"]
    assert reply.header("X-Frame-Options") == []
    assert reply.header("X-Powered-By") == []


@pytest.mark.parametrize(
    ("host", "path", "app_header", "expected"),
    [
        (BLOG, "/wp-content/themes/t/style.css?ver=1", None, ["public, max-age=604800"]),
        (BLOG, "/wp-includes/js/jquery.min.js", None, ["public, max-age=604800"]),
        (BLOG, "/wp-content/uploads/2026/photo.JPG", "Cache-Control: no-store", ["no-store"]),
        (BLOG, "/wp-login.php", None, []),
        (BLOG, "/style.css", None, []),
        (CLOUD, "/core/css/server.css", None, []),
        (CLOUD, "/remote.php/dav/files/admin/photo.jpg", None, []),
    ],
)
def test_static_assets_get_cache_headers_only_where_safe(
    plain: Edge, host: str, path: str, app_header: str | None, expected: list[str]
) -> None:
    extra = {"X_Stub_Header": app_header} if app_header else {}
    assert request(plain, host, path, body=None, **extra).header("Cache-Control") == expected


# --- resolution: apps that are down, apps that come up, apps that are recreated ------------


def test_nginx_starts_while_apps_are_down_and_serves_them_when_they_resolve(root: Path) -> None:
    """No alias resolves at start (NXDOMAIN): nginx starts anyway; an address that refuses
    gets 502 at once, and each app is served as soon as Docker's DNS knows it."""
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        try:
            blog_address = ns.add_address()
            config = render_nginx_config(app_routes(), TlsSettings(), PUBLIC, workdir.runtime())
            with StubBackend("blog", ns, blog_address), NginxProcess(ns, workdir, config, (HTTP_PORT,)):
                asked = dns.next_answer("app-blog", 0.0)
                assert get(ns, BLOG, 0.0).status == "502"  # not resolved: no server in the upstream
                dns.records["app-cloud"] = ns.add_address()  # resolves, but nothing listens there
                dns.records["app-blog"] = blog_address
                dns.next_answer("app-blog", asked + 0.5)
                time.sleep(0.1)
                assert get(ns, BLOG, 0.0).backend == "blog"
                nothing_listens = get(ns, CLOUD, 0.0)
                assert (nothing_listens.status, nothing_listens.seconds < 1) == ("502", True)
                assert get(ns, BLOG, 0.0).backend == "blog"
        finally:
            workdir.remove()


def test_a_recreated_app_is_followed_within_one_resolve_interval(root: Path) -> None:
    """The app container is replaced: its old address drops packets (a stale neighbour entry,
    as on a busy bridge) and Docker's DNS answers with the new one. Swapped right after
    nginx's own re-resolution (the worst case), the old address stays in use for at most
    valid + 1 s, and each request sent there fails after the connect timeout with 504.
    Before the fix (valid=10s, 5 s connect timeout): 11 s of 5-s stalls."""
    interval, stall = 2.0, 2.0  # the promise, in seconds; nginx re-resolves every valid + 1 s
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        try:
            old_address, new_address = ns.add_address(), ns.add_address()
            dns.records.update({"app-blog": old_address, "app-cloud": new_address})
            config = render_nginx_config(app_routes(), TlsSettings(), PUBLIC, workdir.runtime(access_log=False))
            old = StubBackend("old", ns, old_address).__enter__()
            try:
                with StubBackend("new", ns, new_address), NginxProcess(ns, workdir, config, (HTTP_PORT,)):
                    first = dns.next_answer("app-blog", 0.0)
                    second = dns.next_answer("app-blog", first)
                    assert second - first == pytest.approx(interval, abs=0.3)
                    assert [get(ns, BLOG, 0.0).backend for _ in range(3)] == ["old"] * 3
                    dns.next_answer("app-blog", second)
                    old.__exit__()
                    ns.remove_address(old_address, stale=True)
                    dns.records["app-blog"] = new_address
                    outcomes = get_at_rate(ns, BLOG, time.monotonic(), rate=5, seconds=interval + 1.5)
            finally:
                old.__exit__()
        finally:
            workdir.remove()
    stale = [outcome for outcome in outcomes if outcome.backend != "new"]
    assert stale, "the swap came right after a re-resolution: some requests must still go to the old address"
    assert {outcome.status for outcome in stale} == {"504"}
    assert all(outcome.seconds == pytest.approx(stall, abs=0.3) for outcome in stale)
    assert max(outcome.started for outcome in stale) < interval + 0.2
    served = [outcome for outcome in outcomes if outcome.started > interval + 0.3]
    assert served and all(outcome.backend == "new" for outcome in served)


# --- TLS with a provided certificate -----------------------------------------------------


@pytest.mark.parametrize(("host", "backend"), [(BLOG, "blog"), (CLOUD, "cloud")])
def test_https_per_host_with_sni_and_http2(tls: Edge, host: str, backend: str) -> None:
    code, reply = curl(tls, f"https://{host}/x", "--http2")
    assert code == 0 and reply is not None
    assert reply.http_version == "2"  # negotiated over ALPN by the root's curl 8 (nghttp2)
    headers = reply.json()["headers"]
    assert reply.json()["backend"] == backend
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == str(PUBLIC.https)
    assert headers["host"] == f"{host}:{PUBLIC.https}"


def test_http1_clients_are_still_served(tls: Edge) -> None:
    code, reply = curl(tls, f"https://{BLOG}/", "--http1.1")
    assert code == 0 and reply is not None
    assert (reply.http_version, reply.status) == ("1.1", 200)


def test_http_redirects_to_https(tls: Edge) -> None:
    reply = request(tls, f"{BLOG}:{PUBLIC.http}", "/a/b?c=1")
    assert reply.status == 301
    assert reply.header("Location") == [f"https://{BLOG}:{PUBLIC.https}/a/b?c=1"]
    assert "/a/b" not in tls.blog.record.started


def test_unknown_names_are_refused_over_http_and_https(tls: Edge) -> None:
    assert refused(tls, "unknown.test")
    code, _ = curl(tls, "https://unknown.test/")
    assert code == 35  # TLS handshake refused: no certificate is presented
    code, _ = curl(tls, f"https://{LISTEN_ADDRESS}/", "--insecure")  # no SNI at all
    assert code == 35


def test_hsts_and_security_headers(tls: Edge) -> None:
    _, blog = curl(tls, f"https://{BLOG}/")
    assert blog is not None
    assert blog.header("strict-transport-security") == ["max-age=63072000"]
    assert blog.header("x-content-type-options") == ["nosniff"]
    assert blog.header("x-frame-options") == ["SAMEORIGIN"]
    _, cloud = curl(tls, f"https://{CLOUD}/", "-H", "X-Stub-Header: X-Frame-Options: SAMEORIGIN")
    assert cloud is not None
    assert cloud.header("strict-transport-security") == ["max-age=63072000"]
    assert cloud.header("x-frame-options") == ["SAMEORIGIN"]


def test_login_posts_get_429_past_the_burst(tls: Edge) -> None:
    url = f"https://{BLOG}/wp-login.php"
    statuses = []
    for _ in range(LOGIN_BURST + 4):
        _, reply = curl(tls, url, "--data", "log=admin&pwd=guess")
        assert reply is not None
        statuses.append(reply.status)
    assert statuses == [200] * (LOGIN_BURST + 1) + [429] * 3
    _, limited = curl(tls, url, "--data", "log=admin&pwd=guess")
    assert limited is not None and limited.header("strict-transport-security") == ["max-age=63072000"]
    # Reading the form is not a login attempt; other apps keep their own budget.
    _, form = curl(tls, url)
    assert form is not None and form.status == 200
    _, nextcloud_login = curl(tls, f"https://{CLOUD}/login", "--data", "user=a")
    assert nextcloud_login is not None and nextcloud_login.status == 200


def test_body_limits_hold_over_https(tls: Edge) -> None:
    big = tls.workdir.host / "big.bin"
    with big.open("wb") as out:
        out.truncate(WORDPRESS_LIMIT + 1024**2)
    inside = str(tls.workdir.inside / "big.bin")
    _, blog = curl(tls, f"https://{BLOG}/upload", "--data-binary", f"@{inside}")
    assert blog is not None and blog.status == 413
    _, cloud = curl(tls, f"https://{CLOUD}/remote.php/dav/x", "-T", inside)
    assert cloud is not None and cloud.status == 200
    assert cloud.json()["body_bytes"] == big.stat().st_size


# --- tls=letsencrypt, the ACME module's lines swapped for a static certificate -----------


@pytest.mark.parametrize(("host", "backend"), [(BLOG, "blog"), (CLOUD, "cloud")])
def test_letsencrypt_config_serves_each_host_over_http2(letsencrypt: Edge, host: str, backend: str) -> None:
    code, reply = curl(letsencrypt, f"https://{host}/", "--http2")
    assert code == 0 and reply is not None
    assert (reply.http_version, reply.json()["backend"]) == ("2", backend)
    assert reply.header("strict-transport-security") == ["max-age=63072000"]


def test_letsencrypt_config_keeps_http_for_challenges_only(letsencrypt: Edge) -> None:
    challenge = request(letsencrypt, BLOG, "/.well-known/acme-challenge/unknown-token")
    assert challenge.status == 404  # what the module does not answer itself ends here
    assert request(letsencrypt, BLOG, "/wp-login.php").status == 301
    assert refused(letsencrypt, "unknown.test")
    code, _ = curl(letsencrypt, "https://unknown.test/")
    assert code == 35


# --- host names of the longest legal length ------------------------------------------------


def longest_host_name(letter: str) -> str:
    """253 characters, labels of at most 63: the longest name DNS allows."""
    name = ".".join([letter * 63] * 3 + [letter * 56]) + ".test"
    assert len(name) == 253
    return name


def test_the_longest_legal_host_names_start_and_route(root: Path) -> None:
    hosts = (longest_host_name("b"), longest_host_name("c"))
    with running_edge(root, TlsSettings(mode="provided"), hosts) as edge:
        for host, backend in zip(hosts, ("blog", "cloud"), strict=True):
            code, reply = curl(edge, f"https://{host}/")
            assert code == 0 and reply is not None
            assert reply.json()["backend"] == backend
            redirect = request(edge, host, "/x")
            assert redirect.header("Location") == [f"https://{host}:{PUBLIC.https}/x"]


def test_without_the_bucket_size_the_longest_names_stop_nginx(root: Path) -> None:
    """What the fix prevents, on the same nginx: the default bucket (64 bytes) is too small."""
    with NetNamespace() as ns:
        workdir = Workdir(root)
        try:
            routes = app_routes(longest_host_name("b"), longest_host_name("c"))
            config = render_nginx_config(routes, TlsSettings(), PUBLIC, workdir.runtime())
            lines = [line for line in config.splitlines(keepends=True) if "server_names_hash_bucket_size" not in line]
            assert len(lines) == len(config.splitlines()) - 1
            with pytest.raises(RuntimeError, match="could not build server_names_hash"):
                NginxProcess(ns, workdir, "".join(lines), (HTTP_PORT,)).check()
        finally:
            workdir.remove()


def test_no_worker_errors_logged(plain: Edge, tls: Edge, letsencrypt: Edge, kinds: KindsEdge) -> None:
    for edge in (plain, tls, letsencrypt, kinds):
        crit = [line for line in edge.nginx.errors().splitlines() if "[crit]" in line or "[alert]" in line]
        assert crit == []


def test_the_variable_mode_of_the_bench_resolves_per_request(root: Path) -> None:
    """bench/proxy_wrk.py's comparison mode: nothing is resolved before a request needs it."""
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        try:
            runtime = dataclasses.replace(workdir.runtime(), upstream_mode="variable")
            config = render_nginx_config(app_routes(), TlsSettings(), PUBLIC, runtime)
            cloud_address = ns.add_address()
            with StubBackend("cloud", ns, cloud_address), NginxProcess(ns, workdir, config, (HTTP_PORT,)):
                time.sleep(0.2)
                assert dns.queries == []
                assert get(ns, BLOG, 0.0).status == "502"  # NXDOMAIN: the blog is down
                dns.records["app-cloud"] = cloud_address
                assert get(ns, CLOUD, 0.0).backend == "cloud"
            assert dns.queries == ["app-blog", "app-cloud"]
        finally:
            workdir.remove()


# --- routes shaped like the other kinds: static site, container, Rocket.Chat ---------------


def websocket(edge: KindsEdge, host: str) -> WebSocketClient:
    """An upgraded connection through nginx's port 80 to ``host``'s app."""
    client = WebSocketClient(edge.ns.connect(LISTEN_ADDRESS, HTTP_PORT))
    status, headers = client.handshake(f"{host}:{PUBLIC.http}")
    assert status == 101, headers
    assert headers["sec-websocket-accept"] == websocket_accept(client.key)
    return client


def test_a_websocket_upgrade_is_carried_through_to_the_app(kinds: KindsEdge) -> None:
    before = len(kinds.chat.sessions)
    client = websocket(kinds, CHAT)
    with client.sock:
        assert client.echo("hello, chat") == "hello, chat"
        assert client.echo("x" * 70_000) == "x" * 70_000  # a frame with a 64-bit length, larger than the buffers
        [session] = kinds.chat.sessions[before:]
        headers = session.headers
        assert (headers["upgrade"], headers["connection"]) == ("websocket", "upgrade")
        assert headers["sec-websocket-key"] == client.key
        assert headers["sec-websocket-version"] == "13"
        assert headers["origin"] == "http://example.test"  # Rocket.Chat checks it against ROOT_URL
        assert headers["host"] == f"{CHAT}:{PUBLIC.http}"
        assert (headers["x-forwarded-proto"], headers["x-forwarded-for"]) == ("http", "127.0.0.1")
        client.sock.sendall(nginx_harness.encode_frame(b"\x03\xe8", nginx_harness.OPCODE_CLOSE, masked=True))
        assert client.receive(5)[0] == nginx_harness.OPCODE_CLOSE
        assert session.closed.wait(5)


def test_a_tunnel_the_client_drops_is_closed_at_the_app_never_pooled(kinds: KindsEdge) -> None:
    """A 101 turns keep-alive off for that upstream connection (ngx_http_proxy_module.c): when the
    browser goes away, nginx closes the app's side instead of reusing it for the next request."""
    before = len(kinds.chat.sessions)
    client = websocket(kinds, CHAT)
    assert client.echo("bye") == "bye"
    client.sock.close()  # no close frame: a tab closed, a laptop suspended
    [session] = kinds.chat.sessions[before:]
    assert session.closed.wait(2)
    assert request(kinds, CHAT, "/api/info").json()["backend"] == "chat"


def test_an_idle_tunnel_outlives_pauses_shorter_than_the_read_timeout_and_closes_after_it(kinds: KindsEdge) -> None:
    before = len(kinds.pulse.sessions)
    client = websocket(kinds, PULSE)
    with client.sock:
        pause = 0.6 * IDLE_LIMIT
        for n in range(3):  # 3.6 s in all, longer than the limit: only silence counts
            time.sleep(pause)
            assert client.echo(f"still here {n}") == f"still here {n}"
        idle = client.seconds_until_closed(timeout=IDLE_LIMIT + 3)
    # nginx keeps a timer that moved by less than 300 ms (NGX_TIMER_LAZY_DELAY): up to that much early.
    assert IDLE_LIMIT - 0.35 <= idle <= IDLE_LIMIT + 0.5
    [session] = kinds.pulse.sessions[before:]
    assert session.closed.wait(2)  # the app's side closed too, not just the client's


def test_traffic_from_the_client_alone_keeps_a_tunnel_open(kinds: KindsEdge) -> None:
    """nginx re-arms the read timer whenever either side sends: a browser's heartbeat is enough
    even if the app says nothing (src/http/ngx_http_upstream.c, ngx_http_upstream_process_upgraded)."""
    before = len(kinds.pulse.sessions)
    client = websocket(kinds, PULSE)
    with client.sock:
        for n in range(4):  # 4.8 s with no byte from the app
            time.sleep(0.6 * IDLE_LIMIT)
            client.send_text(f"quiet:{n}")
        assert client.echo("answer now") == "answer now"
        [session] = kinds.pulse.sessions[before:]
        assert session.received == [b"quiet:0", b"quiet:1", b"quiet:2", b"quiet:3", b"answer now"]


def test_each_websocket_route_has_its_own_idle_limit(kinds: KindsEdge) -> None:
    """Rocket.Chat's long read timeout keeps its tunnel where a short one has long closed."""
    chat, pulse = websocket(kinds, CHAT), websocket(kinds, PULSE)
    with chat.sock, pulse.sock:
        assert pulse.seconds_until_closed(timeout=IDLE_LIMIT + 3) <= IDLE_LIMIT + 0.5
        time.sleep(1.0)
        assert chat.echo("after the short limit") == "after the short limit"


def test_websocket_over_tls_on_a_server_with_http2_on(root: Path) -> None:
    """Browsers open WebSockets on an HTTP/1.1 connection (ALPN ``http/1.1``): nginx 1.30 offers
    no RFC 8441 over HTTP/2, and a server with ``http2 on`` still upgrades HTTP/1.1 clients."""
    with running_kinds_edge(root, TlsSettings(mode="provided")) as edge:
        assert edge.certificate is not None
        context = ssl.create_default_context(cafile=str(edge.certificate))
        context.set_alpn_protocols(["http/1.1"])
        raw = edge.ns.connect(LISTEN_ADDRESS, HTTPS_PORT)
        with context.wrap_socket(raw, server_hostname=CHAT) as sock:
            assert sock.selected_alpn_protocol() == "http/1.1"
            client = WebSocketClient(sock)
            status, headers = client.handshake(f"{CHAT}:{PUBLIC.https}")
            assert status == 101
            assert headers["sec-websocket-accept"] == websocket_accept(client.key)
            assert client.echo("over tls") == "over tls"
            assert edge.chat.sessions[-1].headers["x-forwarded-proto"] == "https"
        # The same server still speaks HTTP/2 to everything else.
        code, reply = curl(edge, f"https://{CHAT}/api/info", "--http2")
        assert code == 0 and reply is not None
        assert (reply.http_version, reply.json()["backend"]) == ("2", "chat")


@pytest.mark.parametrize(("host", "backend"), [(CHAT, "chat"), (TOOL, "tool")])
def test_plain_requests_keep_upstream_connections_alive_on_every_route(
    kinds: KindsEdge, host: str, backend: str
) -> None:
    stub = kinds.chat if backend == "chat" else kinds.tool
    before = len(stub.requests)
    for _ in range(20):
        reply = request(kinds, f"{host}:{PUBLIC.http}", "/api/v1/info")
        assert (reply.status, reply.json()["backend"]) == (200, backend)
    seen = stub.requests[before:]
    assert len(seen) == 20
    assert len({entry["connection"] for entry in seen}) <= 4  # two workers, each with its idle pool
    for entry in seen:
        headers = entry["headers"]
        assert isinstance(headers, dict)
        # No Connection header at all: HTTP/1.1's default, a persistent connection.
        assert "connection" not in headers and "upgrade" not in headers
        assert headers["host"] == f"{host}:{PUBLIC.http}"


def test_routes_without_websocket_never_upgrade_even_if_the_app_would(kinds: KindsEdge) -> None:
    """``tool`` runs an app that speaks WebSocket, but its route does not ask for it: the
    client's Upgrade stays at the proxy, the app answers an ordinary request (no 101, no tunnel
    past the route's limits)."""
    before = len(kinds.tool.requests)
    with kinds.ns.connect(LISTEN_ADDRESS, HTTP_PORT) as sock:
        status, _ = WebSocketClient(sock).handshake(f"{TOOL}:{PUBLIC.http}")
    assert status == 200
    assert kinds.tool.sessions == []
    [seen] = kinds.tool.requests[before:]
    assert isinstance(seen["headers"], dict)
    assert "upgrade" not in seen["headers"] and "connection" not in seen["headers"]


def test_wordpress_and_nextcloud_get_no_upgrade_header(plain: Edge) -> None:
    for host in (BLOG, CLOUD):
        headers = request(plain, host, "/", Upgrade="h2c", Connection="Upgrade, HTTP2-Settings").json()["headers"]
        assert "upgrade" not in headers and "connection" not in headers


def test_a_container_route_proxies_to_its_own_port_with_its_own_body_limit(kinds: KindsEdge) -> None:
    reply = request(kinds, TOOL, "/x", X_Forwarded_For="203.0.113.9")
    headers = reply.json()["headers"]
    assert (headers["x-forwarded-for"], headers["x-forwarded-port"]) == ("127.0.0.1", str(PUBLIC.http))
    assert reply.header("X-Frame-Options") == ["SAMEORIGIN"]  # filled in: the route says the app sends none
    with raw_upload(kinds, TOOL, "/upload", 8 * 1024**2 + 1, b"") as sock:
        assert read_status(sock) == 413
    assert request(kinds, TOOL, "/upload", "PUT", b"\0" * (8 * 1024**2)).status == 200


def test_a_static_sites_gzip_passes_through_untouched(kinds: KindsEdge) -> None:
    page = "/index.html?size=4000&type=text/html&gzip=1"
    compressed = request(kinds, SITE, page, Accept_Encoding="gzip")
    assert compressed.header("Content-Encoding") == ["gzip"]  # once: the edge does not compress again
    assert compressed.body == gzip.compress(b"x" * 4000, mtime=0)  # the site's bytes, as it sent them
    assert compressed.header("Vary") == ["Accept-Encoding"]
    assert kinds.site.record.event("/index.html").is_set()
    identity = request(kinds, SITE, page)  # a client that accepts no gzip gets none from either
    assert (identity.header("Content-Encoding"), identity.body) == ([], b"x" * 4000)


def test_a_static_sites_cache_headers_and_validators_are_its_own(kinds: KindsEdge) -> None:
    asset = "/assets/app.3f9a.css?size=2000&type=text/css&etag=3f9a"
    lifetime = "Cache-Control: public, max-age=31536000, immutable"
    first = request(kinds, SITE, asset, X_Stub_Header=lifetime)
    assert first.header("Cache-Control") == ["public, max-age=31536000, immutable"]
    assert first.header("ETag") == ['"3f9a"']
    again = request(kinds, SITE, asset, If_None_Match='"3f9a"', X_Stub_Header=lifetime)
    assert (again.status, again.body) == (304, b"")  # the site's 304, through the proxy
    assert again.header("Cache-Control") == ["public, max-age=31536000, immutable"]
    # No lifetime of the edge's own where the site set none (static_cache_paths is empty).
    assert request(kinds, SITE, "/style.css?size=300&type=text/css").header("Cache-Control") == []
