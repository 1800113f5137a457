"""wrk through the edge proxy vs. a naive proxy_pass vs. the backend direct (loopback only).

    python bench/proxy_wrk.py [--duration 5] [--connections 32] [--threads 2]

nginx 1.30 from the Debian unstable root (tests/sidroot.py), everything in a network
namespace of its own with a stub of Docker's DNS (tests/nginx_harness.py). Two stub
backends, each measured the same way:
- ``python``: the threaded stub of the live tests, slow like an app server, so it shows
  what the proxy costs in front of something that does work;
- ``nginx``: nginx answering ``return 200`` itself, fast enough to expose the proxy's own
  per-request cost (connection setup, header rewriting, map lookups).

Per backend: direct; ``naive`` (bare ``proxy_pass``: HTTP/1.0, a new connection per
request); the generated config as production runs it (``server … resolve`` with keep-alive
upstream); and the generated config in ``variable`` mode (per-request resolution, no
keep-alive). All on one machine; with ``taskset`` the backend (the Python stub runs in this
process; the nginx backend's workers) gets the last CPU, the proxy's nginx (one worker per
remaining CPU) and wrk the others: on a 2-CPU machine nginx and wrk share CPU 0. Absolute
numbers still mean little; the ratios are the result. Access logs are off in every nginx
(production logs to stdout; that cost is not measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.edge.nginx.config import PublicPorts, TlsSettings, UpstreamMode, render_nginx_config
from components.edge.routes import ProxyRoute
from tests.dns_stub import DnsStub
from tests.nginx_harness import (
    DNS_ADDRESS,
    HTTP_PORT,
    LISTEN_ADDRESS,
    NetNamespace,
    NginxProcess,
    StubBackend,
    Workdir,
    namespaced_runtime,
    nginx_root,
    skip_reason,
)

HOST = "blog.bench"
ALIAS = "app-blog"
"""The generated config's upstream, resolved by the stub DNS to the backend on loopback."""
BACKEND_PORT, NAIVE_PORT = 8002, 8001
BODY_BYTES = 100
PATH = f"/bench?size={BODY_BYTES}&type=text/plain"


@dataclass(frozen=True)
class Cpus:
    """Where the backend runs, and where nginx and wrk run: apart where the machine has the CPUs."""

    backend: str
    front: str
    """nginx and wrk."""

    @staticmethod
    def of_this_machine() -> Cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) == 1:
            return Cpus(str(cpus[0]), str(cpus[0]))
        return Cpus(str(cpus[-1]), ",".join(str(cpu) for cpu in cpus[:-1]))


def pin_tree(pid: int, cpus: str) -> None:
    """``taskset`` every thread of ``pid`` and of its children (nginx's workers, cache manager)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, capture_output=True)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        pin_tree(int(child), cpus)


@dataclass(frozen=True)
class Result:
    label: str
    requests_per_second: float
    latency_avg_ms: float
    latency_p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


def run_wrk(ns: NetNamespace, label: str, port: int, options: argparse.Namespace, cpus: Cpus) -> Result:
    command = ns.command(
        "taskset", "-c", cpus.front,
        "wrk", f"-t{options.threads}", f"-c{options.connections}", f"-d{options.duration}s", "--latency",
        "-H", f"Host: {HOST}", f"http://{LISTEN_ADDRESS}:{port}{PATH}",
    )  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    avg = _ms(re.search(r"Latency\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    # The distribution's own line: a "+/- Stdev" column such as "89.99%" must not match.
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(label, rps, avg, p99, errors + (int(non_2xx.group(1)) if non_2xx else 0))


def _files(inside: PurePosixPath) -> tuple[str, str]:
    """Main-context lines (pid, error log) and http-context temp paths, all under ``inside``."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    lines = [f"pid {inside}/nginx.pid;", f"error_log {inside}/error.log warn;"]
    return "\n".join(lines), "\n".join(f"    {kind}_temp_path {inside}/tmp/{kind};" for kind in kinds)


def naive_config(inside: PurePosixPath, listen: int, backend: int) -> str:
    main, temp = _files(inside)
    return f"""
{main}
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    server {{
        listen {LISTEN_ADDRESS}:{listen};
        server_name {HOST};
        location / {{ proxy_pass http://{LISTEN_ADDRESS}:{backend}; }}
    }}
}}
"""


def fast_backend_config(inside: PurePosixPath, listen: int) -> str:
    main, temp = _files(inside)
    return f"""
worker_processes 1;
{main}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
{temp}
    server {{
        listen {LISTEN_ADDRESS}:{listen};
        location / {{ default_type text/plain; return 200 "{"x" * BODY_BYTES}"; }}
    }}
}}
"""


def route(port: int, upstream_host: str = ALIAS) -> ProxyRoute:
    return ProxyRoute(
        app="blog",
        kind="wordpress",
        server_name=HOST,
        upstream_host=upstream_host,
        upstream_port=port,
        max_body_bytes=65 * 1024**2,
        read_timeout_seconds=120,
        request_buffering=True,
        dav_redirects=False,
        login_paths=("/wp-login.php", "/xmlrpc.php"),
        static_cache_paths=("/wp-content/", "/wp-includes/"),
    )


@contextmanager
def nginx(ns: NetNamespace, root: Path, config: Callable[[PurePosixPath], str], port: int, cpus: str) -> Iterator[None]:
    """An nginx with every process pinned to ``cpus``."""
    workdir = Workdir(root)
    try:
        with NginxProcess(ns, workdir, config(workdir.inside), (port,)) as process:
            pin_tree(process.pid, cpus)
            yield
    finally:
        workdir.remove()


def generated(backend: int, mode: UpstreamMode, workers: int) -> Callable[[PurePosixPath], str]:
    def render(inside: PurePosixPath) -> str:
        runtime = namespaced_runtime(inside, access_log=False, worker_processes=str(workers))
        runtime = dataclasses.replace(runtime, upstream_mode=mode)
        return render_nginx_config([route(backend)], TlsSettings(), PublicPorts(8080, 8443), runtime)

    return render


def measure(root: Path, backend_kind: str, options: argparse.Namespace, cpus: Cpus) -> list[Result]:
    with ExitStack() as stack:
        ns = stack.enter_context(NetNamespace())
        dns = stack.enter_context(DnsStub(DNS_ADDRESS, 53, ns.entered))
        dns.records[ALIAS] = LISTEN_ADDRESS
        if backend_kind == "python":
            stack.enter_context(StubBackend("blog", ns, LISTEN_ADDRESS, BACKEND_PORT))
        else:
            stack.enter_context(
                nginx(ns, root, lambda inside: fast_backend_config(inside, BACKEND_PORT), BACKEND_PORT, cpus.backend)
            )
        results = [run_wrk(ns, "direct", BACKEND_PORT, options, cpus)]
        naive = nginx(ns, root, lambda inside: naive_config(inside, NAIVE_PORT, BACKEND_PORT), NAIVE_PORT, cpus.front)
        with naive:
            results.append(run_wrk(ns, "naive proxy_pass", NAIVE_PORT, options, cpus))
        modes: list[tuple[UpstreamMode, str]] = [
            ("resolve", "generated (resolve, keepalive)"),
            ("variable", "generated, variable (no keepalive)"),
        ]
        for mode, label in modes:
            workers = len(cpus.front.split(","))
            with nginx(ns, root, generated(BACKEND_PORT, mode, workers), HTTP_PORT, cpus.front):
                if mode == "resolve":
                    dns.next_answer(ALIAS, 0.0)
                results.append(run_wrk(ns, label, HTTP_PORT, options, cpus))
        return results


def report(backend_kind: str, results: list[Result]) -> None:
    direct = results[0]
    naive = results[1]
    print(f"\nbackend: {backend_kind}  ({BODY_BYTES}-byte responses)")
    print(f"{'':36} {'req/s':>10} {'avg ms':>8} {'p99 ms':>8} {'errors':>7} {'vs direct':>10} {'vs naive':>9}")
    for result in results:
        print(
            f"{result.label:36} {result.requests_per_second:10.0f} {result.latency_avg_ms:8.2f} "
            f"{result.latency_p99_ms:8.2f} {result.errors:7d} "
            f"{result.requests_per_second / direct.requests_per_second:10.2f} "
            f"{result.requests_per_second / naive.requests_per_second:9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", choices=["python", "nginx", "both"], default="both")
    options = parser.parse_args()
    reason = skip_reason() or (None if shutil.which("wrk") else "wrk is not installed (apt-get install wrk)")
    if reason:
        sys.exit(reason)
    root = nginx_root()
    version = subprocess.run(["chroot", str(root), "nginx", "-v"], capture_output=True, text=True).stderr.strip()
    cpus = Cpus.of_this_machine()
    os.sched_setaffinity(0, {int(cpu) for cpu in cpus.backend.split(",")})  # the Python stub backend's threads
    print(f"wrk -t{options.threads} -c{options.connections} -d{options.duration}s, loopback, {version}")
    print(f"CPUs: backend on {cpus.backend}; nginx and wrk on {cpus.front}; load average {os.getloadavg()[0]:.2f}")
    kinds = ["python", "nginx"] if options.backend == "both" else [options.backend]
    for kind in kinds:
        report(kind, measure(root, kind, options, cpus))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
