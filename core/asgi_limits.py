"""Refusing oversized requests below Django: the answer's body, and an ASGI guard for request bodies.

Django's ASGI handler spools the whole body before a view runs; the guard answers 413 as soon as the
declared Content-Length, or the bytes actually received, pass MAX_REQUEST_BODY_BYTES. The web server
(`core.server`) refuses the same bodies, and over-long request lines and headers, with the same answer
before Daphne reads them; the guard stays for any other ASGI server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.errors import error_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def refusal(*, status: int, code: str, message: str, path: str) -> tuple[bytes, bytes]:
    """(content type, body) of a refusal below Django: the API's error JSON under /api/, plain text elsewhere."""
    if path.startswith("/api/"):
        return b"application/json", error_json(status=status, code=code, message=message)
    return b"text/plain; charset=utf-8", message.encode()


def body_too_large(*, path: str, max_bytes: int) -> tuple[bytes, bytes]:
    """The 413 answer (content type, body) for a request body over `max_bytes`."""
    message = f"The request body is larger than {max_bytes} bytes."
    return refusal(status=413, code="payload_too_large", message=message, path=path)


class BodySizeLimit:
    """Wraps an ASGI app; HTTP requests with bodies over `max_bytes` get 413 and never reach it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return

        received = 0
        too_big = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if too_big and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        content_type, body = body_too_large(path=scope.get("path", ""), max_bytes=self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
