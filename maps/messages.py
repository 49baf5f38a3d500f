"""The pages' message table: every translated message of a language (all rooms' catalogues
merged) as one small script setting `window.GD_MESSAGES`, which maps/static/i18n.js reads.
Served at /i18n/<locale>.js (api/routes/messages.py) and written into a saved page
(maps/standalone.py), so both speak from the same catalogues as the service's answers."""

from __future__ import annotations

import functools
import hashlib
import json

from geo.i18n import LOCALES, current, messages

PREFIX = "/i18n"


def url(locale: str | None = None) -> str:
    """Where the table of `locale` (the request's language by default) is served."""
    return f"{PREFIX}/{locale or current()}.js"


@functools.cache
def script(locale: str) -> str:
    """The table of `locale` as JavaScript (KeyError for a language we do not carry)."""
    if locale not in LOCALES:
        raise KeyError(locale)
    table = json.dumps(messages(locale), ensure_ascii=False, sort_keys=True, indent=0)
    return "window.GD_MESSAGES = " + table.replace("</", "<\\/") + ";\n"


@functools.cache
def etag(locale: str) -> str:
    return '"' + hashlib.sha256(script(locale).encode()).hexdigest()[:32] + '"'
