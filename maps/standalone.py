"""A page made self-contained: every /static/ script and stylesheet written into the file,
and the images those stylesheets use as data: URLs, so that a saved map opens from a disk or
an e-mail with no server and no network."""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

from maps import messages
from maps.assets import MOUNTS, PREFIX

_SCRIPT = re.compile(r'<script src="(' + PREFIX + r'/[^"]+)"></script>')
_STYLE = re.compile(r'<link rel="stylesheet" href="(' + PREFIX + r'/[^"]+)"\s*/?>')
_MESSAGES = re.compile(r'<script src="' + messages.PREFIX + r'/(\w+)\.js(?:\?v=[^"]*)?"></script>')
_ICON = re.compile(r'<link rel="icon" href="(' + PREFIX + r'/[^"]+)">')
_CSS_URL = re.compile(r"url\((['\"]?)(?!data:)([^'\")]+)\1\)")


def asset_path(url: str) -> Path:
    """The file behind a /static/{mount}/... URL (refusing any path outside the mount)."""
    mount, _, rest = url[len(PREFIX) + 1:].partition("/")
    root = MOUNTS[mount].resolve()
    path = (root / rest).resolve()
    if root not in path.parents:
        raise ValueError(f"{url} is outside its asset folder")
    return path


def _data_url(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _css(path: Path) -> str:
    def embed(match):
        target = (path.parent / match.group(2)).resolve()
        return f"url({_data_url(target)})" if target.is_file() else match.group(0)
    return _CSS_URL.sub(embed, path.read_text(encoding="utf-8"))


def inline(page: str) -> str:
    """`page` with its local assets written in (its message table too)."""
    page = _MESSAGES.sub(lambda m: "<script>" + messages.script(m.group(1)) + "</script>", page)
    page = _SCRIPT.sub(lambda m: "<script>" + asset_path(m.group(1)).read_text(encoding="utf-8")
                       .replace("</script", "<\\/script") + "</script>", page)
    page = _STYLE.sub(lambda m: "<style>" + _css(asset_path(m.group(1))) + "</style>", page)
    return _ICON.sub(lambda m: f'<link rel="icon" href="{_data_url(asset_path(m.group(1)))}">',
                     page)
