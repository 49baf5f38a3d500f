"""Request body limits, enforced before the body is parsed (a pure ASGI middleware)."""

from __future__ import annotations

import json

from fastapi import HTTPException

from geo.i18n import _


def _too_large(limit: int) -> str:
    return _("the request body is larger than {limit} bytes").format(limit=limit)


class BodyLimit:
    """413 for bodies over the limit: from Content-Length when given, else while streaming.

    `larger` maps path suffixes (photo uploads) to their own limit."""

    def __init__(self, app, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    def _limit_for(self, path: str) -> int:
        for suffix, limit in self.larger.items():
            if path.endswith(suffix):
                return limit
        return self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                return await _reply(send, 400, "invalid_content_length",
                                    _("Content-Length is not a number"))
            if too_big:
                return await _reply(send, 413, "body_too_large", _too_large(limit))
        seen = 0
        replied = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message):
            nonlocal replied
            if message["type"] == "http.response.start":
                replied = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:  # when a route let it pass: the answer is the same
            if not replied:
                await _reply(send, 413, "body_too_large", _too_large(limit))


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit. An HTTPException, so that
    FastAPI's body parsing re-raises it instead of answering 400."""

    code = "body_too_large"

    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=_too_large(limit))


async def _reply(send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"code": code, "detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
