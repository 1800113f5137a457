"""What requests do while nginx still has a recreated app container's old address.

    python bench/upstream_stall.py [--rate 10] [--after-seconds 16] [--neighbour stale|none] [--gap 0]

The production nginx.conf on nginx 1.30 (Debian unstable's, tests/sidroot.py) in a network
namespace of its own, with a stub of Docker's DNS on 127.0.0.11 (TTL 600 s, like Docker's)
and a stub app; see tests/nginx_harness.py. One recreation is played per configuration:
the old app closes its connections (as a stopping Apache does), its address is removed
(``--neighbour stale``: the kernel still knows the vanished MAC, frames are dropped without
a word, as on a busy bridge; ``none``: ARP gets no answer, connects fail after ~3 s), and
at the same instant the DNS stub answers with the new app's address (``--gap S``: with
NXDOMAIN for S seconds first, as while Pulumi creates the replacement of a container it
deleted first). The swap is timed
right after nginx's own re-resolution of the alias: the worst case, the old address
stays in use for the whole interval.

A client sends ``--rate`` requests a second (each on a new connection, 30 s client timeout)
and the script prints how long nginx used the old address, what the requests sent there
got and how long each took, for the values before (valid=10s, proxy_connect_timeout 5s)
and after (the values components/edge/nginx/config.py renders now).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.edge.nginx.config import (
    RESOLVE_VALID_SECONDS,
    UPSTREAM_CONNECT_TIMEOUT_SECONDS,
    PublicPorts,
    TlsSettings,
    render_nginx_config,
)
from components.edge.routes import ProxyRoute
from tests.dns_stub import DnsStub
from tests.nginx_harness import (
    DNS_ADDRESS,
    HTTP_PORT,
    NetNamespace,
    NginxProcess,
    Outcome,
    StubBackend,
    Workdir,
    get,
    get_at_rate,
    nginx_root,
    skip_reason,
)

HOST = "blog.bench"
ALIAS = "app-blog"


@dataclass(frozen=True)
class Report:
    label: str
    valid_seconds: int
    connect_timeout_seconds: int
    resolve_interval: float
    outcomes: list[Outcome]

    @property
    def stale(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.backend != "new"]

    @property
    def window(self) -> float:
        """From the swap to the start of the last request that did not reach the new app."""
        return max((outcome.started for outcome in self.stale), default=0.0)


def route() -> ProxyRoute:
    return ProxyRoute(
        app="blog",
        kind="wordpress",
        server_name=HOST,
        upstream_host=ALIAS,
        upstream_port=80,
        max_body_bytes=1024**2,
        read_timeout_seconds=120,
        request_buffering=True,
        dav_redirects=False,
    )


def play(root: Path, label: str, valid: int, connect: int, options: argparse.Namespace) -> Report:
    with ExitStack() as stack:
        ns = stack.enter_context(NetNamespace())
        dns = stack.enter_context(DnsStub(DNS_ADDRESS, 53, ns.entered))
        workdir = Workdir(root)
        stack.callback(workdir.remove)
        old_address, new_address = ns.add_address(), ns.add_address()
        dns.records[ALIAS] = old_address
        runtime = dataclasses.replace(
            workdir.runtime(access_log=False), resolve_valid_seconds=valid, connect_timeout_seconds=connect
        )
        config = render_nginx_config([route()], TlsSettings(), PublicPorts(8080, 8443), runtime)
        stack.enter_context(StubBackend("new", ns, new_address))
        old = StubBackend("old", ns, old_address).__enter__()
        stack.callback(old.__exit__)
        stack.enter_context(NginxProcess(ns, workdir, config, (HTTP_PORT,)))
        first = dns.next_answer(ALIAS, 0.0)
        second = dns.next_answer(ALIAS, first)  # one whole re-resolution interval, observed
        warm = [get(ns, HOST, time.monotonic()) for _ in range(5)]  # steady traffic to the old app
        assert all(outcome.backend == "old" for outcome in warm), warm
        dns.next_answer(ALIAS, second)
        old.__exit__()  # the old container stops: its connections close
        ns.remove_address(old_address, stale=options.neighbour == "stale")
        t0 = time.monotonic()
        if options.gap:
            del dns.records[ALIAS]
            threading.Timer(options.gap, dns.records.__setitem__, (ALIAS, new_address)).start()
        else:
            dns.records[ALIAS] = new_address
        outcomes = get_at_rate(ns, HOST, t0, options.rate, options.after_seconds)
        return Report(label, valid, connect, second - first, outcomes)


def print_report(report: Report) -> None:
    stale = report.stale
    settings = f"resolver valid={report.valid_seconds}s, proxy_connect_timeout {report.connect_timeout_seconds}s"
    print(f"\n{report.label}: {settings}")
    print(f"  re-resolution interval observed:          {report.resolve_interval:5.2f} s")
    print(f"  last request missing the new app started: {report.window:5.2f} s after the swap")
    print(f"  requests sent after the swap:             {len(report.outcomes)}")
    print(f"  of which did not reach the new app:       {len(stale)}  {dict(Counter(o.status for o in stale))}")
    if stale:
        durations = [o.seconds for o in stale]
        print(
            f"  each of those took (min / median / max):  {min(durations):5.2f} / "
            f"{statistics.median(durations):5.2f} / {max(durations):5.2f} s"
        )
    served = [o.seconds for o in report.outcomes if o.backend == "new"]
    if served:
        print(f"  served by the new app, median time:       {statistics.median(served) * 1000:5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second after the swap")
    parser.add_argument("--after-seconds", type=float, default=16.0, help="how long to send them")
    parser.add_argument("--neighbour", choices=["stale", "none"], default="stale")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds of NXDOMAIN before the new address")
    options = parser.parse_args()
    reason = skip_reason()
    if reason:
        sys.exit(reason)
    root = nginx_root()
    print(f"nginx 1.30 from {root}, {options.rate:g} requests/s for {options.after_seconds:g} s after the swap, "
          f"neighbour entry of the old address: {options.neighbour}, NXDOMAIN gap {options.gap:g} s")  # fmt: skip
    for label, valid, connect in (
        ("before", 10, 5),
        ("after", RESOLVE_VALID_SECONDS, UPSTREAM_CONNECT_TIMEOUT_SECONDS),
    ):
        print_report(play(root, label, valid, connect, options))


if __name__ == "__main__":
    main()
