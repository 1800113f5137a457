"""A tiny UDP DNS server answering A queries from a dict, NXDOMAIN otherwise.

Stands in for Docker's embedded DNS: bound to 127.0.0.11:53 inside a test network
namespace, it is what the production config's ``resolver 127.0.0.11`` asks. Like Docker's,
its answers carry a TTL of 600 s (moby v28.5.2 libnetwork/resolver.go, ``respTTL``), so
only nginx's ``valid=`` decides how soon a changed address is noticed. Only what nginx's
resolver asks is implemented: one question, class IN, type A (AAAA gets an empty answer).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

DOCKER_TTL_SECONDS = 600


class DnsStub:
    """``records`` (name -> IPv4 address, or every address, as Docker's DNS answers an alias that several
    containers carry; an empty list is NXDOMAIN) may be changed while it serves."""

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = 0,
        inside: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        """``inside``, if given, is entered while the socket is made (a network namespace)."""
        self.records: dict[str, str | list[str]] = {}
        self.queries: list[str] = []
        self.answers: list[tuple[float, str, str | None]] = []
        """(time.monotonic(), name, first address or None for NXDOMAIN), one per A query."""
        self._socket = self._bind(address, port, inside)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _bind(address: str, port: int, inside: Callable[[], AbstractContextManager[object]] | None) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, port))
            sock.settimeout(0.2)
            return sock

        if inside is None:
            return make()
        with inside():
            return make()

    def next_answer(self, name: str, after: float, timeout: float = 30.0) -> float:
        """When the first A answer for ``name`` later than ``after`` (monotonic) went out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, answered, _ in list(self.answers):
                if answered == name and when > after:
                    return when
            time.sleep(0.005)
        raise TimeoutError(f"nobody asked for {name} within {timeout} s")

    def __enter__(self) -> DnsStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, client = self._socket.recvfrom(512)
            except TimeoutError:
                continue
            reply = self._answer(packet)
            if reply:
                self._socket.sendto(reply, client)

    def _answer(self, packet: bytes) -> bytes | None:
        if len(packet) < 12:
            return None
        ident, _flags, qdcount = struct.unpack("!HHH", packet[:6])
        if qdcount != 1:
            return None
        labels, offset = [], 12
        while offset < len(packet) and packet[offset]:
            length = packet[offset]
            labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
        question_end = offset + 5
        qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append(name)
        question = packet[12:question_end]
        found = self.records.get(name)
        addresses = [found] if isinstance(found, str) else list(found or [])
        if qtype == 1:
            self.answers.append((time.monotonic(), name, addresses[0] if addresses else None))
        if not addresses or qtype != 1:
            rcode = 3 if not addresses else 0
            return struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 0, 0, 0) + question
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, 1, 1, DOCKER_TTL_SECONDS, 4) + socket.inet_aton(address)
            for address in addresses
        )
        return struct.pack("!HHHHHH", ident, 0x8180, 1, len(addresses), 0, 0) + question + answers
