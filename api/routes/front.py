"""The front door: `/` sends a logged-in person to the page their role opens (anyone else to
the login), and the API reference (/docs, Swagger UI; /redoc, ReDoc) is served from the
copies installed with the map assets, so that no page reaches another host: command centres
often sit on networks without internet."""

from __future__ import annotations

import hashlib
import html
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import SecurityScopes
from starlette.routing import Match

from api.auth import current_actor
from api.errors import error_body
from geo.i18n import _, html_lang
from maps import assets

router = APIRouter(tags=["meta"], include_in_schema=False)

LOGIN = "/maps/login"
LIVE = "/maps/live"
DASHBOARD = "/maps/dashboard"
DOCS = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# The page each role opens first; the command centre's overview where there is one.
START = {"operator": (DASHBOARD, LIVE), "supervisor": (DASHBOARD, LIVE),
         "dispatcher": (LIVE,), "planner": (LIVE,)}
# The reference pages run their own inline start-up code and styles; they load nothing from
# elsewhere, and ReDoc's search runs in a worker made from a blob.
POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
          "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
          "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
          "base-uri 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


def _has_page(request: Request, path: str) -> bool:
    """Whether the service answers GET `path` (a page another part may or may not add)."""
    scope = {"type": "http", "path": path, "method": "GET"}
    return any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes)


def start_page(request: Request) -> str:
    """Where `/` sends this request: the login without a live session cookie, else the first
    page of the user's role that the service has (the API reference for other roles)."""
    try:
        actor = current_actor(request, SecurityScopes([]), None)
    except HTTPException:
        return LOGIN
    for path in START.get(actor.role, (DOCS,)):
        if path == DOCS or _has_page(request, path):
            return path
    return DOCS


@router.api_route("/", methods=["GET", "HEAD"], response_class=RedirectResponse)
def front(request: Request):
    """To the page the logged-in user's role opens (303), or to the login."""
    return RedirectResponse(start_page(request), status_code=303,
                            headers={"Cache-Control": "no-store"})


def _bar(request: Request, here: str) -> str:
    """A line above the reference: the other reference, the maps, the other language."""
    lang = html_lang()
    other, label = (("zh-CN", "中文") if lang.startswith("en") else ("en", "English"))
    links = [(DOCS, _("Interactive reference (Swagger UI)")), ("/redoc", _("Reference (ReDoc)")),
             ("/", _("Map pages")), (f"{here}?lang={other}", label)]
    items = "".join(f'<a href="{html.escape(href)}"{" aria-current=page" if href == here else ""}>'
                    f"{html.escape(text)}</a>" for href, text in links)
    return ('<nav class="gd-docs-bar" style="font:14px/1.4 system-ui,\'PingFang SC\','
            "'Microsoft YaHei',sans-serif;padding:6px 16px;background:#263238;display:flex;"
            f'gap:18px">{items}</nav><style>.gd-docs-bar a{{color:#eceff1}}</style>')


def _localised(response: HTMLResponse, request: Request, here: str) -> HTMLResponse:
    """The page with its language declared and our bar on top, under our policy."""
    text = response.body.decode("utf-8")
    text = text.replace("<html>", f'<html lang="{html_lang()}">', 1)
    text = text.replace("<body>", "<body>" + _bar(request, here), 1)
    return HTMLResponse(text, headers=HEADERS)


@router.get(DOCS, response_class=HTMLResponse)
def docs(request: Request):
    """Swagger UI on the service's OpenAPI document, from the installed copy; its online
    validator badge is off (it would send the document to validator.swagger.io)."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=_("griddispatch: API reference"),
        swagger_js_url=assets.url("swagger", "swagger-ui-bundle.js"),
        swagger_css_url=assets.url("swagger", "swagger-ui.css"),
        swagger_favicon_url=assets.url("app", "favicon.svg"),
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False})
    return _localised(page, request, DOCS)


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def oauth2_redirect():
    """Swagger UI's page for OAuth2 flows that come back through the browser."""
    page = get_swagger_ui_oauth2_redirect_html()
    return HTMLResponse(page.body, headers=HEADERS)


# ReDoc's sidebar always shows Redocly's logo, an image on cdn.redoc.ly, and has no option to
# leave it out. The copy of its script served at its usual address names an empty image
# instead, which ReDoc hides when it does not load; the other files of the mount are as
# installed. (A newer ReDoc without that address is served as it is, and the crawl test says
# if it reaches another host some other way.)
REDOC_JS = assets.url("redoc", "redoc.standalone.js")
REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_IMAGE = b"data:,"


@lru_cache(maxsize=2)
def _redoc_script(path: str, modified_ns: int) -> tuple[bytes, str]:
    """The script without the remote logo, and its ETag; read again when the file changes."""
    body = Path(path).read_bytes().replace(REDOCLY_LOGO, NO_IMAGE)
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get(REDOC_JS)
def redoc_script(request: Request):
    """ReDoc's standalone bundle, as installed but for the logo it would fetch from Redocly."""
    path = assets.MOUNTS["redoc"] / "redoc.standalone.js"
    try:
        body, etag = _redoc_script(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return JSONResponse(error_body("assets_missing", _(
            "ReDoc is not installed: run {hint} on the server").format(
                hint=assets.INSTALL_HINT)), status_code=503)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request):
    """ReDoc on the service's OpenAPI document, from the installed copy, without the web
    fonts it would load from Google."""
    page = get_redoc_html(
        openapi_url=request.app.openapi_url, title=_("griddispatch: API reference (ReDoc)"),
        redoc_js_url=assets.url("redoc", "redoc.standalone.js"),
        redoc_favicon_url=assets.url("app", "favicon.svg"), with_google_fonts=False)
    return _localised(page, request, "/redoc")
