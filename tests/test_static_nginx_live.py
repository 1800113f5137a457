"""Tier 3: a static site's own nginx.conf and files, as the spec hands them to the container, on a real nginx 1.30.

nginx 1.30 is Debian unstable's from the cached root (tests/sidroot.py, tests/nginx_harness.py),
in a network namespace of its own and a mount namespace where the spec's files sit at their
container paths: the site at /srv/site, the config at /etc/nginx/nginx.conf, a fresh /run. The
config runs unchanged (production's listen, root, pid, logs). As the provider does, every file
is written with the time of the upload (tar header ``ModTime: time.Now()``); then the spec's
entrypoint script runs, as the image's /docker-entrypoint.sh would run it, and nginx starts with
the image's command (``nginx -g "daemon off;"``). The healthcheck's own command asks.

Proven here: home page and gzip for text, none for images; Cache-Control (pages revalidated,
other files for cacheSeconds) also on 304s; ETags from content, equal across a redeploy for
unchanged files, new for a changed one; 304 on If-None-Match; no Last-Modified; 404 (the site's
page) for missing files and for a directory without index.html, never a listing; relative
redirects for directories; a .php file neither executed nor handed out; hidden files not
there; no request bodies; the healthcheck passes while nginx serves and fails when it does not;
the idle memory of master and worker, against the default reservation.
Not involved: Docker, the official image (its Debian nginx differs only in packaging).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.apps.spec import File, Site
from components.apps.static.settings import PROJECT_ROOT_CONTEXT, StaticApp, StaticMemoryReservation
from components.apps.static.spec import MTIMES_SCRIPT_PATH, NGINX_CONF_PATH, expected_etag, spec
from tests import nginx_harness
from tests.nginx_harness import NetNamespace, wait_for_port

REASON = nginx_harness.skip_reason()
pytestmark = [pytest.mark.live, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

PORT = 80
CACHE_SECONDS = 600
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256)) * 4
CSS = "/* site */\n" + "".join(f".c{n} {{ color: #{n:06x}; margin: {n}px; }}\n" for n in range(60))
INDEX = "<!doctype html>\n<title>www</title>\n" + "<p>Hello, static world.</p>\n" * 30
NOT_FOUND = "<!doctype html><title>missing</title><p>No such page here.</p>\n"
SITE_FILES: dict[str, str | bytes] = {
    "index.html": INDEX,
    "404.html": NOT_FOUND,
    "css/site.css": CSS,
    "img/dot.png": PNG,
    "docs/index.html": "<p>docs</p>\n",
    "assets/readme.txt": "no index here\n",
    ".git/config": "[core]\n",
}
PHP = b"<?php echo 'EXECUTED-' . (6 * 7); ?>\n"
SITE = Site("www", "www.test", "http://www.test:8080", "http", "www.test:8080", "172.30.0.0/24")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _write_site(project: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = project / "sites" / "www" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def _uploads(project: Path) -> tuple[File, ...]:
    settings = StaticApp.model_validate(
        {"kind": "static", "hostname": "www.test", "path": "sites/www", "cacheSeconds": CACHE_SECONDS},
        by_alias=True,
        context={PROJECT_ROOT_CONTEXT: project},
    )
    files = spec("www", settings, SITE).services[0].files
    assert all(isinstance(file, File) for file in files)
    return tuple(file for file in files if isinstance(file, File))


def _lay_out(container: Path, uploads: tuple[File, ...], upload_time: float) -> None:
    """What the provider's CopyToContainer leaves: each file at its path, its mode, the upload's time."""
    for upload in uploads:
        path = container / upload.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.chmod(0o644)
        content = base64.b64decode(upload.content_base64) if upload.content_base64 else upload.content.encode()
        path.write_bytes(content)
        path.chmod(int(upload.mode, 8))
        os.utime(path, (upload_time, upload_time))


@contextmanager
def _serving(root: Path, ns: NetNamespace, container: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The image's start: entrypoint script (as root), then ``nginx -g "daemon off;"``, in private mounts."""
    script = (
        f"mount --bind {container}/srv {root}/srv\n"
        f"mount --bind {container}{NGINX_CONF_PATH} {root}{NGINX_CONF_PATH}\n"
        f"mount -t tmpfs tmpfs {root}/run\n"
        f"chroot {root} sh -s < {container}{MTIMES_SCRIPT_PATH}\n"
        f"exec chroot {root} nginx -g 'daemon off;'\n"
    )
    log = open(container / "nginx.stderr", "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        ns.command("unshare", "--mount", "--propagation", "private", "sh", "-ec", script), stdout=log, stderr=log
    )
    try:
        try:
            wait_for_port(ns, PORT)
        except TimeoutError:
            raise RuntimeError(f"nginx did not start:\n{(container / 'nginx.stderr').read_text()}") from None
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class _Connection(http.client.HTTPConnection):
    def __init__(self, ns: NetNamespace) -> None:
        super().__init__("127.0.0.1", PORT, timeout=10)
        self.ns = ns

    def connect(self) -> None:
        self.sock = self.ns.connect(self.host, self.port, timeout=10)


def request(ns: NetNamespace, path: str, method: str = "GET", body: bytes | None = None, **headers: str) -> Reply:
    connection = _Connection(ns)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", "www.test:8080")
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@dataclass
class Served:
    root: Path
    ns: NetNamespace
    project: Path
    container: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = nginx_harness.nginx_root()
    project = tmp_path_factory.mktemp("project")
    _write_site(project, SITE_FILES)
    container = tmp_path_factory.mktemp("container")
    _lay_out(container, _uploads(project), time.time())
    # Not a file the spec uploads (config validation refuses PHP): proof that nginx would not run one.
    (container / "srv/site/x.php").write_bytes(PHP)
    with NetNamespace() as ns, _serving(root, ns, container) as process:
        yield Served(root, ns, project, container, process)


def test_the_home_page(served: Served) -> None:
    reply = request(served.ns, "/")
    assert (reply.status, reply.body) == (200, INDEX.encode())
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["etag"] == expected_etag(INDEX.encode())
    assert "last-modified" not in reply.headers
    assert reply.headers["server"] == "nginx"  # no version


def test_text_is_gzipped_for_clients_that_ask(served: Served) -> None:
    reply = request(served.ns, "/css/site.css", Accept_Encoding="gzip")
    assert reply.headers["content-encoding"] == "gzip"
    assert reply.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(reply.body) == CSS.encode()
    assert len(reply.body) < len(CSS) / 3
    assert reply.headers["etag"] == "W/" + expected_etag(CSS.encode())
    assert reply.headers["cache-control"] == f"public, max-age={CACHE_SECONDS}"
    plain = request(served.ns, "/css/site.css")
    assert "content-encoding" not in plain.headers and plain.body == CSS.encode()
    html = request(served.ns, "/", Accept_Encoding="gzip")
    assert gzip.decompress(html.body) == INDEX.encode()


def test_images_go_as_they_are(served: Served) -> None:
    reply = request(served.ns, "/img/dot.png", Accept_Encoding="gzip")
    assert (reply.status, reply.body, reply.headers["content-type"]) == (200, PNG, "image/png")
    assert "content-encoding" not in reply.headers
    assert reply.headers["cache-control"] == f"public, max-age={CACHE_SECONDS}"


def test_unchanged_files_answer_304_with_their_cache_lifetime(served: Served) -> None:
    css = request(served.ns, "/css/site.css", If_None_Match=expected_etag(CSS.encode()))
    assert (css.status, css.body, css.headers["cache-control"]) == (304, b"", f"public, max-age={CACHE_SECONDS}")
    gzipped = request(served.ns, "/css/site.css", Accept_Encoding="gzip", If_None_Match="W/" + css.headers["etag"])
    assert gzipped.status == 304
    # The page's 304 keeps it revalidated: a browser stores the Cache-Control of a 304.
    page = request(served.ns, "/", If_None_Match=expected_etag(INDEX.encode()))
    assert (page.status, page.headers["cache-control"]) == (304, "no-cache")
    assert request(served.ns, "/", If_None_Match='"0-0"').status == 200


def test_missing_files_get_the_sites_404_page(served: Served) -> None:
    reply = request(served.ns, "/nope.html")
    assert (reply.status, reply.body) == (404, NOT_FOUND.encode())


def test_directories_are_never_listed(served: Served) -> None:
    assert request(served.ns, "/assets/readme.txt").status == 200
    listing = request(served.ns, "/assets/")
    assert listing.status == 404
    assert b"readme" not in listing.body and b"Index of" not in listing.body


def test_a_directory_redirects_relatively_to_its_index(served: Served) -> None:
    redirect = request(served.ns, "/docs")
    assert (redirect.status, redirect.headers["location"]) == (301, "/docs/")
    assert request(served.ns, "/docs/").body == b"<p>docs</p>\n"


def test_php_is_neither_executed_nor_handed_out(served: Served) -> None:
    reply = request(served.ns, "/x.php")
    assert reply.status == 404
    assert b"EXECUTED" not in reply.body and b"<?php" not in reply.body
    assert request(served.ns, "/X.PHP").status == 404


def test_hidden_files_are_not_there(served: Served) -> None:
    assert not (served.container / "srv/site/.git").exists()
    assert request(served.ns, "/.git/config").status == 404


def test_no_request_bodies(served: Served) -> None:
    assert request(served.ns, "/", method="POST", body=b"a=b").status == 405
    assert request(served.ns, "/", method="POST", body=b"x" * 8192).status == 413


def _healthcheck(served: Served) -> subprocess.CompletedProcess[str]:
    settings = StaticApp.model_validate(
        {"kind": "static", "hostname": "www.test", "path": "sites/www"},
        by_alias=True,
        context={PROJECT_ROOT_CONTEXT: served.project},
    )
    test = list(spec("www", settings, SITE).services[0].healthcheck.test)
    assert test[0] == "CMD"
    return subprocess.run(
        served.ns.command("chroot", str(served.root), *test[1:]), capture_output=True, text=True, check=False
    )


def test_the_healthcheck_passes(served: Served) -> None:
    result = _healthcheck(served)
    assert result.returncode == 0, result.stderr


def test_idle_memory_is_below_the_default_reservation(served: Served) -> None:
    for _ in range(50):
        request(served.ns, "/css/site.css", Accept_Encoding="gzip")
    # The pid file is on the test's private /run: find this nginx by its network namespace.
    pids = subprocess.run(["pgrep", "-f", "nginx: (master|worker) process"], capture_output=True, text=True).stdout
    ours = [int(pid) for pid in pids.split() if _in_namespace(int(pid), served.ns)]
    assert len(ours) == 2, pids  # one master, one worker (worker_processes 1)
    # RSS counts the shared libraries in both processes; PSS shares them out. Measured: ~15 MiB
    # RSS, ~9.5 MiB PSS (nginx 1.30.6); the site's files add page cache, at most MAX_SITE_BYTES.
    rss, pss = sum(_status_bytes(pid, "VmRSS") for pid in ours), sum(_pss_bytes(pid) for pid in ours)
    reservation = StaticMemoryReservation().app
    assert rss < reservation, f"RSS {rss / 1024**2:.1f} MiB"
    assert pss < reservation / 2, f"PSS {pss / 1024**2:.1f} MiB"


def _in_namespace(pid: int, ns: NetNamespace) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(ns.path).st_ino
    except OSError:
        return False


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def _pss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no Pss for {pid}")


def test_a_redeploy_keeps_the_etags_of_unchanged_files(tmp_path: Path) -> None:
    """Two deploys, a minute apart, the second with one file changed: only its ETag moves."""
    root = nginx_harness.nginx_root()
    project = tmp_path / "project"
    _write_site(project, SITE_FILES)
    paths = ("/", "/css/site.css", "/img/dot.png", "/docs/")

    def deploy(upload_time: float) -> dict[str, str]:
        container = tmp_path / f"container-{int(upload_time)}"
        _lay_out(container, _uploads(project), upload_time)
        with NetNamespace() as ns, _serving(root, ns, container):
            return {path: request(ns, path).headers["etag"] for path in paths}

    first = deploy(time.time() - 60)
    assert first == deploy(time.time())
    changed_css = CSS + ".new { color: red; }\n"
    (project / "sites/www/css/site.css").write_text(changed_css)
    third = deploy(time.time() + 60)
    assert third["/css/site.css"] == expected_etag(changed_css.encode()) != first["/css/site.css"]
    assert {path: etag for path, etag in third.items() if path != "/css/site.css"} == {
        path: etag for path, etag in first.items() if path != "/css/site.css"
    }


def test_the_healthcheck_fails_without_nginx(tmp_path: Path) -> None:
    root = nginx_harness.nginx_root()
    _write_site(tmp_path, SITE_FILES)
    with NetNamespace() as ns:
        settings = StaticApp.model_validate(
            {"kind": "static", "hostname": "www.test", "path": "sites/www"},
            by_alias=True,
            context={PROJECT_ROOT_CONTEXT: tmp_path},
        )
        test = list(spec("www", settings, SITE).services[0].healthcheck.test)
        result = subprocess.run(ns.command("chroot", str(root), *test[1:]), capture_output=True, text=True)
        assert result.returncode == 7, result  # curl: could not connect


def test_a_site_with_a_latin1_page_gets_no_header_charset(tmp_path: Path) -> None:
    root = nginx_harness.nginx_root()
    page = "<!doctype html><meta charset=iso-8859-1><p>Grüße</p>\n".encode("latin-1")
    _write_site(tmp_path, {"index.html": page, "site.css": "p { margin: 0 }\n"})
    container = tmp_path / "container"
    _lay_out(container, _uploads(tmp_path), time.time())
    with NetNamespace() as ns, _serving(root, ns, container):
        home, css = request(ns, "/"), request(ns, "/site.css")
        missing = request(ns, "/nope")
    assert (home.body, home.headers["content-type"]) == (page, "text/html")
    assert css.headers["content-type"] == "text/css"
    assert missing.status == 404 and b"404 Not Found" in missing.body  # nginx's own page: this site has no 404.html
