"""Real nginx on loopback in front of stub backends, for the live tests and the bench.

Stub backends are small threaded HTTP/1.1 servers that consume any request body and
answer with JSON describing what reached them (path, method, headers, body size, which
upstream connection carried it). Debian's nginx runs the rendered config non-daemonised
in a temporary prefix, on high loopback ports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from components.nginx_config import Runtime, UpstreamMode

NGINX = "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class StubRecord:
    """What one stub saw: request starts (before the body was read) and upstream connections."""

    started: dict[str, threading.Event] = field(default_factory=dict)
    connections: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, path: str) -> threading.Event:
        with self.lock:
            return self.started.setdefault(path, threading.Event())


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle plus delayed ACKs stall
    # every response on a kept-alive connection by ~40 ms.
    disable_nagle_algorithm = True
    server: _StubServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _consume_body(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                remaining = size
                while remaining:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
                self.rfile.readline()
                total += size
        remaining = length = int(self.headers.get("Content-Length") or 0)
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        return length - remaining

    def _handle(self) -> None:
        record = self.server.record
        url = urlsplit(self.path)
        record.event(url.path).set()
        with record.lock:
            record.connections.append(self.client_address[1])
        body_bytes = self._consume_body()
        query = parse_qs(url.query)
        if "size" in query:
            body = b"x" * int(query["size"][0])
            content_type = query.get("type", ["text/plain"])[0]
        else:
            report = {
                "backend": self.server.name,
                "method": self.command,
                "path": self.path,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body_bytes": body_bytes,
            }
            body = json.dumps(report).encode()
            content_type = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for extra in self.headers.get_all("X-Stub-Header") or []:
            name, _, value = extra.partition(":")
            self.send_header(name.strip(), value.strip())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PROPFIND = _handle  # noqa: N815


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a proxy without keep-alive opens a connection per request

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients (wrk, curl) hang up mid-response at times; that is not a stub failure."""

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.name = name
        self.record = StubRecord()


class StubBackend:
    """One stub app on 127.0.0.1:<port>, serving from a background thread."""

    def __init__(self, name: str) -> None:
        self._server = _StubServer(name)
        self.name = name
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def record(self) -> StubRecord:
        return self._server.record

    def __enter__(self) -> StubBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def debian_runtime(
    prefix: Path,
    http_port: int,
    https_port: int,
    upstream_mode: UpstreamMode = "static",
    access_log: bool = True,
    worker_processes: str = "2",
) -> Runtime:
    """Production's config, adapted to Debian's nginx 1.22 in a private prefix on loopback."""
    return Runtime(
        http_listen=f"127.0.0.1:{http_port}",
        https_listen=f"127.0.0.1:{https_port}",
        resolver="127.0.0.1",
        upstream_mode=upstream_mode,
        http2_directive=False,
        user="root" if os.geteuid() == 0 else None,
        worker_processes=worker_processes,
        pid=str(prefix / "nginx.pid"),
        error_log=str(prefix / "error.log"),
        access_log=str(prefix / "access.log") if access_log else None,
        temp_dir=str(prefix / "tmp"),
        certificate_path=str(prefix / "tls" / "fullchain.pem"),
        key_path=str(prefix / "tls" / "privkey.pem"),
    )


class NginxProcess:
    """``nginx -p prefix -c conf -e errlog`` in the foreground; checked with ``-t`` first."""

    def __init__(self, prefix: Path, config: str, ports: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.config_path = prefix / "nginx.conf"
        self.error_log = prefix / "error.log"
        self.ports = ports
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config)
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.config_path), "-e", str(self.error_log), *extra]

    def check(self) -> None:
        result = subprocess.run(self._command("-t"), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t rejected the config:\n{result.stderr}")

    def __enter__(self) -> NginxProcess:
        self.check()
        self._process = subprocess.Popen(
            self._command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            for port in self.ports:
                wait_for_port(port)
        except TimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError(f"nginx did not come up:\n{self.errors()}") from None
        return self

    def errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def self_signed_certificate(directory: Path, names: list[str]) -> tuple[Path, Path]:
    """A throwaway certificate for ``names`` (subjectAltName), made with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={names[0]}",
            "-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in names),
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key
