"""WordPress for real behind the edge: direct, through the generated config without cache, with the microcache.

    python bench/wordpress_microcache.py [--duration 15] [--connections 16] [--posts 30]

WordPress 7.1 (Debian's ``wordpress`` with the Twenty Twenty-Five theme), PHP 8.4 as Apache's
mod_php (prefork, KeepAlive as Debian ships it, like the official ``wordpress:*-apache`` image)
and MariaDB 11.8, all from the Debian unstable root (tests/sidroot.py), in a network namespace
of their own with a stub of Docker's DNS (tests/nginx_harness.py): Apache on an "edge" address
as the app container, nginx 1.30 on 127.0.0.1:80 with the config the program renders for a
WordPress route (production's, but for listen addresses and paths; the cache directory is a
tmpfs of the size production mounts). The site is installed with WordPress's own
``wp_install()`` from the PHP CLI, with ``--posts`` sample posts and pretty permalinks.

Measured with wrk (the host's, Debian's 4.1): the front page, anonymous, direct from Apache,
through the edge without cache, through the edge with the microcache; and a logged-in front
page through the edge (a real ``wordpress_logged_in_*`` cookie from ``wp_generate_auth_cookie``).
Throughput at ``--connections``, latency at one connection (the median the target is about);
the edge's own cost also on a static copy of the front page that Apache serves from a file
(same size, same proxying, none of PHP's run-to-run variation, which on a loaded machine is
larger than the figure sought).
Over the whole run a Lua script in wrk and a probe thread count answers to logged-in, POST and
query-string requests that came from the cache (X-Cache-Status HIT, STALE, UPDATING,
REVALIDATED): that figure must be 0.

CPUs: the backend (Apache, PHP, MariaDB, and this script's DNS stub and probes) is pinned to
the last CPU, nginx (one worker) and wrk to the first ones (``taskset``); on a 2-CPU machine
nginx and wrk share CPU 0. Other work on the machine skews every figure: the load average is
printed with them.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proxy_wrk import Cpus, pin_tree
from components.apps.wordpress import spec as wordpress
from components.apps.wordpress.settings import WordPressApp, WordPressMicrocache
from components.edge.nginx.config import PublicPorts, TlsSettings, microcache_tmpfs, render_nginx_config
from components.edge.routes import ProxyRoute
from tests import sidroot
from tests.dns_stub import DnsStub
from tests.nginx_harness import (
    DNS_ADDRESS,
    HTTP_PORT,
    LISTEN_ADDRESS,
    NetNamespace,
    NginxProcess,
    Workdir,
    namespaced_runtime,
    nginx_root,
    skip_reason,
    wait_for_port,
)

HOST_NAME = "blog.bench"
PUBLIC = PublicPorts(8080, 8443)
HOST = f"{HOST_NAME}:{PUBLIC.http}"
"""What every request carries (direct ones too): WordPress redirects any other host to its home URL."""
PACKAGES = (
    "nginx", "wordpress", "wordpress-theme-twentytwentyfive", "libapache2-mod-php8.4", "php8.4-mysql",
    "php8.4-cli", "mariadb-server",
)  # fmt: skip
CACHED = ("HIT", "STALE", "UPDATING", "REVALIDATED")
MYSQL_SOCKET = "/run/mysqld/mysqld.sock"
STATIC_PATH = "/bench-static/front-page.html"
"""Apache serves the rendered front page from a file here (not under /wp-content/: the edge passes it as a page)."""

APACHE_CONF = r"""ServerRoot /tmp/apache
DefaultRuntimeDir /tmp/apache
Mutex file:/tmp/apache default
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule php_module /usr/lib/apache2/modules/libphp8.4.so
Listen {address}:80
ServerName {host}
PidFile /tmp/apache/httpd.pid
ErrorLog /tmp/apache/error.log
User www-data
Group www-data
# Debian's apache2.conf and mpm_prefork.conf, as the official image runs them.
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
StartServers 5
MinSpareServers 5
MaxSpareServers 10
MaxRequestWorkers 150
DocumentRoot /usr/share/wordpress
DirectoryIndex index.php
# The front page's HTML as a file: what the proxy adds per request, without PHP's noise.
Alias {static_path} /tmp/apache/page.html
<Directory /tmp/apache>
    Require all granted
</Directory>
<FilesMatch "\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
<Directory /usr/share/wordpress>
    Require all granted
    AllowOverride None
    # WordPress's own .htaccess for pretty permalinks.
    RewriteEngine On
    RewriteBase /
    RewriteRule ^index\.php$ - [L]
    RewriteCond %{{REQUEST_FILENAME}} !-f
    RewriteCond %{{REQUEST_FILENAME}} !-d
    RewriteRule . /index.php [L]
</Directory>
"""

INSTALL_PHP = r"""<?php
// The site, installed the way WordPress's installer does it (wp-admin/install.php calls wp_install()).
$_SERVER['HTTP_HOST'] = '{host}';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('Bench', 'admin', 'admin@example.com', true, '', '{password}');
switch_theme('twentytwentyfive');
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%year%/%monthnum%/%postname%/');
$paragraph = '<!-- wp:paragraph --><p>' . str_repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 12)
    . '</p><!-- /wp:paragraph -->';
$first = 0;
for ($i = 1; $i <= {posts}; $i++) {{
    $id = wp_insert_post([
        'post_title' => "Sample post $i", 'post_content' => str_repeat($paragraph, 6), 'post_status' => 'publish',
        'post_author' => 1, 'post_date' => gmdate('Y-m-d H:i:s', time() - $i * 3600),
    ]);
    $first = $first ?: $id;
}}
flush_rewrite_rules(false);
$user = get_user_by('login', 'admin');
$cookie = wp_generate_auth_cookie($user->ID, time() + 86400, 'logged_in');
echo 'COOKIE ' . LOGGED_IN_COOKIE . '=' . urlencode($cookie) . "\n";
echo 'POST ' . wp_make_link_relative(get_permalink($first)) . "\n";
echo 'ID ' . $first . "\n";
echo 'VERSION ' . get_bloginfo('version') . "\n";
"""

WRK_COUNTER = r"""-- Counts answers that came from the microcache (X-Cache-Status), summed over wrk's threads.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["Host"] = os.getenv("BENCH_HOST")
local cookie = os.getenv("BENCH_COOKIE") or ""
if cookie ~= "" then wrk.headers["Cookie"] = cookie end
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local from_cache = { HIT = true, STALE = true, UPDATING = true, REVALIDATED = true }
cached = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if from_cache[headers["X-Cache-Status"] or ""] then cached = cached + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("cached") end
  io.write(string.format("cached-responses: %d\n", total))
end
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class Site:
    """MariaDB and Apache with mod_php in a private mount namespace inside ``ns``, on the backend CPU."""

    def __init__(self, ns: NetNamespace, root: Path, address: str, cpus: Cpus) -> None:
        self.root = root
        self.address = address
        salts = "".join(
            f"define('{key}', '{secrets.token_hex(32)}');\n"
            for key in (
                *("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY"),
                *("AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"),
            )
        )
        config = (
            "<?php\n"
            "define('DB_NAME', 'wordpress');\ndefine('DB_USER', 'wordpress');\ndefine('DB_PASSWORD', 'bench');\n"
            f"define('DB_HOST', 'localhost:{MYSQL_SOCKET}');\n"
            f"define('WP_HOME', 'http://{HOST}');\ndefine('WP_SITEURL', 'http://{HOST}');\n"
            # As the program's WordPress: the cron container runs events, page views spawn nothing.
            "define('DISABLE_WP_CRON', true);\ndefine('WP_HTTP_BLOCK_EXTERNAL', true);\n" + salts
        )
        files = {
            "/etc/wordpress/config-default.php": config,
            "/tmp/apache/httpd.conf": APACHE_CONF.format(address=address, host=HOST_NAME, static_path=STATIC_PATH),
        }
        writes = "".join(f"printf '%s' {_quote(text)} >{root}{path}\n" for path, text in files.items())
        mariadb = f"chroot {root} mariadb --no-defaults --socket={MYSQL_SOCKET}"
        script = f"""set -e
mount -t tmpfs -o mode=1777 tmpfs {root}/tmp
mount -t tmpfs -o mode=755 tmpfs {root}/run
mount -t proc proc {root}/proc
mount -t tmpfs -o mode=755 tmpfs {root}/etc/wordpress
mkdir -p {root}/run/mysqld {root}/tmp/apache
{writes}
chroot {root} mariadb-install-db --no-defaults --user=root --datadir=/tmp/mysql --skip-test-db \\
    --auth-root-authentication-method=socket >/dev/null
chroot {root} mariadbd --no-defaults --user=root --datadir=/tmp/mysql --socket={MYSQL_SOCKET} --skip-networking \
    >{root}/tmp/mysql.log 2>&1 &
i=0
until {mariadb} -e 'select 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 300 ]; sleep 0.1; done
{mariadb} -e "create database wordpress; create user wordpress@localhost identified by 'bench';
    grant all on wordpress.* to wordpress@localhost;"
chroot {root} apache2 -f /tmp/apache/httpd.conf -DFOREGROUND >{root}/tmp/apache/stdout.log 2>&1 &
echo ready
wait
"""
        self.process = subprocess.Popen(
            ns.command("taskset", "-c", cpus.backend, "unshare", "--mount", "--propagation", "private", "sh", "-ec",
                       script),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the site did not start: {line}{self.process.stdout.read().decode()[-2000:]}")
        self.cpus = cpus
        wait_for_port(ns, 80, address, timeout=30)

    def run(self, *argv: str, input: str | None = None) -> str:
        """``argv`` in the site's namespaces and root, on the backend CPU."""
        command = [
            "taskset", "-c", self.cpus.backend, "nsenter", "-t", str(self.process.pid), "-n", "-m",
            "chroot", str(self.root), *argv,
        ]  # fmt: skip
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
        return result.stdout

    def install(self, posts: int) -> dict[str, str]:
        self.run("sh", "-c", "cat >/tmp/install.php", input=INSTALL_PHP.format(
            host=HOST_NAME, password=secrets.token_urlsafe(16), posts=posts))  # fmt: skip
        output = self.run("php", "/tmp/install.php")
        facts = dict(line.split(" ", 1) for line in output.splitlines() if line[:1].isupper() and " " in line)
        if not {"COOKIE", "POST", "ID", "VERSION"} <= set(facts):
            raise RuntimeError(f"the install printed no cookie: {output[-2000:]}")
        return facts

    def save_front_page(self) -> int:
        """The front page as rendered now, written where Apache serves ``STATIC_PATH``; its size."""
        html = self.run("curl", "-s", "-H", f"Host: {HOST}", f"http://{self.address}/")
        self.run("sh", "-c", "cat >/tmp/apache/page.html && chmod 0644 /tmp/apache/page.html", input=html)
        return len(html.encode())

    def versions(self) -> list[str]:
        php = self.run("php", "-r", "echo PHP_VERSION;")
        apache = self.run("apache2", "-v").splitlines()[0].split(":", 1)[1].strip()
        mariadb = self.run("mariadbd", "--version").split("Ver", 1)[1].split()[0]
        return [f"PHP {php}", apache, f"MariaDB {mariadb}"]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass(frozen=True)
class Result:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cached: int | None = None
    """Answers from the cache, where wrk counted them (the Lua script)."""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


def run_wrk(
    ns: NetNamespace,
    label: str,
    url: str,
    cpus: Cpus,
    seconds: int,
    connections: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    threads = max(1, min(connections, len(cpus.front.split(","))))
    command = ns.command(
        "taskset", "-c", cpus.front, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
        "--timeout", "10s", *(("-s", str(script)) if script else ("-H", f"Host: {HOST}")), url,
    )  # fmt: skip
    run = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "BENCH_HOST": HOST, **(env or {})}
    )
    if run.returncode != 0:
        raise RuntimeError(f"wrk {label} failed: {run.stdout[-1000:]}{run.stderr[-1000:]}")
    output = run.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    counted = re.search(r"cached-responses: (\d+)", output)
    return Result(
        label, rps, p50, p99, errors + (int(non_2xx.group(1)) if non_2xx else 0),
        int(counted.group(1)) if counted else None,
    )  # fmt: skip


def blog_route(microcache: bool) -> ProxyRoute:
    app = WordPressApp(kind="wordpress", hostname=HOST_NAME, microcache=WordPressMicrocache(enabled=microcache))
    return wordpress.route("blog", app)


@contextmanager
def edge(ns: NetNamespace, root: Path, dns: DnsStub, route: ProxyRoute, cpus: Cpus) -> Iterator[None]:
    """The generated nginx.conf for ``route`` on nginx 1.30, one worker, pinned to the front CPUs."""
    workdir = Workdir(root)
    mounts: list[Path] = []
    try:
        runtime = namespaced_runtime(workdir.inside, access_log=False, worker_processes="1")
        for path, options in microcache_tmpfs([route], runtime).items():
            mount_point = root / path.lstrip("/")
            mount_point.mkdir(parents=True)
            size = options.split(",")[0]
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"{size},mode=0700", "tmpfs", str(mount_point)], check=True)
            mounts.append(mount_point)
        config = render_nginx_config([route], TlsSettings(), PUBLIC, runtime)
        with NginxProcess(ns, workdir, config, (HTTP_PORT,)) as nginx:
            pin_tree(nginx.pid, cpus.front)
            dns.next_answer(route.upstream_host, 0.0, timeout=10)
            time.sleep(0.3)
            yield
    finally:
        for mount_point in mounts:
            subprocess.run(["umount", str(mount_point)], check=False)
        workdir.remove()


class _Connection(http.client.HTTPConnection):
    def __init__(self, ns: NetNamespace) -> None:
        super().__init__(LISTEN_ADDRESS, HTTP_PORT, timeout=30)
        self.ns = ns

    def connect(self) -> None:
        self.sock = self.ns.connect(self.host, self.port, timeout=30)


def cache_status(ns: NetNamespace, path: str, method: str = "GET", cookie: str = "") -> str:
    connection = _Connection(ns)
    try:
        body = b"comment=bench" if method == "POST" else None
        headers = {"Host": HOST, **({"Cookie": cookie} if cookie else {})}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.getheader("X-Cache-Status") or "-"
    finally:
        connection.close()


class Probes:
    """Logged-in, POST and query-string requests through the edge, in a loop, while wrk runs."""

    def __init__(self, ns: NetNamespace, site: dict[str, str]) -> None:
        self.requests: Sequence[tuple[str, str, str]] = [
            ("GET", "/", site["COOKIE"]),
            ("GET", site["POST"], site["COOKIE"]),
            ("POST", "/", ""),
            ("POST", site["POST"], ""),
            ("GET", f"/?p={site['ID']}", ""),
            ("GET", "/?s=lorem", ""),
            ("GET", site["POST"] + "?replytocom=1", ""),
        ]
        self.ns = ns
        self.statuses: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for method, path, cookie in self.requests:
                self.statuses[cache_status(self.ns, path, method, cookie)] += 1

    def __enter__(self) -> Probes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cached(self) -> int:
        return sum(self.statuses[status] for status in CACHED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections of the throughput runs")
    parser.add_argument("--posts", type=int, default=30)
    options = parser.parse_args()
    reason = skip_reason() or (None if shutil.which("wrk") else "wrk is not installed (apt-get install wrk)")
    if reason:
        sys.exit(reason)
    nginx_root()
    root = sidroot.ensure_root(PACKAGES)
    cpus = Cpus.of_this_machine()
    os.sched_setaffinity(0, {int(cpus.backend)})  # the DNS stub and the probes run in this process
    load_before = os.getloadavg()
    results: list[Result] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="selfhost-wp-bench-") as scratch:
        counter = Path(scratch) / "count.lua"
        counter.write_text(WRK_COUNTER)
        ns = stack.enter_context(NetNamespace())
        dns = stack.enter_context(DnsStub(DNS_ADDRESS, 53, ns.entered))
        address = ns.add_address()
        dns.records[blog_route(True).upstream_host] = address
        site = Site(ns, root, address, cpus)
        stack.callback(site.stop)
        facts = site.install(options.posts)
        page_bytes = site.save_front_page()
        nginx_version = subprocess.run(["chroot", str(root), "nginx", "-v"], capture_output=True, text=True).stderr
        print(
            f"WordPress {facts['VERSION']}, {', '.join(site.versions())}, {nginx_version.strip()}; "
            f"{options.posts} posts, Twenty Twenty-Five; wrk -d{options.duration}s"
        )
        print(f"CPUs: backend (Apache, PHP, MariaDB) on {cpus.backend}; nginx (1 worker) and wrk on {cpus.front}")
        direct_url, edge_url = f"http://{address}:80/", f"http://{LISTEN_ADDRESS}:{HTTP_PORT}/"
        seconds, many = options.duration, options.connections
        run_wrk(ns, "warm-up", direct_url, cpus, 3, 4)  # OPcache, MariaDB's buffer pool
        results.append(run_wrk(ns, f"direct, {many} connections", direct_url, cpus, seconds, many))
        results.append(run_wrk(ns, "direct, 1 connection", direct_url, cpus, seconds, 1))
        results.append(run_wrk(ns, "direct, static copy, 1 conn.", direct_url + STATIC_PATH[1:], cpus, seconds, 1))
        with edge(ns, root, dns, blog_route(False), cpus):
            results.append(run_wrk(ns, f"edge, no cache, {many} conn.", edge_url, cpus, seconds, many))
            results.append(run_wrk(ns, "edge, no cache, 1 connection", edge_url, cpus, seconds, 1))
            results.append(
                run_wrk(ns, "edge, no cache, static copy, 1 conn.", edge_url + STATIC_PATH[1:], cpus, seconds, 1)
            )
        with edge(ns, root, dns, blog_route(True), cpus):
            first, second = cache_status(ns, "/"), cache_status(ns, "/")
            assert (first, second) == ("MISS", "HIT"), (first, second)
            with Probes(ns, facts) as probes:
                results.append(run_wrk(ns, f"edge, microcache, {many} conn.", edge_url, cpus, seconds, many))
                results.append(run_wrk(ns, "edge, microcache, 1 connection", edge_url, cpus, seconds, 1))
            logged_in = {"BENCH_COOKIE": facts["COOKIE"]}
            results.append(
                run_wrk(ns, f"edge, logged in, {many} conn.", edge_url, cpus, seconds, many, counter, logged_in)
            )
            results.append(
                run_wrk(ns, "edge, POST /", edge_url, cpus, seconds, many, counter, {"BENCH_METHOD": "POST",
                        "BENCH_BODY": "comment=bench"})
            )  # fmt: skip
            results.append(run_wrk(ns, "edge, GET /?s=lorem", edge_url + "?s=lorem", cpus, seconds, many, counter))
    load_after = os.getloadavg()

    print(f"\n{'':38} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'from cache':>11}")
    for result in results:
        cached = "" if result.cached is None else str(result.cached)
        print(
            f"{result.label:38} {result.requests_per_second:10.1f} {result.p50_ms:9.2f} {result.p99_ms:9.2f} "
            f"{result.errors:7d} {cached:>11}"
        )
    by_label = {result.label: result for result in results}
    direct, cached_page = by_label[f"direct, {many} connections"], by_label[f"edge, microcache, {many} conn."]
    added = by_label["edge, no cache, 1 connection"].p50_ms - by_label["direct, 1 connection"].p50_ms
    counted = sum(result.cached or 0 for result in results) + probes.cached
    ratio = cached_page.requests_per_second / direct.requests_per_second if direct.requests_per_second else 0.0
    print(f"\nmicrocached / direct throughput: {ratio:.0f}x" if ratio else "\ndirect: no request completed")
    static_added = (
        by_label["edge, no cache, static copy, 1 conn."].p50_ms - by_label["direct, static copy, 1 conn."].p50_ms
    )
    print(
        f"uncached edge adds at the median (1 connection): {added:+.2f} ms on the PHP page, {static_added:+.3f} ms on"
    )
    print(f"  its {page_bytes}-byte static copy (the same proxying, without PHP's run-to-run variation)")
    print(
        f"logged-in, POST and query-string answers from the cache: {counted} "
        f"(wrk: {sum(result.cached or 0 for result in results)}; probes during the cached runs: "
        f"{sum(probes.statuses.values())} requests, {dict(probes.statuses)})"
    )
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f}"
    )


if __name__ == "__main__":
    main()
