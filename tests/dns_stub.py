"""A tiny UDP DNS server answering A queries from a dict, NXDOMAIN otherwise.

Stands in for Docker's embedded DNS (127.0.0.11) so the request-time resolution of the
``variable`` upstream mode runs on a real nginx. Only what nginx's resolver asks is
implemented: one question, class IN, type A.
"""

from __future__ import annotations

import socket
import struct
import threading


class DnsStub:
    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

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
        address = self.records.get(name)
        if address is None or qtype != 1:
            rcode = 3 if address is None else 0
            return struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 0, 0, 0) + question
        answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
        return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + answer
