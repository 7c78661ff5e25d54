"""Pure ASGI middleware (no per-request task or body copy, unlike BaseHTTPMiddleware).

For every HTTP request: a request id (echoed if the client sent a sane one), standard security
headers, `/path/` served as `/path` without a redirect, bodies over the size limit refused
with 413 before the application parses them, and an unexpected exception answered with a
problem+json 500 that still carries the request id (Starlette's own fallback is plain text and
sits outside this middleware).
"""

from __future__ import annotations

import logging
import random
import re
from contextvars import ContextVar

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_API_ONLY_HEADERS = [(b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")]
_DOCS_PATHS = ("/docs", "/redoc")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        extra_headers = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
        if not path.startswith(_DOCS_PATHS):
            extra_headers += _API_ONLY_HEADERS
        response_started = rejected = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return  # a 413 already answered; the app only sees a disconnect
            if message["type"] == "http.response.start":
                response_started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def reject() -> None:
            nonlocal rejected
            if not response_started:
                await _send_problem(
                    send_with_headers,
                    413,
                    "Content Too Large",
                    f"The request body exceeds {self.max_body_bytes} bytes",
                )
            rejected = True

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await reject()
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        await reject()
                        return {"type": "http.disconnect"}
                return message

            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            if rejected:
                return  # the client already has its 413
            logger.exception("unhandled error in %s %s", scope.get("method"), path)
            if response_started:
                raise  # too late for a clean answer: let the server drop the connection
            await _send_problem(
                send_with_headers, 500, "Internal Server Error", "An unexpected error occurred"
            )
        finally:
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    """The client's id if it sent a sane one, else 128 random bits as 32 hex digits (the shape
    of `uuid4().hex`). They identify, they do not protect, so they come from `random`, which
    CPython seeds from the OS in every process and reseeds after a fork: no system call per
    request, as `uuid4` makes."""
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    return f"{random.getrandbits(128):032x}"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
