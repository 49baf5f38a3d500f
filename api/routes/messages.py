"""The pages' message table (/i18n/zh_CN.js, /i18n/en.js): a script the map pages load before
their own. The pages ask for it at an address naming its content (`?v=<hash>`,
maps.messages.url), which never changes meaning and is kept for good (immutable); any other
address of it (no or an old `v`) is revalidated by its ETag on every use (no-cache). It says
its own language, whatever the request's. Not part of the API's contract, so not in its
OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.errors import error_body
from geo.i18n import LOCALES, _, html_lang
from maps import messages

router = APIRouter(prefix=messages.PREFIX, include_in_schema=False)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@router.get("/{locale}.js")
def table(locale: str, request: Request, v: str | None = None) -> Response:
    try:
        text = messages.script(locale)
    except KeyError:
        return JSONResponse(error_body("not_found", _(
            "there are no page messages for {locale}; the languages are: {locales}").format(
                locale=locale, locales=", ".join(LOCALES))), status_code=404)
    tag = messages.etag(locale)
    headers = {"ETag": tag, "Cache-Control": IMMUTABLE if v == messages.version(locale)
               else REVALIDATE, "Content-Language": html_lang(locale),
               "X-Content-Type-Options": "nosniff"}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(text, media_type="text/javascript; charset=utf-8", headers=headers)
