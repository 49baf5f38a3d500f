"""The language of the work in progress, and choosing one for a request."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from babel import Locale, UnknownLocaleError

from geo.i18n.catalogues import translations

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")  # the first is the default; message ids are the English
_HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("griddispatch_locale",
                                                               default=DEFAULT_LOCALE)


def current() -> str:
    return _current.get()


def html_lang(locale: str | None = None) -> str:
    """The BCP 47 tag a page declares (`<html lang=...>`)."""
    return _HTML_LANG[locale or current()]


@contextmanager
def using(locale: str) -> Iterator[str]:
    """Speak `locale` inside the block (one of LOCALES)."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; one of {', '.join(LOCALES)}")
    token = _current.set(locale)
    try:
        yield locale
    finally:
        _current.reset(token)


def set_current(locale: str) -> contextvars.Token:
    """For a middleware that sets the language for the rest of a request's context."""
    return _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def _supported(tag: str | None) -> str | None:
    """One of LOCALES for a tag such as `zh-CN`, `zh-Hans`, `zh`, `en-US`, or None."""
    if not tag:
        return None
    try:
        parsed = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        return "zh_CN"  # simplified Chinese is the only Chinese we carry
    return "en" if parsed.language == "en" else None


def _accept_language(header: str) -> list[str]:
    """Accept-Language's tags, best first (RFC 9110 q-values; q=0 means not acceptable)."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, position, tag))
    return [tag for _q, _p, tag in sorted(ranked)]


def negotiate(chosen: str | None = None, cookie: str | None = None,
              accept_language: str | None = None) -> str:
    """The language for a request: an explicit choice (`?lang=`), then the remembered one
    (cookie), then the browser's preference, then Chinese."""
    for tag in (chosen, cookie, *_accept_language(accept_language or "")):
        locale = _supported(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


def _(message: str) -> str:
    """`message` (an English message id) in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalogue without translating it here (a table of labels
    translated where they are shown)."""
    return message


def label(table: dict[str, str], key: str) -> str:
    """A key's word from a table of `N_` words, in the current language; the key itself when
    the table lacks it (a value newer than the table is shown, never dropped)."""
    return _(table[key]) if key in table else key
