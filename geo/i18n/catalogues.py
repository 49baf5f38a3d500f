"""The gettext catalogues, read from their .po files once per process.

Each room of the product keeps its own catalogue (`locales/zh_CN/LC_MESSAGES/<room>.po`, as
Django keeps one per app); a language's translations are all of them merged. The .po files
are compiled in memory when first used, so there is no build step and no binary in the tree."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locales"
SOURCE_LOCALE = "en"  # message ids are English: English needs no catalogue


def catalogue_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


@functools.cache
def _catalogues(locale: str) -> tuple:
    out = []
    for path in catalogue_files(locale):
        with path.open("rb") as f:
            out.append(read_po(f, locale=locale, domain=path.stem))
    return tuple(out)


@functools.cache
def translations(locale: str) -> NullTranslations:
    """All of a language's catalogues as one gettext translations object (English, the
    language of the message ids, has none and answers each id as it is)."""
    merged: NullTranslations = NullTranslations()
    for catalogue in _catalogues(locale):
        buffer = io.BytesIO()
        write_mo(buffer, catalogue, use_fuzzy=False)
        buffer.seek(0)
        part = Translations(buffer, domain=catalogue.domain)
        if isinstance(merged, Translations):
            merged.merge(part)
        else:
            merged = part
    return merged


@functools.cache
def messages(locale: str) -> dict[str, str]:
    """Every translated message of `locale`, id → text (what the pages' scripts receive).
    Plural messages appear under their singular id, with the plural forms in a list."""
    table: dict[str, str] = {}
    for catalogue in _catalogues(locale):
        for m in catalogue:
            if not m.id or m.fuzzy:
                continue
            if isinstance(m.id, tuple):
                if all(m.string):
                    table[m.id[0]] = list(m.string)
            elif m.string:
                table[m.id] = m.string
    return table


def missing(locale: str, ids) -> list[str]:
    """The message ids among `ids` that `locale` does not translate."""
    if locale == SOURCE_LOCALE:
        return []
    table = messages(locale)
    return sorted({i for i in ids if i not in table})
