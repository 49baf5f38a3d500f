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
    """Where the pages load the table of `locale` (the request's language by default): its
    address names its content (`?v=`), so a browser may keep it for good and a new release's
    pages ask for the new table."""
    locale = locale or current()
    return f"{PREFIX}/{locale}.js?v={version(locale)}"


@functools.cache
def script(locale: str) -> str:
    """The table of `locale` as JavaScript (KeyError for a language we do not carry)."""
    if locale not in LOCALES:
        raise KeyError(locale)
    table = json.dumps(messages(locale), ensure_ascii=False, sort_keys=True, indent=0)
    return "window.GD_MESSAGES = " + table.replace("</", "<\\/") + ";\n"


@functools.cache
def version(locale: str) -> str:
    """A hash of the table's content (KeyError for a language we do not carry)."""
    return hashlib.sha256(script(locale).encode()).hexdigest()[:32]


def etag(locale: str) -> str:
    return f'"{version(locale)}"'
