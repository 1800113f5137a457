"""Requests through the edge while an app container is replaced: the old order against the new one.

    python bench/replace_under_load.py [--rate 20] [--start-seconds 3] [--listen-after 0.5] [--drain-seconds 1]
    python bench/replace_under_load.py --docker    # the same plays with real containers on Docker 28

The production nginx.conf (components/edge/nginx/config.py) on nginx 1.30 (Debian unstable's,
tests/sidroot.py) in a network namespace of its own, with a stub of Docker's embedded DNS on 127.0.0.11
(TTL 600 s, answering every address that carries the alias, as Docker's does) and stub apps on addresses
of the edge subnet; see tests/nginx_harness.py. A client sends ``--rate`` requests a second, each on a
new connection (a browser's first request; 30 s client timeout), alternating GET and a small POST, for the
whole play. One replacement is played per order, the way Pulumi runs it:

* ``stop-first`` (the program before issue 14, and still every stop-first service): the old container is
  stopped (its listener closes, its connections close), its address and DNS entry go; Docker creates the
  new one ``--start-seconds`` later under the same alias (the provider's create, and the health wait
  which the edge does not wait for), and the app in it listens after another ``--listen-after`` s.
* ``create-first`` (issue 14): the new container is created beside the old one, its address joins the
  alias at once and its app listens ``--listen-after`` s later (connections are refused until then); it
  is healthy after ``--start-seconds``; only then is the old one stopped: it refuses new connections
  while it drains for ``--drain-seconds`` (Apache's SIGWINCH graceful stop), then exits, and its address
  and DNS entry go.

When an address goes, the kernel keeps its neighbour entry (frames to it are dropped without a word, as
on a busy bridge), the worst case: a connect there waits for ``proxy_connect_timeout``. Three plays: the
old order with the nginx upstream settings before issue 14 (``max_fails=0``), the new order with those,
and the new order with the settings rendered now. For each the script prints the requests sent, those
that failed (by status, GET and POST apart), the longest request and how many took more than 1 s, and
which app answered. Not a test: figures for the notes. The load average is printed before and after.

``--docker`` plays the same on Docker 28.5 from the root (tests/dockerd28.py): nginx in a container of
its own (the root's binary and the libraries ``ldd`` lists, ``docker import``ed with the rendered config),
stand-in apps (busybox httpd serving their names, a CGI for the POSTs) with the program's healthcheck
timing under the alias, and the replacement run with the docker CLI as Pulumi and the provider run it:
``docker run`` (stop-first: after the old one's delete, under the same name), health polled once a
second (the provider's ``wait``), and the delete as ``docker stop -t 30`` then ``docker rm -f``. The
``--start-seconds``/``--listen-after``/``--drain-seconds`` options do not apply there: Docker decides.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.upstream_stall import ALIAS, HOST, route
from components.edge.nginx.config import (
    PRODUCTION,
    UPSTREAM_FAIL_TIMEOUT_SECONDS,
    UPSTREAM_MAX_FAILS,
    PublicPorts,
    TlsSettings,
    render_nginx_config,
)
from tests import dockerd28
from tests.dns_stub import DnsStub
from tests.docker_replay import stand_in_image_tar
from tests.dockerd28 import Engine
from tests.nginx_harness import (
    DNS_ADDRESS,
    HTTP_PORT,
    LISTEN_ADDRESS,
    NetNamespace,
    NginxProcess,
    StubBackend,
    Workdir,
    _setns,
    nginx_root,
    skip_reason,
)

WARM_SECONDS = 2.0
AFTER_SECONDS = 6.0
"""Requests keep going this long after the old address went, past any re-resolution."""


@dataclass(frozen=True)
class Result:
    started: float
    seconds: float
    method: str
    status: str
    backend: str | None


def request(ns: NetNamespace, method: str, t0: float) -> Result:
    started = time.monotonic()
    status, backend = "?", None
    body = b"comment=hello" if method == "POST" else b""
    head = f"{method} / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    try:
        with ns.connect(LISTEN_ADDRESS, HTTP_PORT, timeout=30.0) as sock:
            sock.sendall(head.encode() + b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + body)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status = data.split(b" ", 2)[1].decode() if data else "closed"
        if status == "200":
            backend = json.loads(data.partition(b"\r\n\r\n")[2])["backend"]
    except OSError as error:
        status = type(error).__name__
    return Result(started - t0, time.monotonic() - started, method, status, backend)


class Load:
    """``rate`` requests a second from start until ``stop()``, each in its own thread."""

    def __init__(self, ns: NetNamespace, rate: float) -> None:
        self.ns, self.rate = ns, rate
        self.results: list[Result] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def _one(self, method: str) -> None:
        result = request(self.ns, method, self.t0)
        with self._lock:
            self.results.append(result)

    def _run(self) -> None:
        threads: list[threading.Thread] = []
        n = 0
        while not self._stopped.is_set():
            time.sleep(max(0.0, self.t0 + n / self.rate - time.monotonic()))
            method = "POST" if random.random() < 0.5 else "GET"  # not alternating: nginx's round robin would pair up
            threads.append(threading.Thread(target=self._one, args=(method,), daemon=True))
            threads[-1].start()
            n += 1
        for thread in threads:
            thread.join()

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> list[Result]:
        self._stopped.set()
        self._thread.join()
        return sorted(self.results, key=lambda result: result.started)


CURRENT_PARAMS = f"max_fails={UPSTREAM_MAX_FAILS} fail_timeout={UPSTREAM_FAIL_TIMEOUT_SECONDS}s"
BEFORE_PARAMS = "max_fails=0"
PLAYS = (
    ("before: stop-first, max_fails=0 (the program before issue 14)", "stop-first", BEFORE_PARAMS),
    ("create-first with max_fails=0 (the order alone)", "create-first", BEFORE_PARAMS),
    ("after: create-first with the generated config", "create-first", CURRENT_PARAMS),
)


def play(root: Path, order: str, params: str, options: argparse.Namespace) -> list[Result]:
    with ExitStack() as stack:
        ns = stack.enter_context(NetNamespace())
        dns = DnsStub(DNS_ADDRESS, 53, ns.entered)
        stack.enter_context(dns)
        workdir = Workdir(root)
        stack.callback(workdir.remove)
        config = render_nginx_config([route()], TlsSettings(), PublicPorts(8080, 8443), workdir.runtime(False))
        assert f"resolve {CURRENT_PARAMS};" in config
        config = config.replace(f"resolve {CURRENT_PARAMS};", f"resolve {params};")
        old_address = ns.add_address()
        old = StubBackend("old", ns, old_address).__enter__()
        stack.callback(old.__exit__)
        dns.records[ALIAS] = [old_address]
        stack.enter_context(NginxProcess(ns, workdir, config, (HTTP_PORT,)))
        load = Load(ns, options.rate).__enter__()
        time.sleep(WARM_SECONDS)

        def start_new(address: str) -> None:
            time.sleep(options.listen_after)
            stack.enter_context(StubBackend("new", ns, address))

        if order == "stop-first":
            old.__exit__()
            ns.remove_address(old_address, stale=True)
            dns.records[ALIAS] = []
            time.sleep(options.start_seconds)
            new_address = ns.add_address()
            dns.records[ALIAS] = [new_address]
            start_new(new_address)
        else:
            new_address = ns.add_address()
            dns.records[ALIAS] = [old_address, new_address]
            listening = threading.Thread(target=start_new, args=(new_address,))
            listening.start()
            time.sleep(options.start_seconds)
            listening.join()
            old.__exit__()  # SIGWINCH: the listener closes, in-flight requests finish
            time.sleep(options.drain_seconds)
            ns.remove_address(old_address, stale=True)
            dns.records[ALIAS] = [new_address]
        time.sleep(AFTER_SECONDS)
        return load.stop()


def print_report(label: str, results: list[Result]) -> None:
    failed = [result for result in results if result.status != "200"]
    longest = max(results, key=lambda result: result.seconds)
    print(f"\n{label}:")
    print(f"  requests sent:                  {len(results)} ({sum(r.method == 'POST' for r in results)} POST)")
    for method in ("GET", "POST"):
        bad = [r for r in failed if r.method == method]
        print(f"  failed {method + ':':5}                   {len(bad)}  {dict(Counter(r.status for r in bad))}")
    print(f"  longest request (the stall):    {longest.seconds:5.2f} s, started {longest.started:5.2f} s in")
    print(f"  requests over 1 s:              {sum(r.seconds > 1 for r in results)}")
    print(f"  answered by:                    {dict(Counter(r.backend or '-' for r in results))}")
    served = [r.seconds for r in results if r.status == "200"] or [0.0]
    print(f"  median of the answered:         {statistics.median(served) * 1000:5.1f} ms")


# --- the same plays on a real Docker 28 engine (``--docker``) -------------------------------------------

NGINX_FILES = ("/usr/sbin/nginx", "/etc/nginx/mime.types")
APP_HEALTH = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 127.0.0.1 80 | grep -q '200 OK'"
"""The stand-in app's healthcheck: its page answers (Docker runs it every 2 s in the start period)."""


def nginx_image_tar(root: Path, config: str) -> bytes:
    """nginx 1.30 from the unstable root with the libraries ``ldd`` lists, and the rendered config."""
    listed = subprocess.run(["chroot", str(root), "ldd", NGINX_FILES[0]], capture_output=True, text=True, check=True)
    libraries = [part for line in listed.stdout.splitlines() for part in line.split() if part.startswith("/")]
    buffer = io.BytesIO()
    # Dereferenced: the loader and libraries are symlinks (merged /usr) to files the image would lack.
    with tarfile.open(fileobj=buffer, mode="w", dereference=True) as archive:
        for path in (*NGINX_FILES, *libraries):
            archive.add(root / path.lstrip("/"), arcname=path.lstrip("/"), recursive=False)
        for name, text in (
            ("etc/nginx/nginx.conf", config),
            ("etc/passwd", "root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
        for directory in ("tmp", "run", "var/lib/nginx", "var/log/nginx"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            archive.addfile(info)
    return buffer.getvalue()


@contextmanager
def in_netns(path: str) -> Iterator[None]:
    """The calling thread in the network namespace at ``path`` (sockets made here stay in it)."""
    own, target = os.open("/proc/thread-self/ns/net", os.O_RDONLY), os.open(path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


class DockerLoad(Load):
    """The same load, sent from the engine's host side straight to the proxy container's address."""

    def __init__(self, netns: str, address: str, rate: float, labels: dict[str, str]) -> None:
        super().__init__(None, rate)  # type: ignore[arg-type]
        self.netns, self.address = f"/run/netns/{netns}", address
        self.labels = labels
        """Container name -> what the report calls it (``old``, ``new``)."""

    def _one(self, method: str) -> None:
        started = time.monotonic()
        status, backend = "?", None
        body = b"comment=hello" if method == "POST" else b""
        path = "/cgi-bin/post" if method == "POST" else "/"  # busybox httpd takes a POST only for a CGI
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        try:
            with in_netns(self.netns):
                sock = socket.create_connection((self.address, 80), timeout=30.0)
            with sock:
                sock.sendall(head.encode() + body)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            status = data.split(b" ", 2)[1].decode() if data else "closed"
            if status == "200":
                text = data.partition(b"\r\n\r\n")[2].decode()
                backend = next((label for name, label in self.labels.items() if name in text), "?")
        except OSError as error:
            status = type(error).__name__
        with self._lock:
            self.results.append(Result(started - self.t0, time.monotonic() - started, method, status, backend))


def run_app(engine: Engine, network: str, name: str, image: str) -> None:
    """A stand-in app under the edge alias, with the program's healthcheck timing and a stop that drains:
    on SIGTERM it stops its server (busybox httpd closes the listener) and exits."""
    cgi = f"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho {name}\n"
    serve = (
        f"mkdir -p /www/cgi-bin && echo {name} > /www/index.html && "
        f"printf '%s' \"{cgi}\" > /www/cgi-bin/post && chmod 755 /www/cgi-bin/post && "
        "httpd -f -p 80 -h /www & pid=$!; trap 'kill $pid; wait $pid; exit 0' TERM; wait $pid"
    )
    engine.docker(
        "run", "-d", "--pull=never", "--name", name, "--network", network, "--network-alias", ALIAS,
        "--health-cmd", APP_HEALTH, "--health-interval", "30s", "--health-timeout", "10s",
        "--health-start-period", "60s", "--health-start-interval", "2s", "--health-retries", "5",
        "--stop-timeout", "30", image, "sh", "-c", serve,
    )  # fmt: skip


def wait_healthy(engine: Engine, name: str, timeout: float = 60.0) -> float:
    """Poll once a second, as the provider's ``wait`` does; seconds until healthy."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        status = engine.docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
        if status == "healthy":
            return time.monotonic() - start
        time.sleep(1.0)
    raise TimeoutError(f"{name} not healthy after {timeout} s")


def delete(engine: Engine, name: str) -> None:
    """The provider's delete: ContainerStop with destroy_grace_seconds, then a forced remove."""
    engine.docker("stop", "-t", "30", name)
    engine.docker("rm", "-f", name)


def docker_play(engine: Engine, root: Path, order: str, params: str, options: argparse.Namespace) -> list[Result]:
    tag = uuid.uuid4().hex[:8]
    network, proxy = f"selfhost-bench-{tag}-edge", f"selfhost-bench-{tag}-proxy"
    old, new = f"selfhost-bench-{tag}-blog-app-{tag[:6]}", f"selfhost-bench-{tag}-blog-app-{tag[2:]}"
    if order == "stop-first":
        new = old  # the fixed name: the old one is gone before the new one is created
    runtime = dataclasses.replace(
        PRODUCTION, user="nobody nogroup", worker_processes="2", pid="/tmp/nginx.pid", error_log="stderr",
        access_log=None, temp_dir="/tmp",
    )  # fmt: skip
    config = render_nginx_config([route()], TlsSettings(), PublicPorts(8080, 8443), runtime)
    assert f"resolve {CURRENT_PARAMS};" in config
    config = config.replace(f"resolve {CURRENT_PARAMS};", f"resolve {params};")
    app_image, nginx_image = f"selfhost-bench/app-{tag}:local", f"selfhost-bench/nginx-{tag}:local"
    busybox = engine.root / "usr/bin/busybox"
    engine.docker("import", "-", app_image, input=stand_in_image_tar(busybox, extra_applets=("chmod",)))
    engine.docker("import", "-", nginx_image, input=nginx_image_tar(root, config))
    engine.docker("network", "create", "--driver", "bridge", network)
    try:
        run_app(engine, network, old, app_image)
        wait_healthy(engine, old)
        engine.docker(
            "run", "-d", "--pull=never", "--name", proxy, "--network", network, nginx_image,
            "/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf", "-e", "stderr", "-g", "daemon off;",
        )  # fmt: skip
        template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
        time.sleep(1.0)
        address = engine.docker("inspect", "--format", template, proxy).stdout.strip()
        if not address:
            raise RuntimeError(f"the proxy did not start: {engine.docker('logs', proxy, check=False).stderr}")
        labels = {old: "old", new: "new"} if old != new else {old: "app (fixed name)"}
        load = DockerLoad(engine.netns, address, options.rate, labels).__enter__()
        time.sleep(WARM_SECONDS)
        if order == "stop-first":
            delete(engine, old)
            run_app(engine, network, new, app_image)
            wait_healthy(engine, new)
        else:
            run_app(engine, network, new, app_image)
            wait_healthy(engine, new)
            delete(engine, old)
        time.sleep(AFTER_SECONDS)
        results = load.stop()
        logs = engine.docker("logs", proxy, check=False)
        if "emerg" in logs.stderr:
            raise RuntimeError(logs.stderr)
        return results
    finally:
        for name in (proxy, old, new):
            engine.docker("rm", "-f", name, check=False)
        engine.docker("network", "rm", network, check=False)
        for image in (app_image, nginx_image):
            engine.docker("image", "rm", image, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--start-seconds", type=float, default=3.0, help="create until healthy")
    parser.add_argument("--listen-after", type=float, default=0.5, help="from create until the app listens")
    parser.add_argument("--drain-seconds", type=float, default=1.0, help="stop signal until exit")
    parser.add_argument("--only-after", action="store_true", help="play the new order with the new config only")
    parser.add_argument("--after-params", default="", help="other upstream server parameters for that play")
    parser.add_argument("--docker", action="store_true", help="real Docker 28 containers instead of stub apps")
    options = parser.parse_args()
    reason = skip_reason() or (dockerd28.skip_reason() if options.docker else None)
    if reason:
        sys.exit(reason)
    root = nginx_root()
    print(
        f"nginx 1.30 from {root}, {options.rate:g} requests/s (GET and POST), create to healthy "
        f"{options.start_seconds:g} s, listening after {options.listen_after:g} s, drain {options.drain_seconds:g} s; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    plays = PLAYS[-1:] if options.only_after else PLAYS
    with ExitStack() as stack:
        engine = stack.enter_context(dockerd28.running_engine()) if options.docker else None
        if engine is not None:
            print(f"Docker {engine.docker('version', '--format', '{{.Server.Version}}').stdout.strip()} from the root")
        for label, order, params in plays:
            params = options.after_params if options.after_params and params == CURRENT_PARAMS else params
            if engine is not None:
                results = docker_play(engine, root, order, params, options)
            else:
                results = play(root, order, params, options)
            print_report(f"{label} [{params}]", results)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
