"""The language of each request (a pure ASGI middleware): `?lang=zh-CN|en` on any address, then
the language cookie, then Accept-Language, then Chinese. A `lang` chosen in the address is
taken out of the query (routes never see it) and remembered in the cookie, so a page's
language switch is a link; answers say their language (Content-Language) and that it depends
on the request (Vary)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from geo.i18n import html_lang, negotiate
from geo.i18n.locale import _current, set_current

COOKIE = "gd_lang"
PARAM = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


class Language:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        chosen = next((v for k, v in query if k == PARAM), None)
        if chosen is not None:
            rest = [(k, v) for k, v in query if k != PARAM]
            scope = {**scope, "query_string": urlencode(rest).encode("latin-1")}
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        remembered = cookie[COOKIE].value if COOKIE in cookie else None
        locale = negotiate(chosen, remembered,
                           headers.get(b"accept-language", b"").decode("latin-1"))
        token = set_current(locale)

        async def send_with_language(message):
            if message["type"] == "http.response.start":
                extra = [(b"content-language", html_lang(locale).encode()),
                         (b"vary", b"Accept-Language, Cookie")]
                if chosen is not None:
                    extra.append((b"set-cookie", f"{COOKIE}={locale}; Path=/; Max-Age="
                                  f"{COOKIE_MAX_AGE}; SameSite=Lax".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)
