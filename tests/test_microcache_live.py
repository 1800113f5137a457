"""Tier 3: the WordPress microcache on a real nginx 1.30, in front of a stub app that counts its hits.

The config is production's, rendered from the real WordPress route (``microcache`` from its
settings), run by Debian unstable's nginx 1.30 in a network namespace of its own with a stub
of Docker's DNS (tests/nginx_harness.py). Only listen addresses and paths differ: the cache
is a directory of the test's work dir, where production mounts a tmpfs.

The stub app (:class:`CountingApp`) counts every request that reaches it by method and path,
answers with the count in the body (so a cached answer shows an old count), and sets response
headers the test asks for in ``X-Stub-Header`` (``Set-Cookie``, ``Cache-Control``) and the
status in ``X-Stub-Status``. ``/slow/``
paths take two seconds; ``/big/`` paths answer 200 KiB.

Proven here: anonymous GET and HEAD are cached and counted once; every bypass rule (each
method, each WordPress path, a query string, each cookie, Authorization, feeds when configured)
reaches the app every time and never stores what it got; wordpress_test_cookie and unrelated
cookies do not bypass; responses with Set-Cookie, ``Cache-Control: private``/``no-store``/
``max-age=0`` are not stored, and a long ``max-age`` does not outlive the configured seconds;
the cache lock (20 concurrent misses, 1 hit at the app); stale while updating (answered at
once while the slow app refreshes); stale while the app answers 5xx and while it is down; the
size bound (the cache
manager brings the directory back under ``max_size``).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.apps.wordpress import spec as wordpress
from components.apps.wordpress.settings import WordPressApp, WordPressMicrocache
from components.edge.nginx.config import PublicPorts, TlsSettings, render_nginx_config
from components.edge.routes import ProxyRoute
from tests import nginx_harness
from tests.dns_stub import DnsStub
from tests.nginx_harness import (
    APP_PORT,
    DNS_ADDRESS,
    HTTP_PORT,
    LISTEN_ADDRESS,
    NetNamespace,
    NginxProcess,
    Workdir,
)

REASON = nginx_harness.skip_reason()
pytestmark = [pytest.mark.live, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

BLOG = "blog.test"
PUBLIC = PublicPorts(8080, 8443)
HOST = f"{BLOG}:{PUBLIC.http}"
SECONDS = 1
"""The tests' freshness: short enough to watch entries expire."""
BIG_BYTES = 200 * 1024
SLOW_SECONDS = 2.0
"""How long ``/slow/`` paths take at the app: far above what a cached answer takes, even on a loaded machine."""
CACHED = {"HIT", "STALE", "UPDATING", "REVALIDATED"}
"""X-Cache-Status values of an answer that came from the cache."""


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _CountingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.hits[(self.command, self.path)] += 1
            count = self.server.hits[(self.command, self.path)]
        if path.startswith("/slow/"):
            time.sleep(SLOW_SECONDS)
        status = 500 if path.startswith("/fail/") else int(self.headers.get("X-Stub-Status") or 200)
        body = f"{self.command} {self.path} #{count}\n".encode()
        if path.startswith("/big/"):
            body = body.ljust(BIG_BYTES, b"x")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for extra in self.headers.get_all("X-Stub-Header") or []:
            name, _, value = extra.partition(":")
            self.send_header(name.strip(), value.strip())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle  # noqa: N815


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _CountingHandler)
        self.hits: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

        self.open_connections: set[socket.socket] = set()

    def handle_error(self, request: object, client_address: object) -> None:
        """nginx may close a kept-alive connection mid-way when it stops; not a stub failure."""

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """What a stopping app does to nginx's kept-alive connections: closes them."""
        with self.lock:
            connections = list(self.open_connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class CountingApp:
    """A stand-in WordPress that counts what reaches it; stop() is an app container going away."""

    def __init__(self, ns: NetNamespace, address: str) -> None:
        with ns.entered():
            self._server = _CountingServer((address, APP_PORT))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    def hits(self, path: str, method: str = "GET") -> int:
        with self._server.lock:
            return self._server.hits[(method, path)]

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()


@dataclass
class Edge:
    ns: NetNamespace
    workdir: Workdir
    app: CountingApp
    nginx: NginxProcess
    route: ProxyRoute

    @property
    def cache_dir(self) -> Path:
        return self.workdir.host / "microcache" / self.route.app


@dataclass(frozen=True)
class Reply:
    status: int
    cache: str
    body: bytes
    seconds: float


class _NamespacedConnection(http.client.HTTPConnection):
    def __init__(self, ns: NetNamespace) -> None:
        super().__init__(LISTEN_ADDRESS, HTTP_PORT, timeout=20)
        self.ns = ns

    def connect(self) -> None:
        self.sock = self.ns.connect(self.host, self.port, timeout=20)


def send(edge: Edge, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    started = time.monotonic()
    connection = _NamespacedConnection(edge.ns)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", HOST)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        body = b"comment=hi" if method in ("POST", "PUT", "PATCH") else None
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        content = response.read()
        return Reply(response.status, response.getheader("X-Cache-Status") or "", content, time.monotonic() - started)
    finally:
        connection.close()


def blog_route(**microcache: object) -> ProxyRoute:
    settings = WordPressMicrocache.model_validate({"seconds": SECONDS, **microcache})
    return wordpress.route("blog", WordPressApp(kind="wordpress", hostname=BLOG, microcache=settings))


@contextmanager
def running_edge(root: Path, route: ProxyRoute) -> Iterator[Edge]:
    with NetNamespace() as ns, DnsStub(DNS_ADDRESS, 53, ns.entered) as dns:
        workdir = Workdir(root)
        app: CountingApp | None = None
        try:
            address = ns.add_address()
            app = CountingApp(ns, address)
            dns.records[route.upstream_host] = address
            config = render_nginx_config([route], TlsSettings(), PUBLIC, workdir.runtime())
            with NginxProcess(ns, workdir, config, (HTTP_PORT,)) as nginx:
                dns.next_answer(route.upstream_host, 0.0, timeout=10)
                time.sleep(0.2)
                yield Edge(ns, workdir, app, nginx, route)
        finally:
            if app is not None:
                app.stop()
            workdir.remove()


@pytest.fixture(scope="module")
def root() -> Path:
    return nginx_harness.nginx_root()


@pytest.fixture(scope="module")
def edge(root: Path) -> Iterator[Edge]:
    with running_edge(root, blog_route(bypassFeeds=True)) as running:
        yield running


_paths = iter(range(1_000_000))


def fresh(prefix: str = "/page") -> str:
    """A path no earlier test asked for (the module's nginx keeps its cache)."""
    return f"{prefix}/{next(_paths)}/"


# --- what is cached --------------------------------------------------------------------


def test_an_anonymous_page_is_fetched_once_and_then_served_from_the_cache(edge: Edge) -> None:
    path = fresh()
    first, second, head = send(edge, path), send(edge, path), send(edge, path, "HEAD")
    assert (first.status, first.cache, second.status, second.cache) == (200, "MISS", 200, "HIT")
    assert second.body == first.body == f"GET {path} #1\n".encode()
    assert (head.status, head.cache) == (200, "HIT")
    # HEAD was answered from the GET's entry (nginx converts a cached HEAD to GET): no HEAD reached the app.
    assert (edge.app.hits(path), edge.app.hits(path, "HEAD")) == (1, 0)


@pytest.mark.parametrize(
    "cookie",
    [
        "wordpress_test_cookie=WP%20Cookie%20check",
        "_ga=GA1.1.5; theme=dark",
        "wp-settings-1=libraryContent%3Dbrowse; wp-settings-time-1=1700000000",
        "my_wordpress_logged_in_x=1",
    ],
    ids=["wordpress_test_cookie", "analytics", "wp-settings", "name-only-contains-it"],
)
def test_cookies_that_carry_no_session_do_not_bypass(edge: Edge, cookie: str) -> None:
    path = fresh()
    assert send(edge, path).cache == "MISS"
    reply = send(edge, path, headers={"Cookie": cookie})
    assert (reply.status, reply.cache) == (200, "HIT")
    assert edge.app.hits(path) == 1


# --- what bypasses: never served from the cache, never stored ---------------------------------

SESSION_COOKIES = {
    "wordpress_logged_in": "wordpress_logged_in_0123456789abcdef0123456789abcdef=admin%7C1700000000%7Ctoken",
    "wordpress_hash": "wordpress_0123456789abcdef0123456789abcdef=admin%7C1700000000%7Ctoken",
    "wordpress_sec_hash": "wordpress_sec_0123456789abcdef0123456789abcdef=admin%7C1700000000%7Ctoken",
    "comment_author": "comment_author_0123456789abcdef0123456789abcdef=Ann",
    "comment_author_email": "comment_author_email_0123456789abcdef0123456789abcdef=ann%40example.com",
    "wp-postpass": "wp-postpass_0123456789abcdef0123456789abcdef=%24P%24Bhash",
    "woocommerce_items_in_cart": "woocommerce_items_in_cart=1",
    "woocommerce_cart_hash": "woocommerce_cart_hash=4f1c0b",
    "wp_woocommerce_session": "wp_woocommerce_session_0123456789abcdef0123456789abcdef=42%7C%7C1700000000",
    "among-others": "_ga=GA1.1.5; wordpress_test_cookie=WP%20Cookie%20check; wordpress_logged_in_abc=x; theme=dark",
}


@pytest.mark.parametrize("cookie", list(SESSION_COOKIES.values()), ids=list(SESSION_COOKIES))
def test_a_session_cookie_bypasses_the_cache_and_its_answer_is_not_stored(edge: Edge, cookie: str) -> None:
    cached = fresh()
    assert send(edge, cached).cache == "MISS"
    assert send(edge, cached).cache == "HIT"
    reply = send(edge, cached, headers={"Cookie": cookie})
    assert (reply.status, reply.cache) == (200, "BYPASS")
    assert reply.body == f"GET {cached} #2\n".encode()  # from the app, not the cached #1
    assert edge.app.hits(cached) == 2
    # Not stored either: a logged-in page never reaches an anonymous visitor.
    personal = fresh()
    assert send(edge, personal, headers={"Cookie": cookie}).cache == "BYPASS"
    anonymous = send(edge, personal)
    assert (anonymous.cache, anonymous.body) == ("MISS", f"GET {personal} #2\n".encode())


def test_authorization_bypasses_the_cache(edge: Edge) -> None:
    path = fresh()
    send(edge, path)
    reply = send(edge, path, headers={"Authorization": "Basic YWRtaW46YXBwLXBhc3N3b3Jk"})
    assert (reply.cache, edge.app.hits(path)) == ("BYPASS", 2)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_any_method_but_get_and_head_bypasses_and_is_not_stored(edge: Edge, method: str) -> None:
    path = fresh()
    assert send(edge, path).cache == "MISS"
    # Methods outside proxy_cache_methods (GET HEAD) never look the cache up: no X-Cache-Status.
    reply = send(edge, path, method)
    assert (reply.status, reply.cache) == (200, "")
    assert edge.app.hits(path, method) == 1
    again = send(edge, path, method)
    assert (again.cache, edge.app.hits(path, method)) == ("", 2)
    stored_by_the_method = fresh()
    send(edge, stored_by_the_method, method)
    assert send(edge, stored_by_the_method).cache == "MISS"


@pytest.mark.parametrize(
    "path",
    [
        "/wp-admin/",
        "/wp-admin/edit.php",
        "/wp-admin",
        "/%77p-admin/",
        "//wp-admin/users.php",
        "/wp-json/wp/v2/posts",
        "/wp-json/",
        "/wp-login.php",
        "/wp-cron.php",
        "/wp-comments-post.php",
        "/wp-signup.php",
        "/blog/wp-login.php",
        "/xmlrpc.php",
        "/wp-content/uploads/2026/01/photo.jpg",
        "/wp-includes/js/jquery/jquery.min.js",
        "/feed/",
        "/comments/feed/",
        "/category/news/feed/atom/",
        "/2026/01/hello-world/feed",
    ],
)
def test_wordpress_paths_and_feeds_always_reach_the_app(edge: Edge, path: str) -> None:
    """The module's edge has ``bypassFeeds`` on."""
    first, second = send(edge, path), send(edge, path)
    assert (first.cache, second.cache) == ("BYPASS", "BYPASS")
    # Python's http.server folds a leading "//" into "/" (CPython gh-87389) before the stub counts it.
    assert edge.app.hits("/" + path.lstrip("/")) == 2


@pytest.mark.parametrize("query", ["?p=1", "?s=hello", "?", "?preview=true&preview_id=5", "?rest_route=/wp/v2/posts"])
def test_a_query_string_bypasses_and_is_not_stored(edge: Edge, query: str) -> None:
    path = fresh()
    assert send(edge, path).cache == "MISS"
    first, second = send(edge, path + query), send(edge, path + query)
    assert (first.cache, second.cache) == ("BYPASS", "BYPASS")
    assert edge.app.hits(path + query) == 2


# --- what the app's answer decides --------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Set-Cookie: wordpress_test_cookie=WP%20Cookie%20check; path=/",
        "Set-Cookie: comment_author_abc=Ann; path=/",
        "Cache-Control: no-cache, must-revalidate, max-age=0, no-store, private",
        "Cache-Control: private",
        "Cache-Control: no-store",
        "Cache-Control: max-age=0",
    ],
    ids=["test-cookie", "comment-cookie", "nocache_headers", "private", "no-store", "max-age-0"],
)
def test_an_answer_that_sets_a_cookie_or_refuses_caching_is_not_stored(edge: Edge, header: str) -> None:
    path = fresh()
    first = send(edge, path, headers={"X-Stub-Header": header})
    second = send(edge, path, headers={"X-Stub-Header": header})
    assert (first.cache, second.cache) == ("MISS", "MISS")
    assert edge.app.hits(path) == 2


def test_a_long_max_age_from_the_app_does_not_outlive_the_configured_seconds(edge: Edge) -> None:
    path = fresh()
    headers = {"X-Stub-Header": "Cache-Control: public, max-age=86400"}
    assert send(edge, path, headers=headers).cache == "MISS"
    assert send(edge, path).cache == "HIT"
    time.sleep(SECONDS + 1.2)
    expired = send(edge, path)
    assert expired.cache in ("STALE", "UPDATING", "EXPIRED")
    deadline = time.monotonic() + 5
    while edge.app.hits(path) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert edge.app.hits(path) == 2  # refreshed after SECONDS, not a day


def test_an_error_page_is_not_stored(edge: Edge) -> None:
    path = fresh("/fail")
    assert [send(edge, path).status for _ in range(3)] == [500, 500, 500]
    assert edge.app.hits(path) == 3


# --- lock and stale ---------------------------------------------------------------------------


def test_concurrent_misses_of_one_page_reach_the_app_once(edge: Edge) -> None:
    path = fresh("/slow")
    replies: list[Reply] = []
    lock = threading.Lock()

    def one() -> None:
        reply = send(edge, path)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reply.status for reply in replies] == [200] * 20
    assert edge.app.hits(path) == 1
    assert {reply.body for reply in replies} == {f"GET {path} #1\n".encode()}


def test_an_expired_page_is_answered_at_once_while_one_request_refreshes_it(edge: Edge) -> None:
    path = fresh("/slow")
    assert send(edge, path).cache == "MISS"
    time.sleep(SECONDS + 1.2)
    stale = send(edge, path)
    assert stale.cache == "STALE" and stale.seconds < SLOW_SECONDS / 2, stale
    assert stale.body == f"GET {path} #1\n".encode()
    deadline = time.monotonic() + 5
    while send(edge, path).body != f"GET {path} #2\n".encode():
        assert time.monotonic() < deadline, "the background update never landed"
        time.sleep(0.1)
    assert edge.app.hits(path) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_expired_page_is_served_while_the_app_answers_with_an_error(edge: Edge, status: int) -> None:
    """WordPress's "Error establishing a database connection" is a 500: visitors keep the cached page."""
    path = fresh()
    assert send(edge, path).cache == "MISS"
    time.sleep(SECONDS + 1.2)
    failing = {"X-Stub-Status": str(status)}  # the background update carries the request's headers
    served = [send(edge, path, headers=failing) for _ in range(3)]
    # STALE, or UPDATING while another request's background update is still out: the old copy either way.
    assert {(reply.status, reply.body) for reply in served} == {(200, f"GET {path} #1\n".encode())}
    assert {reply.cache for reply in served} <= {"STALE", "UPDATING"}, served
    deadline = time.monotonic() + 5
    while edge.app.hits(path) < 2:  # the background update asked the app again, and it failed
        assert time.monotonic() < deadline, "no background update reached the app"
        time.sleep(0.05)
    # A page never cached gets the error itself.
    assert send(edge, fresh(), headers=failing).status == status


def test_the_cache_manager_runs_as_the_worker_user(edge: Edge) -> None:
    master = edge.nginx.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    titles = {child: Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace") for child in children}
    managers = [child for child, title in titles.items() if "cache manager" in title]
    assert len(managers) == 1, titles
    nginx_uid = (edge.workdir.host / "tmp").stat().st_uid
    uids = next(
        line for line in Path(f"/proc/{managers[0]}/status").read_text().splitlines() if line.startswith("Uid:")
    )
    assert uids.split()[1:] == [str(nginx_uid)] * 4
    assert edge.cache_dir.stat().st_uid == nginx_uid  # the master chowned the cache path (a tmpfs in production)


def test_stale_pages_are_served_while_the_app_is_down(root: Path) -> None:
    with running_edge(root, blog_route()) as down:
        path = fresh()
        assert send(down, path).cache == "MISS"
        # bypassFeeds off (the default): feeds are pages like any other.
        assert [send(down, "/feed/").cache for _ in range(2)] == ["MISS", "HIT"]
        time.sleep(SECONDS + 1.2)
        down.app.stop()
        served: list[Reply] = []
        until = time.monotonic() + 3 * SECONDS + 1
        while time.monotonic() < until:
            served.append(send(down, path))
            time.sleep(0.1)
        assert {reply.status for reply in served} == {200}
        assert {reply.body for reply in served} == {f"GET {path} #1\n".encode()}
        # Each one also starts a background update, which fails (connection refused) and leaves the entry.
        assert {reply.cache for reply in served} == {"STALE"}, served
        # A page never cached has nothing to fall back on.
        assert send(down, fresh()).status == 502


# --- the size bound -----------------------------------------------------------------------------


def cache_bytes(directory: Path) -> int:
    """What the cache files hold on disk, in whole 4 KiB blocks, as nginx counts them."""
    total = 0
    for path in directory.rglob("*"):
        with suppress(FileNotFoundError):
            if path.is_file():
                total += -(-path.stat().st_size // 4096) * 4096
    return total


def test_the_cache_manager_keeps_the_cache_under_its_size(root: Path) -> None:
    bound = 1024**2
    with running_edge(root, blog_route(size="1Mi", seconds=60)) as small:
        paths = [fresh("/big") for _ in range(25)]  # 25 x 200 KiB = 5 MiB
        for path in paths:
            assert send(small, path).cache == "MISS"
        peak = cache_bytes(small.cache_dir)
        assert peak > bound, "the test never filled the cache past its bound"
        # The manager wakes at least every 10 s (ngx_http_file_cache_expire caps its wait).
        deadline = time.monotonic() + 15
        while cache_bytes(small.cache_dir) > bound:
            assert time.monotonic() < deadline, f"still {cache_bytes(small.cache_dir)} bytes after 15 s"
            time.sleep(0.25)
        # It evicted the least recently used pages and kept the latest.
        assert send(small, paths[-1]).cache == "HIT"
        assert send(small, paths[0]).cache == "MISS"
