"""Unit-grid codes (网格编码) after the national scheme (GB/T 30428 family).

A code is the parent's code followed by a 3-digit sequence, so each level is a prefix:

    district  220204            6-digit county-level adcode (区/县)
    street    220204 003        + 3-digit street/township (街道/乡镇)
    community 220204 003 012    + 3-digit community/village (社区/村)
    grid      220204 003 012 007  + 3-digit grid sequence (网格), 15 digits in all

Sequences start at 001; 000 is never used, so a code never ends a level in zeros.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from geo.i18n import N_, _, label

LEVELS = ("district", "street", "community", "grid")
LENGTHS = {"district": 6, "street": 9, "community": 12, "grid": 15}
LEVEL_NAMES = {"district": N_("district"), "street": N_("street"),  # in sentences, translated
               "community": N_("community"), "grid": N_("grid")}


def level_name(level: str) -> str:
    """A level as the reader's language names it (区县, 街道, 社区, 网格)."""
    return label(LEVEL_NAMES, level)
_PATTERN = re.compile(r"[0-9]+")


class CodeError(ValueError):
    """A code that does not follow the unit-grid scheme."""


def level_of(code: str) -> str:
    """The level a well-formed code belongs to, by its length."""
    for level, length in LENGTHS.items():
        if len(code) == length:
            return level
    raise CodeError(_("code {code} has {n} digits; expected {lengths}").format(
        code=code, n=len(code), lengths=_or([str(n) for n in LENGTHS.values()])))


def named_lengths(levels: Sequence[str]) -> str:
    """Levels with the lengths of their codes, as messages name them: "district (6 digits),
    street (9) or community (12)"."""
    return _or([(_("{level} ({n} digits)") if i == 0 else _("{level} ({n})")).format(
        level=level_name(level), n=LENGTHS[level]) for i, level in enumerate(levels)])


def _or(words: Sequence[str]) -> str:
    """Alternatives in the reader's language: "6, 9 or 12"."""
    if len(words) == 1:
        return words[0]
    # TRANSLATORS: {items} are alternatives separated by the ", " below; {last} the last one.
    return _("{items} or {last}").format(items=_(", ").join(words[:-1]), last=words[-1])


def check(code: str, level: str) -> str:
    """Return `code` if it is a well-formed code of `level`, else raise CodeError."""
    length = LENGTHS[level]
    if not isinstance(code, str) or len(code) != length or not _PATTERN.fullmatch(code):
        raise CodeError(_("{level} code {code} must be {n} digits").format(
            level=level_name(level), code=code, n=length))
    if level != "district" and code[-3:] == "000":
        raise CodeError(_("{level} code {code} ends in sequence 000; sequences start at "
                          "001").format(level=level_name(level), code=code))
    return code


def parent(code: str) -> str:
    """The code of the level above (a grid's community, a community's street, ...)."""
    level = level_of(code)
    if level == "district":
        raise CodeError(_("district code {code} has no parent in this scheme").format(
            code=code))
    return code[:-3]


def child(parent_code: str, sequence: int) -> str:
    """The code of the `sequence`-th child (1..999) of `parent_code`."""
    if not 1 <= sequence <= 999:
        raise CodeError(_("sequence {n} is outside 1..999").format(n=sequence))
    return f"{parent_code}{sequence:03d}"


def at_level(code: str, level: str) -> str:
    """The code of the area of `level` that holds `code` (its prefix): a grid's street, ..."""
    return code[:LENGTHS[level]]


def ancestors(grid_code: str) -> tuple[str, str, str]:
    """(community, street, district) codes of a grid code."""
    check(grid_code, "grid")
    return (at_level(grid_code, "community"), at_level(grid_code, "street"),
            at_level(grid_code, "district"))
