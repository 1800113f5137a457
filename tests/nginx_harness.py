"""The production nginx.conf on a real nginx 1.30, in front of stub apps and a stub of Docker's DNS.

nginx is Debian unstable's 1.30 from the cached root of ``tests/sidroot.py`` (``chroot ROOT
nginx``), run with the official image's worker user ``nginx`` (created in the root). It runs
in a network namespace of its own that stands in for the proxy container's view of the edge
network:

- 127.0.0.11:53 is a :class:`~tests.dns_stub.DnsStub`, as Docker's embedded DNS (the
  config's ``resolver 127.0.0.11``), answering for the apps' aliases;
- ``edge0``, one end of a veth pair, holds 10.213.0.1/24 (the bridge's subnet); each stub
  app gets an address of its own there and listens on port 80, the apps' real port;
- nginx listens on 127.0.0.1:80 and :443 (the container's ports; the apps hold :80 on their
  own addresses), and tests send the published ports (8080/8443) in their Host headers.

An app container that is removed leaves an address that does not answer.
:meth:`NetNamespace.remove_address` emulates the two cases of a real bridge: with a
``stale`` neighbour entry (the proxy talked to the container moments ago, so the kernel
still has its MAC address) frames go to a MAC no one has and are dropped without a word,
and a connect waits for its timeout; without one, ARP gets no answer and a connect fails
with EHOSTUNREACH after three probes (about 3 s).

Stub apps are small threaded HTTP/1.1 servers that consume any request body and answer
with JSON describing what reached them (path, method, headers, body size, which upstream
connection carried it); ``?gzip=1`` and ``?etag=`` make them answer as a static site's nginx
does (compressed body, validators, 304). :class:`WebSocketStub` also speaks RFC 6455: it
completes the opening handshake, echoes text frames and records when each tunnel closed;
:class:`WebSocketClient` is the browser's side. Both are Python's standard library only.
They run in this process: sockets are made inside the namespace (``setns`` on the calling
thread), then served from ordinary threads.
"""

from __future__ import annotations

import base64
import ctypes
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from components.edge.nginx.config import Runtime
from tests import sidroot

LISTEN_ADDRESS = "127.0.0.1"
HTTP_PORT, HTTPS_PORT = 80, 443
"""The container's ports, where nginx listens inside the namespace."""
DNS_ADDRESS = "127.0.0.11"
EDGE_PREFIX = "10.213.0."
APP_PORT = 80
_CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)


def skip_reason() -> str | None:
    """Why the production nginx cannot run here, or None."""
    reason = sidroot.skip_reason()
    if reason:
        return reason
    for tool in ("ip", "nsenter", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2, util-linux, openssl)"
    return None


def nginx_root() -> Path:
    """The unstable root with nginx 1.30 and the official image's worker user ``nginx``."""
    root = sidroot.ensure_root(["nginx"])
    if subprocess.run(["chroot", str(root), "id", "-u", "nginx"], capture_output=True).returncode != 0:
        created = subprocess.run(
            ["chroot", str(root), "useradd", "--system", "--no-create-home", "--home", "/nonexistent",
             "--shell", "/bin/false", "nginx"],
            capture_output=True, text=True,
        )  # fmt: skip
        if created.returncode not in (0, 9):  # 9: another run created it first
            raise RuntimeError(f"useradd nginx in {root} failed: {created.stderr}")
    return root


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class NetNamespace:
    """``ip netns add`` with lo up and the edge subnet on ``edge0``; deleted on exit."""

    def __init__(self) -> None:
        self.name = f"selfhost-nginx-{uuid.uuid4().hex[:10]}"
        self.path = Path("/run/netns") / self.name
        self._next_host = 2

    def __enter__(self) -> NetNamespace:
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "add", "edge0", "type", "veth", "peer", "name", "edge0-peer")
            _ip("-n", self.name, "link", "set", "edge0-peer", "up")
            _ip("-n", self.name, "link", "set", "edge0", "up")
            _ip("-n", self.name, "addr", "add", f"{EDGE_PREFIX}1/24", "dev", "edge0")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    @contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread in the namespace: sockets made here belong to it for good."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    def command(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.path}", *argv]

    def connect(self, address: str, port: int, timeout: float = 10.0) -> socket.socket:
        with self.entered():
            return socket.create_connection((address, port), timeout=timeout)

    def add_address(self) -> str:
        """A fresh address on the edge subnet, as Docker gives a new container."""
        address = f"{EDGE_PREFIX}{self._next_host}"
        self._next_host += 1
        _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "edge0")
        return address

    def remove_address(self, address: str, stale: bool = True) -> None:
        """The container behind ``address`` is gone; see the module docstring for ``stale``."""
        _ip("-n", self.name, "addr", "del", f"{address}/32", "dev", "edge0")
        if stale:
            host = int(address.rsplit(".", 1)[1])
            mac = f"02:00:0a:d5:00:{host:02x}"
            _ip("-n", self.name, "neigh", "replace", address, "lladdr", mac, "dev", "edge0", "nud", "permanent")


def wait_for_port(ns: NetNamespace, port: int, address: str = LISTEN_ADDRESS, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ns.connect(address, port, timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {address}:{port} after {timeout} s")


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
        etag = f'"{query["etag"][0]}"' if "etag" in query else None
        if etag is not None and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self._stub_headers()
            self.end_headers()
            return
        encoding = None
        if "size" in query:
            body = b"x" * int(query["size"][0])
            content_type = query.get("type", ["text/plain"])[0]
            if "gzip" in query and "gzip" in self.headers.get("Accept-Encoding", ""):
                body, encoding = gzip.compress(body, mtime=0), "gzip"  # as nginx's gzip/gzip_static would
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
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        if etag is not None:
            self.send_header("ETag", etag)
        self._stub_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stub_headers(self) -> None:
        """Response headers the test asked for, one ``X-Stub-Header: Name: value`` each."""
        for extra in self.headers.get_all("X-Stub-Header") or []:
            name, _, value = extra.partition(":")
            self.send_header(name.strip(), value.strip())

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PROPFIND = _handle  # noqa: N815


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a proxy without keep-alive opens a connection per request

    def __init__(self, name: str, address: tuple[str, int]) -> None:
        super().__init__(address, _StubHandler)
        self.name = name
        self.record = StubRecord()
        self.open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients (wrk, curl) hang up mid-response at times; that is not a stub failure."""

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """What a stopping app does to kept-alive connections: close them (FIN to nginx)."""
        with self._connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class StubBackend:
    """One stub app on ``address:port``, serving from a background thread."""

    def __init__(self, name: str, ns: NetNamespace | None, address: str = "127.0.0.1", port: int = APP_PORT) -> None:
        """``ns`` None: on this process's own network (the bench's direct measurement)."""
        if ns is None:
            self._server = _StubServer(name, (address, port))
        else:
            with ns.entered():
                self._server = _StubServer(name, (address, port))
        self.name = name
        self.address = address
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stopped = False

    @property
    def record(self) -> StubRecord:
        return self._server.record

    def __enter__(self) -> StubBackend:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stops like an app container: no more accepts, open connections closed. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()


WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""RFC 6455 section 1.3: the server proves it read the key by hashing it with this."""
OPCODE_TEXT, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x1, 0x8, 0x9, 0xA
QUIET_PREFIX = b"quiet:"
"""Text frames the stub app takes without answering: traffic from the client side only."""


def websocket_accept(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


class SocketReader:
    """Exact reads from a socket with a buffer of its own, so timeouts can be retried
    (a ``makefile`` reader refuses every read after its first timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the peer closed the connection")
        self._buffer += chunk

    def read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def read_head(self) -> bytes:
        """Up to and including the blank line that ends an HTTP head."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        return self.read_exactly(end + 4)


def encode_frame(payload: bytes, opcode: int = OPCODE_TEXT, masked: bool = False) -> bytes:
    """One final frame; clients mask theirs, servers must not (RFC 6455 section 5.1)."""
    length = len(payload)
    header = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        header += bytes([mask_bit | length])
    elif length < 1 << 16:
        header += bytes([mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header += bytes([mask_bit | 127]) + length.to_bytes(8, "big")
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(byte ^ key[n % 4] for n, byte in enumerate(payload))


def read_frame(reader: SocketReader) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame, unmasked; EOFError when the peer has closed."""
    first, second = reader.read_exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(reader.read_exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(reader.read_exactly(8), "big")
    key = reader.read_exactly(4) if second & 0x80 else None
    payload = reader.read_exactly(length)
    if key is not None:
        payload = bytes(byte ^ key[n % 4] for n, byte in enumerate(payload))
    return first & 0x0F, payload


def parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    """The first line and the header fields (names lower-cased) of an HTTP head."""
    first, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return first, headers


@dataclass
class WebSocketSession:
    """One upgraded connection as the stub app saw it."""

    headers: dict[str, str]
    """The upgrade request's header fields, names lower-cased."""
    received: list[bytes] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    closed_at: float | None = None
    """time.monotonic() when the proxy's side of the tunnel closed."""


class WebSocketStub:
    """A stub app that serves plain HTTP/1.1 (kept alive, a JSON report per request, like
    :class:`StubBackend`) and upgrades ``Upgrade: websocket`` requests (RFC 6455): 101 with
    ``Sec-WebSocket-Accept``, then each text frame echoed back (``quiet:`` ones taken
    silently), pings answered, close answered with close."""

    def __init__(self, name: str, ns: NetNamespace, address: str, port: int) -> None:
        with ns.entered():
            self._listener = socket.create_server((address, port), backlog=64)
        self.name = name
        self.sessions: list[WebSocketSession] = []
        self.requests: list[dict[str, object]] = []
        """Plain HTTP requests: headers and the upstream connection's port."""
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> WebSocketStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = SocketReader(connection)
        try:
            while True:
                request_line, headers = parse_head(reader.read_head())
                tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
                if headers.get("upgrade", "").lower() == "websocket" and "upgrade" in tokens:
                    self._tunnel(connection, reader, headers)
                    return
                reader.read_exactly(int(headers.get("content-length", "0")))
                with self._lock:
                    self.requests.append({"headers": headers, "connection": connection.getpeername()[1]})
                body = json.dumps({"backend": self.name, "request": request_line, "headers": headers}).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
        except (EOFError, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def _tunnel(self, connection: socket.socket, reader: SocketReader, headers: dict[str, str]) -> None:
        session = WebSocketSession(headers)
        with self._lock:
            self.sessions.append(session)
        accept = websocket_accept(headers.get("sec-websocket-key", ""))
        connection.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        try:
            while True:
                opcode, payload = read_frame(reader)
                if opcode == OPCODE_CLOSE:
                    connection.sendall(encode_frame(payload[:2], OPCODE_CLOSE))
                    return
                if opcode == OPCODE_PING:
                    connection.sendall(encode_frame(payload, OPCODE_PONG))
                elif opcode == OPCODE_TEXT:
                    session.received.append(payload)
                    if not payload.startswith(QUIET_PREFIX):
                        connection.sendall(encode_frame(payload))
        except (EOFError, OSError):
            pass
        finally:
            session.closed_at = time.monotonic()
            session.closed.set()


class WebSocketClient:
    """The browser's side of RFC 6455 over any connected socket (plain or TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = SocketReader(sock)
        self.key = base64.b64encode(os.urandom(16)).decode()

    def handshake(self, host: str, path: str = "/websocket") -> tuple[int, dict[str, str]]:
        """Sends the opening handshake; returns the status code and the response's header fields."""
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n"
            "Origin: http://example.test\r\n\r\n".encode()
        )
        status_line, headers = parse_head(self.reader.read_head())
        return int(status_line.split()[1]), headers

    def send_text(self, text: str) -> None:
        self.sock.sendall(encode_frame(text.encode(), OPCODE_TEXT, masked=True))

    def receive(self, timeout: float) -> tuple[int, bytes]:
        self.sock.settimeout(timeout)
        return read_frame(self.reader)

    def echo(self, text: str, timeout: float = 5.0) -> str:
        self.send_text(text)
        opcode, payload = self.receive(timeout)
        assert opcode == OPCODE_TEXT, f"opcode {opcode:#x}, expected a text frame"
        return payload.decode()

    def seconds_until_closed(self, timeout: float) -> float:
        """Waits for the proxy to end the connection (EOF) without sending anything."""
        started = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the connection was still open after {timeout} s") from None
        except ConnectionResetError:
            data = b""
        assert data == b"", f"unexpected data on an idle tunnel: {data!r}"
        return time.monotonic() - started


@dataclass(frozen=True)
class Outcome:
    """One request through the proxy, timed by the client."""

    started: float
    """Seconds after the caller's reference time."""
    seconds: float
    status: str
    """HTTP status, ``closed`` (no answer) or the client's error."""
    backend: str | None
    """The stub app that answered (its JSON body), if any."""


def get(ns: NetNamespace, host: str, t0: float, port: int = HTTP_PORT, timeout: float = 30.0) -> Outcome:
    """``GET /`` on a new connection (``Connection: close``), as a browser's first request."""
    started = time.monotonic()
    status, backend = "?", None
    try:
        with ns.connect(LISTEN_ADDRESS, port, timeout=timeout) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status = data.split(b" ", 2)[1].decode() if data else "closed"
        if status == "200":
            backend = json.loads(data.partition(b"\r\n\r\n")[2])["backend"]
    except OSError as error:
        status = type(error).__name__
    return Outcome(started - t0, time.monotonic() - started, status, backend)


def get_at_rate(ns: NetNamespace, host: str, t0: float, rate: float, seconds: float) -> list[Outcome]:
    """``rate`` requests a second from ``t0`` for ``seconds``, each in a thread; sorted by start."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def one() -> None:
        outcome = get(ns, host, t0)
        with lock:
            outcomes.append(outcome)

    threads = []
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        threads.append(threading.Thread(target=one, daemon=True))
        threads[-1].start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda outcome: outcome.started)


def namespaced_runtime(inside: PurePosixPath, access_log: bool = True, worker_processes: str = "2") -> Runtime:
    """Production's runtime, but listening on 127.0.0.1 and with every file under ``inside``."""
    return Runtime(
        http_listen=f"{LISTEN_ADDRESS}:{HTTP_PORT}",
        https_listen=f"{LISTEN_ADDRESS}:{HTTPS_PORT}",
        worker_processes=worker_processes,
        pid=str(inside / "nginx.pid"),
        error_log=str(inside / "error.log"),
        access_log=str(inside / "access.log") if access_log else None,
        temp_dir=str(inside / "tmp"),
        certificate_path=str(inside / "tls" / "fullchain.pem"),
        key_path=str(inside / "tls" / "privkey.pem"),
        microcache_dir=str(inside / "microcache"),
    )


class Workdir:
    """A private directory inside the root for one nginx: config, pid, logs, temp files, TLS."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inside = PurePosixPath(f"/tmp/selfhost-nginx-{uuid.uuid4().hex[:10]}")
        self.host = root / self.inside.relative_to("/")
        (self.host / "tmp").mkdir(parents=True)
        (self.host / "tls").mkdir()
        (self.host / "microcache").mkdir()  # production mounts a tmpfs per app below it; nginx makes the app's
        ids = subprocess.run(["chroot", str(root), "id", "-u", "nginx"], capture_output=True, text=True, check=True)
        os.chown(self.host / "tmp", int(ids.stdout), 0)  # the workers write request bodies there

    def runtime(self, access_log: bool = True, worker_processes: str = "2") -> Runtime:
        return namespaced_runtime(self.inside, access_log, worker_processes)

    def remove(self) -> None:
        shutil.rmtree(self.host, ignore_errors=True)


class NginxProcess:
    """``chroot ROOT nginx -c conf -e errlog`` in the foreground inside ``ns``; ``-t`` first."""

    def __init__(self, ns: NetNamespace, workdir: Workdir, config: str, ports: tuple[int, ...]) -> None:
        self.ns = ns
        self.workdir = workdir
        self.ports = ports
        (workdir.host / "nginx.conf").write_text(config)
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self, *extra: str) -> list[str]:
        inside = self.workdir.inside
        return self.ns.command(
            "chroot", str(self.workdir.root), "nginx",
            "-c", str(inside / "nginx.conf"), "-e", str(inside / "error.log"), *extra,
        )  # fmt: skip

    def check(self) -> None:
        result = subprocess.run(self._command("-t"), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t rejected the config:\n{result.stderr}")

    def __enter__(self) -> NginxProcess:
        self.check()
        self._process = subprocess.Popen(
            self._command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for port in self.ports:
                wait_for_port(self.ns, port)
        except TimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError(f"nginx did not come up:\n{self.errors()}") from None
        return self

    @property
    def pid(self) -> int:
        """The master process (nsenter and chroot exec it in place)."""
        assert self._process is not None
        return self._process.pid

    def errors(self) -> str:
        log = self.workdir.host / "error.log"
        return log.read_text() if log.exists() else ""

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
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={names[0][:64]}",
            "-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in names),
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def _replace_exactly(text: str, old: str, new: str, count: int) -> str:
    found = text.count(old)
    if found != count:
        raise AssertionError(f"expected {count} x {old!r} in the letsencrypt config, found {found}")
    return text.replace(old, new)


def swap_acme_for_static_certificate(config: str, issuer: str, certificate_pem: str, key_pem: str) -> str:
    """The tls=letsencrypt config with the ACME module's lines replaced: Debian has no module.

    What stays is production's: ``ssl_certificate $acme_certificate`` (a certificate loaded
    per handshake through ``ssl_certificate_cache``) and the HTTP-01 location. The module's
    variables become maps that yield what the module's do, ``data:`` plus PEM (nginx-acme
    src/state/certificate.rs, ``SSL_VARIABLE_PREFIX``); the issuer block, shared zone and
    ``acme_certificate`` lines go. Each line must be there as often as expected, so a
    template change cannot silently leave the swap testing something else.
    """
    servers = config.count(f"acme_certificate {issuer};")
    text = _replace_exactly(config, "load_module modules/ngx_http_acme_module.so;\n", "", 1)
    start = text.index(f"    acme_issuer {issuer} {{\n")
    end = text.index("    }\n", start) + len("    }\n")
    text = text[:start] + text[end:]
    maps = "".join(
        f'    map $ssl_server_name ${variable} {{\n        default "data:{pem}";\n    }}\n'
        for variable, pem in (("acme_certificate", certificate_pem), ("acme_certificate_key", key_pem))
    )
    text = _replace_exactly(text, "    acme_shared_zone zone=ngx_acme_shared:1m;\n", maps, 1)
    text = _replace_exactly(text, f"        acme_certificate {issuer};\n", "", servers)
    if "acme_" in text.replace("$acme_certificate", ""):
        raise AssertionError("an ACME module directive survived the swap")
    return text
