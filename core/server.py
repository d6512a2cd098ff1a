"""Starling's web server: Daphne, with limits that hold at the connection before the application runs.

Daphne reads whatever a client sends: every websocket frame goes into the application's unbounded
queue and every answer into Twisted's unbounded write buffer, so a client that sends fast and never
reads grows the server without end; a request body is spooled whole (to a temporary file) before its
size is looked at; an over-long request line or header closes the connection with no answer. Here:

- a websocket whose answers are not being read (past a 64 KiB socket buffer and Twisted's 64 KiB), or whose
  application has WEBSOCKET_QUEUE_BOUND messages waiting, is not read from until both drain; one
  whose answers stay unread for UNREAD_ANSWERS_TIMEOUT_SECONDS is cut off;
- a declared body over MAX_REQUEST_BODY_BYTES is answered 413 at once, before any of it is read, and
  a chunked body is cut off at the limit; bodies within it are kept in memory, never in a file;
- a request line longer than LINE_MAX_BYTES is answered 414; a longer header line, headers over
  HEADERS_MAX_BYTES in all or more than HEADERS_MAX_COUNT of them, 431;
- the listen backlog takes LISTEN_BACKLOG connections at once.

It is also faster on the live-scoring path: a websocket reads whole text frames and writes its
answers itself (`core.ws_frames`), sending an answer on the socket at once when nothing waits before
it, and leaves every other frame to autobahn from where it starts.

`manage.py serve` runs it; `daphne_command` is the argv that starts it. deploy/nginx.conf holds the
same line, header and body limits for the production proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import Callable
from functools import partial
from io import BytesIO
from pathlib import Path

import daphne.server  # first: it installs the asyncio reactor, and Twisted is import-order sensitive
from daphne.endpoints import build_endpoint_description_strings
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings
from twisted.internet import reactor
from twisted.web import http

from core.asgi_limits import body_too_large, refusal
from core.ws_frames import client_text_frame, server_text_frame

LISTEN_BACKLOG = 1024
LINE_MAX_BYTES = 8192  # the request line, and each header line (nginx: large_client_header_buffers 4 8k)
HEADERS_MAX_BYTES = 32768  # the request line and every header together
HEADERS_MAX_COUNT = 100
HTTP_IDLE_TIMEOUT_SECONDS = 60  # a kept-alive connection with no request in progress
REFUSAL_LINGER_SECONDS = 2  # after a refusal, what the client still sends is read and dropped this long
WEBSOCKET_QUEUE_BOUND = 16
WEBSOCKET_SEND_BUFFER_BYTES = 64 * 1024  # the kernel's part: unread answers past it reach Twisted's buffer
UNREAD_ANSWERS_TIMEOUT_SECONDS = 10

REASONS = {413: b"Content Too Large", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class LimitedHTTPChannel(http.HTTPChannel):
    """An HTTP/1.1 connection that refuses an oversized request line, header or body as soon as it sees it."""

    MAX_LENGTH = LINE_MAX_BYTES
    totalHeadersSize = HEADERS_MAX_BYTES
    maxHeaders = HEADERS_MAX_COUNT
    refused = False
    _linger = None

    @property
    def max_body_bytes(self) -> int:
        return self.factory.server.max_body_bytes

    # Twisted parses a request line only while no request of this connection is open (pipelined
    # requests wait in raw mode), so an empty `self.requests` means the line is a request line.

    def lineReceived(self, line: bytes) -> None:
        if self.refused:
            return
        if self.requests and self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self.refuse(431, f"The request headers are longer than {self.totalHeadersSize} bytes in all.")
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        if self.requests:
            self.refuse(431, f"A request header is longer than {self.MAX_LENGTH} bytes.")
        else:
            target = line.split(b" ", 2)[1] if line.count(b" ") else b""
            self.refuse(414, f"The request line is longer than {self.MAX_LENGTH} bytes.", target=target)

    def headerReceived(self, line: bytes) -> bool:
        if self._receivedHeaderCount >= self.maxHeaders:
            self.refuse(431, f"The request has more than {self.maxHeaders} headers.")
            return False
        return super().headerReceived(line)

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > self.max_body_bytes:
            self.refuse_body()
            return
        super().allHeadersReceived()

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if not self.refused:
            super().allContentReceived()

    def refuse_body(self) -> None:
        """Answer 413: the request's body is over the limit."""
        content_type, body = body_too_large(path=self._path.decode("latin-1"), max_bytes=self.max_body_bytes)
        self._answer_and_close(413, content_type, body)

    def refuse(self, status: int, message: str, target: bytes | None = None) -> None:
        """Answer 414 or 431 with `message` (the API's error body under /api/)."""
        target = self._path if target is None else target
        path = target.split(b"?", 1)[0].decode("latin-1")
        code = {414: "uri_too_long", 431: "headers_too_large"}[status]
        content_type, body = refusal(status=status, code=code, message=message, path=path)
        self._answer_and_close(status, content_type, body)

    def _answer_and_close(self, status: int, content_type: bytes, body: bytes) -> None:
        # The request is never handed to Daphne. What the client still sends is read and dropped for a
        # moment (as nginx's lingering close does), so that closing on unread data, which sends a TCP
        # reset, does not destroy the answer before the client has read it.
        self.refused = True
        self.setRawMode()
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        self.transport.write(head % (status, REASONS[status], content_type, len(body)) + body)
        self.transport.loseWriteConnection()
        self._linger = self.callLater(REFUSAL_LINGER_SECONDS, self.transport.abortConnection)

    def connectionLost(self, reason) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)


class LimitedRequest(WebRequest):
    """Daphne's request, with its body kept in memory and cut off at the limit."""

    body_received = 0

    def gotLength(self, length: int | None) -> None:
        # The channel refuses bodies over the limit, so what is kept fits in memory: no temporary file.
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        if self.channel.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.channel.max_body_bytes:
            self.channel.refuse_body()
            return
        super().handleContentChunk(data)

    def process(self):
        # Twisted has de-chunked the whole body by now. Django reads only Content-Length bytes (none
        # when it is missing), so a chunked body is handed on with the length it turned out to have.
        if self.requestHeaders.hasHeader(b"transfer-encoding") and not self.requestHeaders.hasHeader(b"content-length"):
            self.requestHeaders.removeHeader(b"transfer-encoding")
            self.requestHeaders.setRawHeaders(b"content-length", [str(self.body_received).encode()])
        return super().process()


class LimitedHTTPFactory(HTTPFactory):
    """Daphne's HTTP factory, building limited channels and requests."""

    protocol = LimitedHTTPChannel

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.timeOut = HTTP_IDLE_TIMEOUT_SECONDS

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)
        channel.requestFactory = LimitedRequest
        return channel


class _UnreadAnswers:
    """The websocket transport's producer: told when the answers written to it stop being read."""

    def __init__(self, protocol: BoundedWebSocketProtocol) -> None:
        self.protocol = protocol

    def pauseProducing(self) -> None:
        self.protocol.answers_unread(True)

    def resumeProducing(self) -> None:
        self.protocol.answers_unread(False)

    def stopProducing(self) -> None:
        pass


class BoundedWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket, read from only while its answers are read and its application keeps up."""

    reading_paused = False
    unread_since: float | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        # After the upgrade the HTTP channel is still the transport's producer, and it ignores a full
        # write buffer while its (upgrade) request is open; this connection listens for it instead.
        self.transport.unregisterProducer()
        self.transport.registerProducer(_UnreadAnswers(self), True)
        # Left to itself the kernel grows a socket's send buffer to megabytes of answers nobody reads.
        with contextlib.suppress(AttributeError, OSError):  # not a plain TCP socket: left as it is
            self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WEBSOCKET_SEND_BUFFER_BYTES)

    def dataReceived(self, data: bytes) -> None:
        # Whole text frames go straight to the application (`core.ws_frames`); autobahn gets the rest
        # from where it starts, and everything while it holds a partial frame or message of its own.
        if (
            self.state == self.STATE_OPEN
            and not self.data
            and self.current_frame is None
            and not self.inside_message
            and self._perMessageCompress is None
        ):
            taken = self._take_text_frames(data)
            if taken == len(data):
                return
            data = data[taken:]
        super().dataReceived(data)

    def _take_text_frames(self, data: bytes) -> int:
        """Hand the whole text frames at the start of `data` to the application; how many bytes they took."""
        limits = [limit for limit in (self.maxMessagePayloadSize, self.maxFramePayloadSize) if limit > 0]
        max_payload = min(limits, default=0)
        taken = 0
        while not self.reading_paused and self.state == self.STATE_OPEN:
            frame = client_text_frame(data, taken, max_payload)
            if frame is None:
                break
            text, taken = frame
            self.text_received(text)
        self.trafficStats.incomingOctetsWireLevel += taken
        return taken

    def text_received(self, text: str) -> None:
        """A whole text message: what Daphne's `onMessage` does with one, without decoding it again."""
        if self.muted:
            return
        self.last_ping = time.time()
        self.application_queue.put_nowait({"type": "websocket.receive", "text": text})
        self.reading_update()

    def sendMessage(self, payload, isBinary=False, fragmentSize=None, sync=False, doNotCompress=False):
        # An answer (text, one frame, nothing queued before it) is framed here and written at once.
        if (
            not isBinary
            and fragmentSize is None
            and not sync
            and self.state == self.STATE_OPEN
            and self.send_state == self.SEND_STATE_GROUND
            and not self.send_queue
            and self._perMessageCompress is None
            and not self.autoFragmentSize
            and not 0 < self.maxMessagePayloadSize < len(payload)
        ):
            frame = server_text_frame(payload)
            if frame is not None:
                self._write_through(frame)
                return
        super().sendMessage(payload, isBinary, fragmentSize, sync, doNotCompress)

    def _write_through(self, data: bytes) -> None:
        """Send `data` on the socket now when nothing is waiting before it; Twisted buffers whatever is left.

        Twisted's `write` always buffers and sends on the next turn of the event loop, which costs a
        registration with the selector and back for every answer.
        """
        transport = self.transport
        if (
            getattr(transport, "TLS", None) is False  # a plain TCP connection of this version of Twisted
            and transport.connected
            and not transport.disconnecting
            and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)
        ):
            try:
                sent = transport.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # Twisted's own write finds the error and closes the connection as it does
            data = data[sent:]
            if not data:
                return
        transport.write(data)

    def processData(self) -> bool:
        # While paused, frames already read wait in autobahn's buffer instead of the application's queue.
        if self.reading_paused and self.state == self.STATE_OPEN:
            return False
        return super().processData()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        super().onMessage(payload, isBinary)
        self.reading_update()

    def answers_unread(self, unread: bool) -> None:
        """The transport's write buffer went over its bound (or drained back under it)."""
        self.unread_since = time.monotonic() if unread else None
        self.reading_update()

    def application_took_message(self) -> None:
        """The application took a message off its queue: there may be room to read again."""
        if self.reading_paused:
            reactor.callLater(0, self.reading_update)

    def reading_update(self) -> None:
        """Pause or resume reading from the client as the answers and the application's queue allow."""
        queue = getattr(self, "application_queue", None)
        waiting = queue.qsize() if queue is not None else 0
        blocked = self.unread_since is not None or waiting >= WEBSOCKET_QUEUE_BOUND
        if blocked == self.reading_paused or self.transport is None:
            return
        self.reading_paused = blocked
        if blocked:
            self.transport.pauseProducing()
        else:
            reactor.callLater(0, self._resume_reading)

    def _resume_reading(self) -> None:
        # Frames read before the pause go first; the socket is read again only once they are all taken,
        # or every resume would add a read's worth to autobahn's buffer and take only a few frames out.
        self.consumeData()
        if not self.reading_paused and self.transport is not None:
            self.transport.resumeProducing()

    def check_timeouts(self) -> None:
        super().check_timeouts()
        if self.unread_since is not None and time.monotonic() - self.unread_since > UNREAD_ANSWERS_TIMEOUT_SECONDS:
            # A client that reads nothing cannot read a close frame either: the connection is cut.
            self.unread_since = None
            self.transport.abortConnection()


class ApplicationQueue(asyncio.Queue):
    """A connection's messages for its application; `on_take` is called each time the application takes one."""

    def __init__(self, on_take: Callable[[], None] | None) -> None:
        super().__init__()
        self.on_take = on_take

    async def get(self):
        message = await super().get()
        if self.on_take is not None:
            self.on_take()
        return message


class Server(daphne.server.Server):
    """Daphne's server with the limited HTTP channel, the bounded websocket and a body limit."""

    def __init__(self, *args, max_body_bytes: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_body_bytes = max_body_bytes

    # Daphne's run() builds its two factories itself; these setters make them Starling's.

    @property
    def http_factory(self) -> LimitedHTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, daphne_factory: HTTPFactory) -> None:
        self._http_factory = LimitedHTTPFactory(self)

    @property
    def ws_factory(self) -> WebSocketFactory:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: WebSocketFactory) -> None:
        factory.protocol = BoundedWebSocketProtocol
        self._ws_factory = factory

    def create_application(self, protocol, scope: dict) -> ApplicationQueue | None:
        """Daphne's, with a queue that tells the connection when its application takes a message."""
        assert "application_instance" not in self.connections[protocol]
        queue = ApplicationQueue(getattr(protocol, "application_took_message", None))
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=queue.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            instance, loop=asyncio.get_event_loop()
        )
        return queue


def listen_endpoint(host: str, port: int, backlog: int = LISTEN_BACKLOG) -> str:
    """Twisted's description of the listening socket, with its backlog."""
    return f"{build_endpoint_description_strings(host=host, port=port)[0]}:backlog={backlog}"


def serve(*, host: str, port: int, backlog: int = LISTEN_BACKLOG) -> None:
    """Serve the site's ASGI application on host:port until a stop signal (blocks)."""
    from channels.routing import get_default_application

    server = Server(
        application=get_default_application(),
        endpoints=[listen_endpoint(host, port, backlog)],
        # No access log (action_logger): it would write visitors' raw IP addresses.
        websocket_connect_timeout=5,
        websocket_handshake_timeout=5,
        websocket_max_message_size=settings.WEBSOCKET_MAX_MESSAGE_BYTES,
        websocket_max_frame_size=settings.WEBSOCKET_MAX_MESSAGE_BYTES,
        max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )
    server.run()
    if server.abort_start:
        raise SystemExit(1)


def daphne_command(host: str, port: int) -> list[str]:
    """The argv that starts the web server on host:port (`manage.py serve`, settings from the environment)."""
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    return [sys.executable, str(manage), "serve", "--host", host, "--port", str(port)]
