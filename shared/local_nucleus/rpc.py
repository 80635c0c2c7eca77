"""Event-stream RPC connections: handshake, streams (continuations), connection-level errors.

Behaviour follows the server side the nucleus runs: aws-c-event-stream ``event_stream_rpc_server.c``
(handshake, stream-id rules, PROTOCOL_ERROR texts) under the Java ``eventstreamrpc`` server of
aws-iot-device-sdk-java-v2 (``ServiceOperationMappingContinuationHandler``: CONNECT and PING
handling, ``OperationContinuationHandler``: responses, modeled and unmodeled errors).
"""

import asyncio
import json
import logging
from typing import Callable, Dict, List, Optional, Set

from . import eventstream as es
from .eventstream import FLAG_CONNECTION_ACCEPTED, FLAG_TERMINATE_STREAM, HeaderType, MessageType

LOG = logging.getLogger(__name__)

VERSION = "0.1.0"
_REFUSAL_GRACE = 0.5  # seconds a refused client gets to close first
# A connection that has not completed CONNECT holds a socket and a 256 KiB read buffer: it gets this
# many seconds to do so, at most this many wait at once (more are closed as they arrive), and its
# CONNECT message may be this large (a real one is an auth token). Drops are logged as one summary line
# at most every _GATE_LOG_INTERVAL seconds.
HANDSHAKE_TIMEOUT = 5.0
MAX_UNAUTHENTICATED = 64
MAX_CONNECT_MESSAGE = 64 * 1024
_GATE_LOG_INTERVAL = 5.0
INT32_MAX = 2 ** 31 - 1
CONTENT_TYPE = ":content-type"
JSON = "application/json"

# aws-c-event-stream event_stream_rpc_priv.h connection-level error payloads, verbatim.
_ERR_INVALID_STREAM_ID = (b'{ "message": "non-zero stream-id field is only allowed for messages of type '
                          b'APPLICATION_MESSAGE. The stream id max value is INT32_MAX."; }')
_ERR_OLD_STREAM_ID = (b'{ "message": "stream-id values must be monotonically incrementing. A stream-id '
                      b'arrived that was lower than the last seen stream-id."; }')
_ERR_NEW_STREAM_ID = (b'{ "message": "stream-id values must be monotonically incrementing. A new stream-id '
                      b'arrived that was incremented by more than 1."; }')
_ERR_MESSAGE_TYPE = b'{ "message": "an invalid value for message-type field was received."; }'
_ERR_MISSING_FIELDS = (b'{ "message": "A message was received with missing required fields. Check that your '
                       b'client is sending at least, :message-type, :message-flags, and :stream-id"; }')
_ERR_MISSING_OPERATION = (b'{ "message": "The first message for on a non-zero :stream-id must contain an '
                          b'operation header value."; }')
_ERR_CONNECT_FIRST = (b'{ "message": "A CONNECT message must be received, and the CONNECT_ACK must be sent '
                      b'in response, before any other message-types can be sent on this connection. In '
                      b'addition, only one CONNECT message is allowed on a connection." }')

JSON_CONTENT_HEADERS = es.string_header(CONTENT_TYPE, JSON)
_TEXT_CONTENT = es.string_header(CONTENT_TYPE, "text/plain")


def model_headers(model_type: str) -> bytes:
    """The headers every modeled reply carries: JSON content type and the shape name."""
    return JSON_CONTENT_HEADERS + es.string_header("service-model-type", model_type)


def _rpc_headers(message_type: int, flags: int, stream_id: int) -> bytes:
    return (es.int32_header(":message-type", message_type) + es.int32_header(":message-flags", flags)
            + es.int32_header(":stream-id", stream_id))


class Dispatcher:
    """What a connection needs from the Greengrass services behind it."""

    def authenticate(self, connect_payload: bytes) -> Optional[str]:
        """Component name for a CONNECT payload, or None to refuse the connection."""
        raise NotImplementedError

    def handle_request(self, stream: "Stream", payload: memoryview) -> None:
        raise NotImplementedError

    def stream_closed(self, stream: "Stream") -> None:
        raise NotImplementedError


class Stream:
    """One operation (continuation) on a connection."""

    __slots__ = ("connection", "stream_id", "operation", "component", "open")

    def __init__(self, connection: "RpcConnection", stream_id: int, operation: str) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.operation = operation
        self.component = connection.component or ""
        self.open = True

    def respond(self, model_type: str, payload: bytes, terminate: bool) -> None:
        """The operation's response; a one-shot operation terminates the stream with it."""
        flags = FLAG_TERMINATE_STREAM if terminate else 0
        self.connection.send(MessageType.APPLICATION_MESSAGE, flags, self.stream_id,
                             model_headers(model_type), payload)
        if terminate:
            self.connection.finish_stream(self)

    def fail(self, error_type: str, message: Optional[str], **fields: object) -> None:
        """A modeled error (aws.greengrass#UnauthorizedError, ...): APPLICATION_ERROR + TERMINATE_STREAM."""
        body: Dict[str, object] = {"message": message}
        body.update((key, value) for key, value in fields.items() if value is not None)
        self.fail_raw(model_headers(error_type), json.dumps(body).encode("utf-8"))

    def fail_raw(self, headers: bytes, payload: bytes) -> None:
        self.connection.send(MessageType.APPLICATION_ERROR, FLAG_TERMINATE_STREAM, self.stream_id, headers,
                             payload)
        self.connection.finish_stream(self)

    def internal_error(self) -> None:
        """What the Java server answers when a request cannot even be deserialized."""
        self.fail_raw(_TEXT_CONTENT, b"InternalServerError")

    def send_event(self, headers: bytes, payload: bytes) -> bool:
        """A stream event; False when it was dropped (stream closed or subscriber too far behind)."""
        if not self.open:
            return False
        return self.connection.send_event(self.stream_id, headers, payload)


class HandshakeGate:
    """Bounds the connections that have not completed CONNECT: each gets `timeout` seconds, at most
    `limit` wait at once, and what is dropped is summed up in one log line per `log_interval` seconds.
    Runs on the server's event loop thread."""

    def __init__(self, timeout: float = HANDSHAKE_TIMEOUT, limit: int = MAX_UNAUTHENTICATED,
                 log_interval: float = _GATE_LOG_INTERVAL) -> None:
        self.timeout = timeout
        self.limit = limit
        self.log_interval = log_interval
        self.dropped: Dict[str, int] = {}  # reason -> connections dropped, since the start
        self._pending: Dict[RpcConnection, asyncio.TimerHandle] = {}
        self._unlogged: Dict[str, int] = {}
        self._next_log = 0.0
        self._flush: Optional[asyncio.TimerHandle] = None

    @property
    def pending(self) -> int:
        """Connections open that have not completed CONNECT."""
        return len(self._pending)

    def admit(self, connection: "RpcConnection") -> None:
        """Start the connection's handshake clock. When `limit` are already waiting, the oldest is
        dropped: a real client completes CONNECT within milliseconds of connecting, so a flood of
        silent connections cannot lock it out."""
        while len(self._pending) >= self.limit:
            oldest = next(iter(self._pending))
            self._pending.pop(oldest).cancel()
            self.count(f"over the limit of {self.limit} awaiting CONNECT")
            oldest.abort()
        loop = asyncio.get_running_loop()
        self._pending[connection] = loop.call_later(self.timeout, self._expire, connection)

    def done(self, connection: "RpcConnection") -> None:
        """The connection completed CONNECT, or closed."""
        handle = self._pending.pop(connection, None)
        if handle is not None:
            handle.cancel()

    def count(self, reason: str) -> None:
        """One connection dropped before it completed CONNECT, for `reason` (logged throttled)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        self._unlogged[reason] = self._unlogged.get(reason, 0) + 1
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._next_log:
            self._log(now)
        elif self._flush is None:
            self._flush = loop.call_at(self._next_log, self._log_pending)

    def _log_pending(self) -> None:
        self._flush = None
        if self._unlogged:
            self._log(asyncio.get_running_loop().time())

    def _log(self, now: float) -> None:
        summary = ", ".join(f"{count} {reason}" for reason, count in self._unlogged.items())
        self._unlogged = {}
        self._next_log = now + self.log_interval
        LOG.warning("dropped IPC connections that had not completed CONNECT: %s", summary)

    def _expire(self, connection: "RpcConnection") -> None:
        if self._pending.pop(connection, None) is None:
            return
        if not connection.closing:  # a refused client being given its grace is already counted
            self.count(f"silent for {self.timeout:g} s")
        connection.abort()


class RpcConnection(asyncio.BufferedProtocol):
    """One client connection. All methods run on the server's event loop thread."""

    def __init__(self, dispatcher: Dispatcher, registry: Set["RpcConnection"], max_pending: int,
                 on_drop: Callable[[], None], gate: Optional[HandshakeGate] = None) -> None:
        self.dispatcher = dispatcher
        self.gate = gate
        self.registry = registry
        self.max_pending = max_pending
        self.on_drop = on_drop
        self.component: Optional[str] = None
        self.dropped_events = 0
        self.transport: Optional[asyncio.Transport] = None
        self._reader = es.FrameReader()
        self._connected = False
        self._closing = False
        self._latest_stream_id = 0
        self._streams: Dict[int, Stream] = {}

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # Past this much unsent output the client is not reading: stop reading its requests
        # (events for it are dropped by send_event) until it catches up.
        transport.set_write_buffer_limits(high=self.max_pending, low=self.max_pending // 4)  # type: ignore
        self.registry.add(self)
        if self.gate is not None:
            self.gate.admit(self)

    @property
    def closing(self) -> bool:
        return self._closing

    def pause_writing(self) -> None:
        if self.transport is not None and not self._closing:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self._closing:
            self.transport.resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        try:
            messages = self._reader.buffer_updated(nbytes)
        except es.FrameError as error:
            if self.component is None and self.gate is not None:
                self.gate.count("malformed before CONNECT")
            else:
                LOG.warning("closing IPC connection of %s: malformed frame (%s)",
                            self.component or "<unconnected>", error)
            self.abort()
            return
        if not self._connected and self._reader._want > MAX_CONNECT_MESSAGE:
            # A CONNECT carries a token: a client announcing more is not one (and would make the
            # reader allocate up to 16 MiB for it).
            if self.gate is not None:
                self.gate.count(f"announcing a first message over {MAX_CONNECT_MESSAGE // 1024} KiB")
            else:
                LOG.warning("closing an IPC connection whose first message is over %d bytes",
                            MAX_CONNECT_MESSAGE)
            self.abort()
            return
        for headers, payload in messages:
            if self._closing:
                return
            try:
                self._on_message(headers, payload)
            except Exception:  # noqa: BLE001 - one bad request must not take the server down
                LOG.exception("unexpected error handling an IPC message from %s; closing its connection",
                              self.component)
                self.abort()
                return

    def eof_received(self) -> Optional[bool]:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._closing = True
        self.registry.discard(self)
        if self.gate is not None:
            self.gate.done(self)
        streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.open = False
            self._notify_closed(stream)

    # -- sending -----------------------------------------------------------------------------
    def send(self, message_type: int, flags: int, stream_id: int, headers: bytes,
             payload: bytes = b"") -> None:
        if self.transport is None or self._closing:
            return
        for chunk in es.frame(headers + _rpc_headers(message_type, flags, stream_id), payload):
            self.transport.write(chunk)

    def send_event(self, stream_id: int, headers: bytes, payload: bytes) -> bool:
        if self.transport is None or self._closing:
            return False
        size = len(payload) + len(headers) + 64
        if (self.transport.get_write_buffer_size() + size > self.max_pending
                or size > es.MAX_MESSAGE_SIZE):
            self.dropped_events += 1
            self.on_drop()
            if self.dropped_events == 1 or self.dropped_events % 1000 == 0:
                LOG.warning("%s is not reading its IPC events (or one is over 16 MiB): %d dropped so far",
                            self.component, self.dropped_events)
            return False
        self.send(MessageType.APPLICATION_MESSAGE, 0, stream_id, headers, payload)
        return True

    def protocol_error(self, payload: bytes) -> None:
        self.send(MessageType.PROTOCOL_ERROR, 0, 0, JSON_CONTENT_HEADERS, payload)
        self.close()

    def close(self) -> None:
        """Close after flushing what is queued (a refusal or an error report)."""
        if self.transport is not None and not self._closing:
            self._closing = True
            self.transport.close()
            # A peer that never reads must not keep the socket open forever.
            asyncio.get_running_loop().call_later(5.0, self.transport.abort)

    def abort(self) -> None:
        if self.transport is not None:
            self._closing = True
            self.transport.abort()

    # -- streams -----------------------------------------------------------------------------
    def finish_stream(self, stream: Stream) -> None:
        """The server terminated the stream (a reply with TERMINATE_STREAM)."""
        if self._streams.pop(stream.stream_id, None) is not None:
            stream.open = False
            self._notify_closed(stream)

    def _notify_closed(self, stream: Stream) -> None:
        try:
            self.dispatcher.stream_closed(stream)
        except Exception:  # noqa: BLE001
            LOG.exception("error cleaning up stream %s of %s", stream.operation, self.component)

    # -- receiving ---------------------------------------------------------------------------
    def _on_message(self, headers: List[es.Header], payload: memoryview) -> None:
        message_type = es.header_value(headers, ":message-type", HeaderType.INT32)
        flags = es.header_value(headers, ":message-flags", HeaderType.INT32)
        stream_id = es.header_value(headers, ":stream-id", HeaderType.INT32)
        if message_type is None or flags is None or stream_id is None:
            self.protocol_error(_ERR_MISSING_FIELDS)
            return
        if not self._connected and message_type != MessageType.CONNECT:
            self.protocol_error(_ERR_CONNECT_FIRST)
            return
        if stream_id != 0:
            self._on_stream_message(headers, int(stream_id), int(message_type), int(flags), payload)  # type: ignore
            return
        if message_type <= MessageType.APPLICATION_ERROR or message_type > MessageType.INTERNAL_ERROR:  # type: ignore
            self.protocol_error(_ERR_MESSAGE_TYPE)
        elif message_type == MessageType.CONNECT:
            if self._connected:
                self.protocol_error(_ERR_CONNECT_FIRST)
            else:
                self._on_connect(headers, bytes(payload))
        elif message_type == MessageType.PING:
            echoed = [header for header in headers if not header[0].startswith(":")]
            self.send(MessageType.PING_RESPONSE, 0, 0, es.encode_headers(echoed), bytes(payload))
        elif message_type != MessageType.PING_RESPONSE:
            # Java ServiceOperationMappingContinuationHandler: any other type on stream 0 is answered
            # with INTERNAL_ERROR ("ServerError") and the connection closes. Payload verbatim.
            text = ('{ "error": "Unrecognized Message Type" }"message": " message type value: '
                    f'{message_type} is not recognized as a valid request path." }}')
            self.send(MessageType.INTERNAL_ERROR, 0, 0, JSON_CONTENT_HEADERS, text.encode("utf-8"))
            self.close()

    def _on_connect(self, headers: List[es.Header], payload: bytes) -> None:
        component = None
        version = es.header_value(headers, ":version", HeaderType.STRING)
        if version == VERSION:
            try:
                component = self.dispatcher.authenticate(payload)
            except Exception:  # noqa: BLE001 - the Java server refuses on any authentication failure
                LOG.exception("IPC authentication failed")
        else:
            LOG.warning("IPC client version %r does not match the server's %s; refusing", version, VERSION)
        self._connected = True
        if component is None:
            if self.gate is not None:
                self.gate.count("refused (unknown SVCUID)")
            else:
                LOG.warning("refusing an IPC connection with an unknown SVCUID")
            self.send(MessageType.CONNECT_ACK, 0, 0, b"")
            # Read nothing more and close shortly: closing at once makes the awscrt client report
            # "socket is closed" instead of processing the refusal (AccessDeniedError) it was sent.
            self._closing = True
            if self.transport is not None:
                self.transport.pause_reading()
                asyncio.get_running_loop().call_later(_REFUSAL_GRACE, self.transport.close)
                asyncio.get_running_loop().call_later(_REFUSAL_GRACE + 5.0, self.transport.abort)
            return
        self.component = component
        if self.gate is not None:
            self.gate.done(self)
        self.send(MessageType.CONNECT_ACK, FLAG_CONNECTION_ACCEPTED, 0, b"")

    def _on_stream_message(self, headers: List[es.Header], stream_id: int, message_type: int, flags: int,
                           payload: memoryview) -> None:
        if message_type > MessageType.APPLICATION_ERROR or stream_id < 0:
            self.protocol_error(_ERR_INVALID_STREAM_ID)
            return
        if stream_id <= self._latest_stream_id:
            stream = self._streams.get(stream_id)
            if stream is None:
                self.protocol_error(_ERR_OLD_STREAM_ID)
                return
            if not (flags & FLAG_TERMINATE_STREAM and len(payload) == 0):
                # None of the served operations accepts client stream events: the Java handler fails
                # to deserialize one and answers InternalServerError, closing the stream.
                stream.internal_error()
        else:
            if stream_id != self._latest_stream_id + 1:
                self.protocol_error(_ERR_NEW_STREAM_ID)
                return
            operation = es.header_value(headers, "operation", HeaderType.STRING)
            if not operation:
                self.protocol_error(_ERR_MISSING_OPERATION)
                return
            self._latest_stream_id = stream_id
            stream = Stream(self, stream_id, str(operation))
            self._streams[stream_id] = stream
            # A first message that already terminates the stream is not a request (Java server).
            if not flags & FLAG_TERMINATE_STREAM:
                self.dispatcher.handle_request(stream, payload)
        if flags & FLAG_TERMINATE_STREAM and self._streams.pop(stream_id, None) is not None:
            stream.open = False
            self._notify_closed(stream)
