"""The message ids the code uses, found by Babel's extractors (Python and the pages'
JavaScript), and the ones a language lacks: `python -m geo.i18n.extract [LOCALE]` lists them
as .po entries for a translator to fill in and add to a room's catalogue."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir

from geo.i18n.catalogues import missing

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo", "api", "maps", "fixtures")
METHODS = [("**/vendor/**", "ignore"), ("**.py", "python"), ("**/static/**.js", "javascript")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extract_ids(root: Path = ROOT) -> dict[str, list[str]]:
    """Each message id → where it is used (`path:line`)."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                root / package, METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
            for msgid in (message if isinstance(message, tuple) else (message,))[:1]:
                if msgid:
                    found.setdefault(msgid, []).append(f"{package}/{filename}:{lineno}")
    return found


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(argv: list[str]) -> int:
    locale = argv[0] if argv else "zh_CN"
    used = extract_ids()
    lacking = missing(locale, used)
    for msgid in lacking:
        print(f"#: {' '.join(used[msgid][:3])}\nmsgid {_po_string(msgid)}\nmsgstr \"\"\n")
    print(f"# {len(lacking)} of {len(used)} messages lack a {locale} translation", file=sys.stderr)
    return 1 if lacking else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
