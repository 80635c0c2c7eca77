"""Helpers for the local nucleus tests: policies, an event inbox, a raw event-stream socket client."""

import json
import socket
import struct
import threading
import time
import zlib
from typing import Callable, Dict, List, Optional, Tuple

from local_nucleus import eventstream as es

THING = "test-thing"


def acl(service: str, policy_id: str, resources: List[str], operations: Tuple[str, ...] = ("*",)) -> dict:
    """One accessControl policy, as a recipe declares it."""
    return {service: {policy_id: {"policyDescription": "test policy", "operations": list(operations),
                                  "resources": resources}}}


def pubsub(policy_id: str, *resources: str, operations: Tuple[str, ...] = ("*",)) -> dict:
    return {"accessControl": acl("aws.greengrass.ipc.pubsub", policy_id, list(resources), operations)}


def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll predicate until it holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Inbox:
    """Collects stream events delivered by the client's executor threads."""

    def __init__(self) -> None:
        self.events: List[object] = []
        self._changed = threading.Condition()

    def __call__(self, event: object) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> List[object]:
        """Events once there are at least count (the timeout only guards against a hang)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


class RawClient:
    """A plain socket speaking event-stream by hand, for protocol-level checks."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self._reader = es.FrameReader()
        self._pending: List[Tuple[Dict[str, object], bytes]] = []

    def send(self, message_type: int, flags: int, stream_id: int, extra: Optional[List[es.Header]] = None,
             payload: bytes = b"") -> None:
        headers = list(extra or []) + [(":message-type", es.HeaderType.INT32, message_type),
                                       (":message-flags", es.HeaderType.INT32, flags),
                                       (":stream-id", es.HeaderType.INT32, stream_id)]
        self.sock.sendall(b"".join(es.frame(es.encode_headers(headers), payload)))

    def connect(self, token: str) -> Dict[str, object]:
        self.send(es.MessageType.CONNECT, 0, 0, [(":version", es.HeaderType.STRING, "0.1.0")],
                  json.dumps({"authToken": token}).encode())
        return self.receive()[0]

    def receive(self) -> Tuple[Dict[str, object], bytes]:
        """Next message as ({header name: value}, payload); raises EOFError when the server closed."""
        while not self._pending:
            buffer = self._reader.get_buffer(-1)
            count = self.sock.recv_into(buffer)
            if count == 0:
                raise EOFError("server closed the connection")
            for headers, payload in self._reader.buffer_updated(count):
                self._pending.append(({name: value for name, _, value in headers}, bytes(payload)))
        return self._pending.pop(0)

    def closed_by_server(self) -> bool:
        """True once the server has closed this connection (anything still queued is skipped)."""
        try:
            while True:
                self.receive()
        except (EOFError, ConnectionResetError):
            return True

    def close(self) -> None:
        self.sock.close()


def prelude(total: int, headers_length: int) -> bytes:
    """A prelude with a correct CRC, for frames that are wrong further in."""
    lengths = struct.pack(">II", total, headers_length)
    return lengths + struct.pack(">I", zlib.crc32(lengths))
