"""The pages' message table (/i18n/zh_CN.js, /i18n/en.js): a script the map pages load before
their own, cacheable for a day and revalidated by its ETag, since it changes only with a
release. Not part of the API's contract, so not in its OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from maps import messages

router = APIRouter(prefix=messages.PREFIX, include_in_schema=False)
MAX_AGE_S = 24 * 3600


@router.get("/{locale}.js")
def table(locale: str, request: Request) -> Response:
    try:
        text = messages.script(locale)
    except KeyError:
        return PlainTextResponse(f"no messages for {locale!r}; one of zh_CN, en", 404)
    tag = messages.etag(locale)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={MAX_AGE_S}",
               "X-Content-Type-Options": "nosniff"}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(text, media_type="text/javascript; charset=utf-8", headers=headers)
