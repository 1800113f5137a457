"""wrk through the edge proxy vs. a naive proxy_pass vs. the backend direct (loopback only).

    python bench/proxy_wrk.py [--duration 5] [--connections 32] [--threads 2]

Two stub backends, each measured the same way:
- ``python``: the threaded stub of the live tests, slow like an app server, so it shows
  what the proxy costs in front of something that does work;
- ``nginx``: nginx answering ``return 200`` itself, fast enough to expose the proxy's own
  per-request cost (connection setup, header rewriting, map lookups).

Per backend: direct; ``naive`` (bare ``proxy_pass``: HTTP/1.0, a new connection per
request); the generated config as production runs it minus ``resolve`` (``static``:
keep-alive upstream); and the generated config in ``variable`` mode (per-request
resolution through a stub DNS, no keep-alive). All on one machine: wrk, nginx and the
backend share its CPUs, so absolute numbers mean little; the ratios are the result.
Access logs are off in every nginx (production logs to stdout; that cost is not measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.nginx_config import PublicPorts, TlsSettings, render_nginx_config
from components.routes import ProxyRoute
from tests.dns_stub import DnsStub
from tests.nginx_harness import NGINX, NginxProcess, StubBackend, debian_runtime, free_port

HOST = "blog.bench"
BODY_BYTES = 100
PATH = f"/bench?size={BODY_BYTES}&type=text/plain"


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


def run_wrk(label: str, port: int, options: argparse.Namespace) -> Result:
    command = [
        "wrk", f"-t{options.threads}", f"-c{options.connections}", f"-d{options.duration}s", "--latency",
        "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}{PATH}",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    avg = _ms(re.search(r"Latency\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    # The distribution's own line: a "+/- Stdev" column such as "89.99%" must not match.
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(label, rps, avg, p99, errors + (int(non_2xx.group(1)) if non_2xx else 0))


def _temp_paths(prefix: Path) -> str:
    """nginx writes temp files under its prefix, not /var/lib/nginx: no root needed."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    return "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};" for kind in kinds)


def naive_config(prefix: Path, listen: int, backend: int) -> str:
    return f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{_temp_paths(prefix)}
    server {{
        listen 127.0.0.1:{listen};
        server_name {HOST};
        location / {{ proxy_pass http://127.0.0.1:{backend}; }}
    }}
}}
"""


def fast_backend_config(prefix: Path, listen: int) -> str:
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
{_temp_paths(prefix)}
    server {{
        listen 127.0.0.1:{listen};
        location / {{ default_type text/plain; return 200 "{"x" * BODY_BYTES}"; }}
    }}
}}
"""


def route(port: int, upstream_host: str = "127.0.0.1") -> ProxyRoute:
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
def nginx(root: Path, name: str, config: str, port: int) -> Iterator[None]:
    prefix = root / name
    prefix.mkdir()
    with NginxProcess(prefix, config, (port,)):
        yield


def generated(root: Path, name: str, backend: int, port: int, mode: str, dns: DnsStub) -> str:
    prefix = root / name
    runtime = debian_runtime(prefix, port, 0, upstream_mode="static", access_log=False, worker_processes="auto")
    upstream = route(backend)
    if mode == "variable":
        runtime = dataclasses.replace(runtime, upstream_mode="variable", resolver=f"127.0.0.1:{dns.port}")
        upstream = dataclasses.replace(upstream, upstream_host="app-blog.bench")
        dns.records["app-blog.bench"] = "127.0.0.1"
    return render_nginx_config([upstream], TlsSettings(), PublicPorts(port, 443), runtime)


def measure(root: Path, backend_kind: str, options: argparse.Namespace) -> list[Result]:
    with ExitStack() as stack:
        dns = stack.enter_context(DnsStub())
        if backend_kind == "python":
            backend = stack.enter_context(StubBackend("blog")).port
        else:
            backend = free_port()
            stack.enter_context(
                nginx(
                    root,
                    f"{backend_kind}-backend",
                    fast_backend_config(root / f"{backend_kind}-backend", backend),
                    backend,
                )
            )
        results = [run_wrk("direct", backend, options)]
        naive_port = free_port()
        with nginx(
            root, f"{backend_kind}-naive", naive_config(root / f"{backend_kind}-naive", naive_port, backend), naive_port
        ):
            results.append(run_wrk("naive proxy_pass", naive_port, options))
        for mode in ("static", "variable"):
            port = free_port()
            name = f"{backend_kind}-{mode}"
            with nginx(root, name, generated(root, name, backend, port, mode, dns), port):
                label = "generated (keepalive)" if mode == "static" else "generated, variable (no keepalive)"
                results.append(run_wrk(label, port, options))
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
    for tool in ("wrk", NGINX):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install wrk nginx-light)")
    print(f"wrk -t{options.threads} -c{options.connections} -d{options.duration}s, loopback, nginx 1.22 (Debian)")
    kinds = ["python", "nginx"] if options.backend == "both" else [options.backend]
    with tempfile.TemporaryDirectory(prefix="proxy-wrk-") as root:
        for kind in kinds:
            report(kind, measure(Path(root), kind, options))


if __name__ == "__main__":
    main()
