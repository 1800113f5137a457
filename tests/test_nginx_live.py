"""Tier 3: the rendered config run by a real nginx (Debian's 1.22) against stub backends.

Routes come from the real WordPress and Nextcloud route functions, with the upstream
moved to a loopback stub. What this proves: host routing, forwarded headers, refusal of
unknown names (plain and TLS), well-known redirects, body limits and streaming, login rate
limits, TLS with SNI and HTTP/2, HSTS and security headers, gzip, static cache headers
and upstream keep-alive, all on a real nginx.

What it does not prove: the production upstream mode (``server ... resolve``, nginx >=
1.27.3) and ``http2 on;``, which 1.22 rejects; here upstreams are ``static`` (IP literals,
same keepalive) and HTTP/2 is switched on the listen line. The request-time ``variable``
mode is exercised against a stub DNS server. Docker's DNS, the ACME module and the
official image are not involved (letsencrypt is covered by rendering tests).
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import json
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components import nextcloud, wordpress
from components.nginx_config import LOGIN_BURST, PublicPorts, TlsSettings, render_nginx_config
from components.routes import ProxyRoute
from config.settings import NextcloudApp, WordPressApp
from tests.dns_stub import DnsStub
from tests.nginx_harness import NGINX, NginxProcess, StubBackend, debian_runtime, free_port, self_signed_certificate

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} not installed (apt-get install nginx-light)")

BLOG, CLOUD = "blog.test", "cloud.test"
WORDPRESS_LIMIT = wordpress.route("blog", WordPressApp(kind="wordpress", hostname=BLOG)).max_body_bytes


def routes_to(blog: StubBackend, cloud: StubBackend) -> list[ProxyRoute]:
    return [
        dataclasses.replace(
            wordpress.route("blog", WordPressApp(kind="wordpress", hostname=BLOG)),
            upstream_host="127.0.0.1",
            upstream_port=blog.port,
        ),
        dataclasses.replace(
            nextcloud.route("cloud", NextcloudApp(kind="nextcloud", hostname=CLOUD)),
            upstream_host="127.0.0.1",
            upstream_port=cloud.port,
        ),
    ]


@dataclass
class Edge:
    http_port: int
    https_port: int
    blog: StubBackend
    cloud: StubBackend
    nginx: NginxProcess
    ca_file: Path | None = None


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


def request(
    port: int, host: str | None, path: str = "/", method: str = "GET", body: bytes | None = None, **headers: str
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
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


def curl(edge: Edge, url: str, *options: str) -> tuple[int, CurlReply | None]:
    """curl with every test host name resolved to loopback; returns (exit code, reply)."""
    resolve = [
        arg
        for name in (BLOG, CLOUD, "unknown.test")
        for port in (edge.http_port, edge.https_port)
        for arg in ("--resolve", f"{name}:{port}:127.0.0.1")
    ]
    ca = ["--cacert", str(edge.ca_file)] if edge.ca_file else []
    command = ["curl", "-sS", "--max-time", "20", "-D", "-", "-o", "/dev/stderr", *resolve, *ca, *options, url]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        return result.returncode, None
    blocks = [block for block in result.stdout.decode().split("\r\n\r\n") if block.strip()]
    status_line, *lines = blocks[-1].split("\r\n")
    version, status = status_line.split()[:2]
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return 0, CurlReply(int(status), headers, result.stderr, http_version=version)


def refused(port: int, host: str | None) -> bool:
    """nginx's 444: the connection closes without any response."""
    try:
        request(port, host)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return True
    return False


def start_edge(tmp: Path, tls: TlsSettings) -> Iterator[Edge]:
    http_port, https_port = free_port(), free_port()
    with StubBackend("blog") as blog, StubBackend("cloud") as cloud:
        runtime = debian_runtime(tmp, http_port, https_port)
        ca_file = None
        if tls.mode == "provided":
            ca_file, _ = self_signed_certificate(tmp / "tls", [BLOG, CLOUD])
        config = render_nginx_config(routes_to(blog, cloud), tls, PublicPorts(http_port, https_port), runtime)
        ports = (http_port, https_port) if tls.enabled else (http_port,)
        with NginxProcess(tmp, config, ports) as nginx:
            yield Edge(http_port, https_port, blog, cloud, nginx, ca_file)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    yield from start_edge(tmp_path_factory.mktemp("nginx-plain"), TlsSettings(mode="off"))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    yield from start_edge(tmp_path_factory.mktemp("nginx-tls"), TlsSettings(mode="provided"))


# --- plain HTTP (tls=off) ---------------------------------------------------------------


@pytest.mark.parametrize(("host", "backend"), [(BLOG, "blog"), (CLOUD, "cloud")])
def test_each_host_reaches_its_backend_with_forwarded_headers(plain: Edge, host: str, backend: str) -> None:
    public = f"{host}:{plain.http_port}"
    reply = request(plain.http_port, public, "/a/b?c=1", X_Forwarded_For="203.0.113.9", X_Forwarded_Proto="https")
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
    assert headers["x-forwarded-port"] == str(plain.http_port)


def test_host_name_matching_ignores_case_and_port(plain: Edge) -> None:
    assert request(plain.http_port, "BLOG.test").json()["backend"] == "blog"


@pytest.mark.parametrize("host", ["unknown.test", "127.0.0.1", "blog.test.evil.test"])
def test_unknown_host_names_are_refused(plain: Edge, host: str) -> None:
    assert refused(plain.http_port, host)


@pytest.mark.parametrize("host", ["", None])
def test_requests_without_a_host_name_never_reach_an_app(plain: Edge, host: str | None) -> None:
    """HTTP/1.1 without a Host header is malformed: nginx answers 400 itself."""
    assert refused(plain.http_port, host) or request(plain.http_port, host).status == 400


def test_health_endpoint_answers_loopback(plain: Edge) -> None:
    reply = request(plain.http_port, "localhost", "/healthz")
    assert (reply.status, reply.body) == (200, b"ok\n")


@pytest.mark.parametrize("service", ["carddav", "caldav"])
def test_nextcloud_dav_well_known_redirects(plain: Edge, service: str) -> None:
    reply = request(plain.http_port, f"{CLOUD}:{plain.http_port}", f"/.well-known/{service}")
    assert reply.status == 301
    assert reply.header("Location") == [f"http://{CLOUD}:{plain.http_port}/remote.php/dav/"]


def test_other_well_known_paths_reach_the_app(plain: Edge) -> None:
    assert request(plain.http_port, CLOUD, "/.well-known/webfinger?resource=x").json()["backend"] == "cloud"
    assert request(plain.http_port, BLOG, "/.well-known/carddav").json()["backend"] == "blog"


def raw_upload(port: int, host: str, path: str, length: int, first: bytes) -> socket.socket:
    """Headers plus the first part of a body; the caller sends the rest or reads the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
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
    with raw_upload(plain.http_port, BLOG, "/wp-admin/async-upload.php", WORDPRESS_LIMIT + 1, b"") as sock:
        assert read_status(sock) == 413
    assert "/wp-admin/async-upload.php" not in plain.blog.record.started


def test_nextcloud_accepts_a_body_over_the_wordpress_limit(plain: Edge) -> None:
    size = WORDPRESS_LIMIT + 16 * 1024**2
    reply = request(plain.http_port, CLOUD, "/remote.php/dav/files/admin/big.bin", "PUT", b"\0" * size)
    assert reply.status == 200
    assert reply.json()["body_bytes"] == size


@pytest.mark.parametrize(("host", "streams"), [(CLOUD, True), (BLOG, False)])
def test_request_bodies_stream_to_nextcloud_and_buffer_for_wordpress(plain: Edge, host: str, streams: bool) -> None:
    backend = plain.cloud if host == CLOUD else plain.blog
    path = f"/upload-{host}"
    started = backend.record.event(path)
    length = 4 * 1024**2
    first = b"\0" * (256 * 1024)
    with raw_upload(plain.http_port, host, path, length, first) as sock:
        # Half the body is still with the client: only a streaming proxy has called the app.
        assert started.wait(timeout=2 if streams else 0.5) is streams
        sock.sendall(b"\0" * (length - len(first)))
        assert read_status(sock) == 200
    assert started.is_set()


def test_upstream_connections_are_kept_alive(plain: Edge) -> None:
    before = len(plain.blog.record.connections)
    for _ in range(20):
        assert request(plain.http_port, BLOG, "/keepalive").status == 200
    used = plain.blog.record.connections[before:]
    assert len(used) == 20
    # Two workers, each with its own idle pool: at most a couple of upstream connections.
    assert len(set(used)) <= 4


def test_text_is_gzipped_and_images_are_not(plain: Edge) -> None:
    text = request(plain.http_port, BLOG, "/page?size=4000&type=text/html", Accept_Encoding="gzip")
    assert text.header("Content-Encoding") == ["gzip"]
    assert gzip.decompress(text.body) == b"x" * 4000
    image = request(plain.http_port, BLOG, "/a.png?size=4000&type=image/png", Accept_Encoding="gzip")
    assert image.header("Content-Encoding") == []


def test_wordpress_gets_security_headers_without_duplicates(plain: Edge) -> None:
    reply = request(plain.http_port, BLOG, "/")
    assert reply.header("X-Content-Type-Options") == ["nosniff"]
    assert reply.header("X-Frame-Options") == ["SAMEORIGIN"]
    assert reply.header("Referrer-Policy") == ["strict-origin-when-cross-origin"]
    assert reply.header("Strict-Transport-Security") == []  # not over plain HTTP
    # wp-login.php sends its own X-Frame-Options: the proxy must not add a second one.
    own = request(plain.http_port, BLOG, "/wp-login.php", X_Stub_Header="X-Frame-Options: DENY")
    assert own.header("X-Frame-Options") == ["DENY"]


def test_nextcloud_security_headers_are_its_own(plain: Edge) -> None:
    reply = request(plain.http_port, CLOUD, "/", X_Stub_Header="X-Content-Type-Options: nosniff")
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
    assert request(plain.http_port, host, path, body=None, **extra).header("Cache-Control") == expected


def test_an_app_that_is_down_gets_502_and_others_still_work(tmp_path: Path) -> None:
    with StubBackend("blog") as blog, StubBackend("cloud") as cloud:
        http_port = free_port()
        routes = routes_to(blog, cloud)
        routes[1] = dataclasses.replace(routes[1], upstream_port=free_port())  # nothing listens there
        config = render_nginx_config(
            routes, ports=PublicPorts(http_port), runtime=debian_runtime(tmp_path, http_port, 0)
        )
        with NginxProcess(tmp_path, config, (http_port,)):
            assert request(http_port, CLOUD).status == 502
            assert request(http_port, BLOG).json()["backend"] == "blog"


def test_variable_mode_resolves_per_request_and_starts_without_the_apps(tmp_path: Path) -> None:
    """nginx starts although no app name resolves; each name is looked up when a request needs it."""
    with StubBackend("blog") as blog, StubBackend("cloud") as cloud, DnsStub() as dns:
        http_port = free_port()
        routes = [dataclasses.replace(route, upstream_host=f"app-{route.app}.edge") for route in routes_to(blog, cloud)]
        runtime = dataclasses.replace(
            debian_runtime(tmp_path, http_port, 0, upstream_mode="variable"), resolver=f"127.0.0.1:{dns.port}"
        )
        config = render_nginx_config(routes, ports=PublicPorts(http_port), runtime=runtime)
        with NginxProcess(tmp_path, config, (http_port,)):
            assert dns.queries == []
            assert request(http_port, BLOG).status == 502  # NXDOMAIN: the blog is down
            dns.records["app-cloud.edge"] = "127.0.0.1"  # the cloud container comes up
            assert request(http_port, CLOUD).json()["backend"] == "cloud"
        assert dns.queries == ["app-blog.edge", "app-cloud.edge"]


# --- TLS with a provided certificate -----------------------------------------------------


@pytest.mark.parametrize(("host", "backend"), [(BLOG, "blog"), (CLOUD, "cloud")])
def test_https_per_host_with_sni_and_http2(tls: Edge, host: str, backend: str) -> None:
    code, reply = curl(tls, f"https://{host}:{tls.https_port}/x")
    assert code == 0 and reply is not None
    assert reply.http_version == "HTTP/2"
    headers = reply.json()["headers"]
    assert reply.json()["backend"] == backend
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == str(tls.https_port)
    assert headers["host"] == f"{host}:{tls.https_port}"


def test_http_redirects_to_https(tls: Edge) -> None:
    reply = request(tls.http_port, f"{BLOG}:{tls.http_port}", "/a/b?c=1")
    assert reply.status == 301
    assert reply.header("Location") == [f"https://{BLOG}:{tls.https_port}/a/b?c=1"]
    assert "/a/b" not in tls.blog.record.started


def test_unknown_names_are_refused_over_http_and_https(tls: Edge) -> None:
    assert refused(tls.http_port, "unknown.test")
    code, _ = curl(tls, f"https://unknown.test:{tls.https_port}/")
    assert code == 35  # TLS handshake refused: no certificate is presented
    code, _ = curl(tls, f"https://127.0.0.1:{tls.https_port}/", "--insecure")  # no SNI at all
    assert code == 35


def test_hsts_and_security_headers(tls: Edge) -> None:
    _, blog = curl(tls, f"https://{BLOG}:{tls.https_port}/")
    assert blog is not None
    assert blog.header("strict-transport-security") == ["max-age=63072000"]
    assert blog.header("x-content-type-options") == ["nosniff"]
    assert blog.header("x-frame-options") == ["SAMEORIGIN"]
    _, cloud = curl(tls, f"https://{CLOUD}:{tls.https_port}/", "-H", "X-Stub-Header: X-Frame-Options: SAMEORIGIN")
    assert cloud is not None
    assert cloud.header("strict-transport-security") == ["max-age=63072000"]
    assert cloud.header("x-frame-options") == ["SAMEORIGIN"]


def test_login_posts_get_429_past_the_burst(tls: Edge) -> None:
    url = f"https://{BLOG}:{tls.https_port}/wp-login.php"
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
    _, nextcloud_login = curl(tls, f"https://{CLOUD}:{tls.https_port}/login", "--data", "user=a")
    assert nextcloud_login is not None and nextcloud_login.status == 200


def test_body_limits_hold_over_https(tls: Edge, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(WORDPRESS_LIMIT + 1024**2)
    _, blog = curl(tls, f"https://{BLOG}:{tls.https_port}/upload", "--data-binary", f"@{big}")
    assert blog is not None and blog.status == 413
    _, cloud = curl(tls, f"https://{CLOUD}:{tls.https_port}/remote.php/dav/x", "-T", str(big))
    assert cloud is not None and cloud.status == 200
    assert cloud.json()["body_bytes"] == big.stat().st_size


def test_no_worker_errors_logged(plain: Edge, tls: Edge) -> None:
    for edge in (plain, tls):
        crit = [line for line in edge.nginx.errors().splitlines() if "[crit]" in line or "[alert]" in line]
        assert crit == []
