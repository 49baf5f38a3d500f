"""The message catalogues against the code: Babel's extractors find the ids in Python and in
the pages' JavaScript; Chinese translates every one of them; no entry is fuzzy, none is
translated two ways in two rooms, each translation keeps its id's {placeholders}, and no
catalogue holds anything the code no longer says."""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.pofile import read_po

from geo.i18n import _, missing, using
from geo.i18n.catalogues import catalogue_files
from geo.i18n.extract import extract_ids


@pytest.fixture(scope="module")
def ids() -> dict[str, list[str]]:
    return extract_ids()


@pytest.fixture(scope="module")
def catalogues() -> dict[str, list]:
    """Each room's zh_CN entries (the header left out)."""
    out = {}
    for path in catalogue_files("zh_CN"):
        with path.open("rb") as f:
            out[path.stem] = [m for m in read_po(f, locale="zh_CN", domain=path.stem) if m.id]
    return out


def _placeholders(text: str) -> set[str]:
    """The named fields of a str.format template ({{ and }} are literal braces)."""
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text)
            if name is not None}


def test_the_extractor_reads_python_and_javascript(tmp_path, ids):
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "room.py").write_text(
        'from geo.i18n import _, ngettext\n'
        'A = _("sent to {team}")\n'
        'B = ngettext("{n} issue", "{n} issues", 2)\n', encoding="utf-8")
    (tmp_path / "maps" / "static").mkdir(parents=True)
    (tmp_path / "maps" / "static" / "page.js").write_text(
        'var _ = gdI18n.t;\nel.title = fmt(_("{n} open"), {n: 3});\n', encoding="utf-8")
    (tmp_path / "maps" / "vendor").mkdir()
    (tmp_path / "maps" / "vendor" / "lib.js").write_text('_("not ours")\n', encoding="utf-8")
    found = extract_ids(tmp_path)
    assert set(found) == {"sent to {team}", "{n} issue", "{n} open"}
    assert found["{n} open"] == ["maps/static/page.js:2"]
    # In the real tree: an id of the service's, and the pages' scripts are read too.
    assert "wrong username or password" in ids
    assert any(where.startswith("maps/static/") and where.split(":")[0].endswith(".js")
               for places in ids.values() for where in places)


def test_every_message_has_a_chinese_translation(ids):
    assert missing("zh_CN", ids) == []


def test_translations_are_used_in_chinese_and_ids_stand_for_english():
    with using("zh_CN"):
        assert _("wrong username or password") == "用户名或密码错误"
    with using("en"):
        assert _("wrong username or password") == "wrong username or password"


def test_no_entry_is_fuzzy_or_empty(catalogues):
    for room, entries in catalogues.items():
        fuzzy = [m.id for m in entries if m.fuzzy]
        empty = [m.id for m in entries if not all(m.string if isinstance(m.string, tuple)
                                                   else [m.string])]
        assert not fuzzy, (room, fuzzy)
        assert not empty, (room, empty)


def test_no_id_is_translated_two_ways_in_two_rooms(catalogues):
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for room, entries in sorted(catalogues.items()):
        for m in entries:
            key = m.id if isinstance(m.id, str) else m.id[0]
            if key in seen and seen[key][1] != m.string:
                clashes.append((key, seen[key][0], room))
            seen.setdefault(key, (room, m.string))
    assert not clashes


def test_translations_keep_their_placeholders(catalogues):
    wrong = []
    for room, entries in catalogues.items():
        for m in entries:
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            wanted = set().union(*(_placeholders(i) for i in ids))
            for text in strings:
                if _placeholders(text) != wanted:
                    wrong.append((room, m.id, text))
    assert not wrong


def test_no_catalogue_holds_an_obsolete_entry(catalogues, ids):
    """Every room's entries are ids the code says (an id the extractor cannot see, such as a
    `_()` inside an f-string on Python 3.11, shows up here as obsolete)."""
    obsolete = [(room, m.id) for room, entries in sorted(catalogues.items()) for m in entries
                if (m.id if isinstance(m.id, str) else m.id[0]) not in ids]
    assert obsolete == []


def test_placeholders_are_named():
    """Positional fields ({} or {0}) cannot be reordered by a translator."""
    positional = re.compile(r"(?<!\{)\{\d*\}(?!\})")
    bad = [i for i in extract_ids() if positional.search(i)]
    assert bad == []
