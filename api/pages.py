"""The frame of the service's plain HTML pages (the login, messages, the OGC API's HTML): their
head in the reader's language, the headers that hold them to the server, and the link to the
same page in the other language."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from fastapi import Request

from api.language import PARAM
from geo.i18n import html_lang
from maps import assets, messages


def page_headers(settings) -> dict:
    """Scripts, styles and data from the server only (images also from the configured tile
    host); never framed, never cached."""
    tiles = settings.tile_origin() or ""
    policy = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
              "style-src 'self' 'unsafe-inline'; "
              f"img-src 'self' data: {tiles}".rstrip() + "; connect-src 'self'; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    return {"Content-Security-Policy": policy, "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def language_switch(request: Request) -> str:
    """The link to this page in the other language (as gdI18n.switchUrl gives it)."""
    other, label = ("en", "English") if html_lang() == "zh-CN" else ("zh-CN", "中文")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != PARAM]
    target = request.url.path + "?" + urlencode([*query, (PARAM, other)])
    return (f'<a class="gd-lang" href="{html.escape(target)}" hreflang="{other}" '
            f'lang="{other}">{label}</a>')


def page_head(title: str) -> str:
    """A plain page's head: its language, title, icon and style, and the pages' messages."""
    return (f'<!DOCTYPE html>\n<html lang="{html_lang()}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="{assets.url("app", "favicon.svg")}">'
            f'<link rel="stylesheet" href="{assets.url("app", "griddispatch.css")}">'
            f'<script src="{messages.url()}"></script>'
            f'<script src="{assets.url("app", "i18n.js")}"></script></head>')
