"""The map pages: /maps/live for the command centre, /maps/issues/{id} for dispatchers, and
the login page that gives them their session. Pages carry no data of their own beyond the
user's name and starting view; their layers come from the API with the same rules as any
other client. A strict Content-Security-Policy keeps them from reaching any other host."""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import SecurityScopes
from fastapi.security.utils import get_authorization_scheme_param

from api import deps
from api.auth import current_actor
from api.deps import Category, Id, analysis_params, study_query
from api.language import PARAM
from api.pages import language_switch, page_head, page_headers
from geo.casework.errors import Forbidden, InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.hotspots.reports import day
from geo.i18n import _
from geo.indicators.dashboard import screen_view
from geo.layers.mapview import draft_bounds, hotspot_view, issue_view, live_view
from geo.property.ranking import page_view
from geo.store import Store
from geo.workflow import role_label
from maps import assets
from maps.base import page
from maps.dashboard import dashboard_page
from maps.dispatch import dispatch_map
from maps.editor import editor_map
from maps.hotspots import hotspot_page, whole_slices
from maps.live import live_map
from maps.property import property_page

router = APIRouter(prefix="/maps", tags=["maps"])
_HTML = {"content": {"text/html": {}}}
# What a page answers instead of an error body: a redirect to the login, or a page saying why.
PAGE = {303: {"description": "not logged in: to the login page, which comes back here"},
        403: {**_HTML, "description": "a page saying why this user may not see it"},
        422: {**_HTML, "description": "a page naming the parameter that cannot be used"},
        503: {**_HTML, "description": "a page saying that the map assets are not installed"}}
NO_SUCH = {404: {**_HTML, "description": "a page saying there is none that you may see"}}
LOGIN = "/maps/login"
# Where a login may go on to: a map page, with its filters (never another host or scheme).
_SAFE_NEXT = re.compile(r"^/maps/[A-Za-z0-9_/.-]*(\?[A-Za-z0-9_=&%.:+-]*)?$")


def _message(request: Request, status: int, title: str, text: str) -> HTMLResponse:
    """A page saying why there is no map: `title` and `text` already in the reader's language."""
    other = html.escape(_("Log in as someone else"))
    body = (page_head(title) + f"<body><div class='gd-login'>{language_switch(request)}"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
            f"<p><a href='{LOGIN}'>{other}</a></p></div></body></html>")
    return HTMLResponse(body, status, headers=page_headers(request.app.state.settings))


def _bearer(request: Request) -> str | None:
    """The request's bearer token, as `api.auth.oauth2` reads it (pages mostly use the cookie)."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    return token if authorization and scheme.lower() == "bearer" else None


def _viewer(request: Request, scopes: list[str]) -> Actor | Response:
    """The logged-in user holding `scopes`, or the page to show instead (login or refusal).
    Synchronous, like the pages that call it: the user is looked up in the database."""
    missing = assets.missing()
    if missing:
        return _message(request, 503, _("Map assets are not installed"),
                        _("Run `{command}` on the server (missing: {path}).").format(
                            command=assets.INSTALL_HINT, path=missing[0]))
    try:
        return current_actor(request, SecurityScopes(scopes), _bearer(request))
    except HTTPException as exc:
        if exc.status_code == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            back = quote(target, safe="/") if _SAFE_NEXT.match(target) else ""
            return RedirectResponse(f"{LOGIN}?next={back}", status_code=303)
        return _message(request, exc.status_code, _("Not allowed"), _detail(exc.detail))


def _detail(detail) -> str:
    """An error's sentence, from the plain or the coded form of an HTTPException's detail."""
    return str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)


def _html(request: Request, text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=page_headers(request.app.state.settings))


def _who(actor: Actor) -> str:
    """The user as their page names them: user name and role, the role in words."""
    return _("{user} ({role})").format(user=actor.username, role=role_label(actor.role))


@router.get("", response_class=RedirectResponse, status_code=303,
            responses={422: PAGE[422]})
def index():
    return RedirectResponse("/maps/live", status_code=303)


@router.get("/login", response_class=HTMLResponse, responses={422: PAGE[422]})
def login(request: Request, next: str = "/maps/live"):  # noqa: A002 - the conventional name
    """A login form; its script posts to /api/v1/auth/session and goes on to `next`."""
    target = next if _SAFE_NEXT.match(next or "") else "/maps/live"
    say = {k: html.escape(v) for k, v in {"user": _("User name"), "password": _("Password"),
                                             "submit": _("Log in"),
                                             "what": _("Grid governance command centre")}.items()}
    body = (page_head(_("griddispatch: log in")) +
            f'<body><form id="login" class="gd-login" data-next="{html.escape(target)}">'
            f"{language_switch(request)}<h1>griddispatch</h1><p class=\"gd-subtitle\">{say['what']}</p>"
            f"<label>{say['user']} "
            '<input name="username" autocomplete="username" required></label>'
            f"<label>{say['password']} <input name=\"password\" type=\"password\" "
            'autocomplete="current-password" required></label>'
            f'<button type="submit">{say["submit"]}</button>'
            '<p id="message" class="gd-failure" role="alert"></p></form>'
            f'<script src="{assets.url("app", "login.js")}"></script></body></html>')
    return _html(request, body)


@router.get("/live", response_class=HTMLResponse, responses=PAGE)
def live(request: Request, store: Store = Depends(deps.store)):
    """The live operations map for command-centre operators."""
    viewer = _viewer(request, ["layers:read", "issues:read"])
    if isinstance(viewer, Response):
        return viewer
    view = live_view(store, viewer)
    m = live_map(request.app.state.settings, view.bounds, _who(viewer), view.levels,
                 view.districts, people="people:read" in deps.granted(request))
    return _html(request, page(m, _("griddispatch: live operations")))


@router.get("/issues/{issue_id}", response_class=HTMLResponse, responses={**PAGE, **NO_SUCH})
def issue(issue_id: Id, request: Request, store: Store = Depends(deps.store),
          now: datetime = Depends(deps.now)):
    """The dispatch map for one issue that the dispatcher may see."""
    viewer = _viewer(request, ["issues:dispatch", "layers:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        view = issue_view(store, viewer, issue_id, now)
    except NotFound as exc:
        return _message(request, 404, _("No such issue"), str(exc))
    m = dispatch_map(request.app.state.settings, issue_id, view.issue["lon"], view.issue["lat"],
                     _who(viewer), viewer.role, view.levels)
    return _html(request, page(m, _("griddispatch: dispatch issue {id}").format(id=issue_id)))


@router.get("/hotspots", response_class=HTMLResponse, responses={**PAGE, **NO_SUCH})
def hotspots(request: Request, category: Category = None, area: str | None = None,
             since: str | None = None, until: str | None = None, slice: str = "month",
             bins: str = "grid", store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)):
    """Where problems concentrate, and how hotspots emerge, persist and move: the hotspot map
    for the filters in the query (a year of all categories by default)."""
    viewer = _viewer(request, ["hotspots:read", "layers:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        q = study_query(category, area or None, day(since, _("From")), day(until, _("To")), now)
        params = analysis_params(slice=slice, bins=bins)
        q = whole_slices(q, params.slice)  # the slider starts at "from"
        view = hotspot_view(store, viewer, q)
        text = hotspot_page(request.app.state.settings, view.study, params, view.streets,
                            who=_who(viewer))
    except InvalidInput as exc:
        return _message(request, 422, _("Cannot analyse these filters"), str(exc))
    except NotFound as exc:
        return _message(request, 404, _("Nothing to analyse"), str(exc))
    except ValueError as exc:  # too few or too many time slices
        return _message(request, 422, _("Cannot analyse these filters"), str(exc))
    return _html(request, text)


@router.get("/editor/{draft_id}", response_class=HTMLResponse, responses={**PAGE, **NO_SUCH})
def editor(draft_id: Id, request: Request, store: Store = Depends(deps.store)):
    """The grid editor for one draft that the planner may see."""
    viewer = _viewer(request, ["grids:plan", "layers:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        bounds = draft_bounds(store, viewer, draft_id)
    except NotFound as exc:
        return _message(request, 404, _("No such draft"), str(exc))
    m = editor_map(request.app.state.settings, draft_id, bounds, _who(viewer))
    return _html(request, page(m, _("griddispatch: grid editor, draft {id}").format(id=draft_id)))


@router.get("/dashboard", response_class=HTMLResponse, responses=PAGE)
def dashboard(request: Request, store: Store = Depends(deps.store)):
    """The command centre's big screen (大屏); its figures come from /api/v1/dashboard."""
    viewer = _viewer(request, ["issues:read", "layers:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        view = screen_view(store, viewer)
    except Forbidden as exc:
        return _message(request, 403, _("Not allowed"), str(exc))
    return _html(request, dashboard_page(request.app.state.settings, _who(viewer), view.bounds))


@router.get("/property", response_class=HTMLResponse, responses=PAGE)
def property_list(request: Request, period: str | None = None, since: str | None = None,
                  until: str | None = None, now: datetime = Depends(deps.now)):
    """The property companies' red/black list (红黑榜) with their compounds on a map; its
    figures come from /api/v1/property/ranking and /api/v1/property/compounds."""
    viewer = _viewer(request, ["property:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        view = page_view(viewer, period, since, until, now)
    except Forbidden as exc:
        return _message(request, 403, _("Not allowed"), str(exc))
    except InvalidInput as exc:
        return _message(request, 422, _("Cannot show this period"), str(exc))
    return _html(request, property_page(_who(viewer), view.period.label, view.sees_layers,
                                        view.can_talk))


@router.get("/assessment", response_class=HTMLResponse, responses=PAGE)
def assessment(request: Request, month: str | None = None, store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now)):
    """The monthly assessment (考核评价) a supervisor prints: the answer of
    /api/v1/assessment as one table per kind."""
    from geo.assessment.monthly import assessment as monthly
    from maps.assessment import assessment_page

    viewer = _viewer(request, ["assessment:read"])
    if isinstance(viewer, Response):
        return viewer
    try:
        data = monthly(store, viewer, month or None, now)
    except InvalidInput as exc:
        return _message(request, 422, _("Cannot show this month"), str(exc))
    return _html(request, assessment_page(_who(viewer), data, now, request.url.path, PARAM))
