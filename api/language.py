"""The language of each request (a pure ASGI middleware): `?lang=zh-CN|en` on any address, then
the language cookie, then Accept-Language, then Chinese. A `lang` chosen in the address is
taken out of the query (routes never see it) and remembered in the cookie, so a page's
language switch is a link; answers say their language (Content-Language) and that it depends
on the request (Vary)."""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

from api.errors import internal_error
from geo.i18n import html_lang, negotiate
from geo.i18n.locale import _current, set_current

log = logging.getLogger("griddispatch.api")
COOKIE = "gd_lang"
PARAM = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def take_param(query: bytes, name: str = PARAM) -> tuple[str | None, bytes]:
    """The last value of `name` in a raw query, and the query without its pairs; every other
    byte is kept as sent (a re-encoding would alter escapes the routes are to judge)."""
    chosen, kept = None, []
    for pair in query.split(b"&"):
        key, _sep, value = pair.partition(b"=")
        if unquote_plus(key.decode("latin-1")) == name:
            chosen = unquote_plus(value.decode("latin-1"))
        else:
            kept.append(pair)
    return chosen, (b"&".join(kept) if chosen is not None else query)


def cookie_value(header: bytes, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header. Parsed by hand: http.cookies refuses a
    whole header for one cookie named outside its grammar (`a(b)`, `{x}`), which another
    site's script on the same host may well set."""
    for part in header.decode("latin-1").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    return None


class Language:
    """`fixed`: path prefixes whose answers do not depend on the request's language (static
    files, the message tables, which say their own): they get no Content-Language nor Vary
    from here. An unhandled error is answered here (500, in the reader's language), since
    Starlette's last-resort handler runs outside this middleware, after the language is gone."""

    def __init__(self, app, fixed: tuple[str, ...] = ()):
        self.app = app
        self.fixed = fixed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        chosen, rest = take_param(scope.get("query_string", b""))
        if chosen is not None:
            scope = {**scope, "query_string": rest}
        remembered = cookie_value(headers.get(b"cookie", b""), COOKIE)
        locale = negotiate(chosen, remembered,
                           headers.get(b"accept-language", b"").decode("latin-1"))
        fixed = scope["path"].startswith(self.fixed) if self.fixed else False
        token = set_current(locale)
        started = False

        async def send_with_language(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = [] if fixed else [(b"content-language", html_lang(locale).encode()),
                                          (b"vary", b"Accept-Language, Cookie")]
                if chosen is not None:
                    extra.append((b"set-cookie", f"{COOKIE}={locale}; Path=/; Max-Age="
                                  f"{COOKIE_MAX_AGE}; SameSite=Lax".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        except Exception:
            if started:  # too late for an answer of our own: the server drops the connection
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope["path"])
            await internal_error()(scope, receive, send_with_language)
        finally:
            _current.reset(token)
