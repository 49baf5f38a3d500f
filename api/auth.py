"""OAuth2 password flow with JWT bearer tokens (PyJWT), scopes per role, login sessions.

Every token names a session row (its `jti`); each request reads that row joined to the
account in one indexed query, so a token ends the moment its session does, in every server
process. Scopes gate endpoints coarsely: a token holds those it was issued with that the
account's current role still has (a token can narrow rights, never widen them). The role and
jurisdiction read with the session decide in the queries what a user may see and do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import jwt
from fastapi import Depends, Request, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from api.errors import Refusal
from geo.casework import sessions
from geo.casework.scope import Actor
from geo.i18n import N_, _, ngettext
from geo.store import Store

SCOPES = {  # what each scope allows, in the login form's words (translated where shown)
    "issues:report": N_("File reports."),
    "issues:read": N_("Read the issues you may see."),
    "issues:triage": N_("Accept, reject or merge reports."),
    "issues:dispatch": N_("Dispatch and reassign teams."),
    "issues:work": N_("Claim, resolve or return work (teams)."),
    "issues:supervise": N_("Check results, close cases, read overdue lists."),
    "issues:rate": N_("Rate results."),
    "teams:update": N_("Report a team's position and status."),
    "layers:read": N_("Read map layers (grids, cameras, sites, teams)."),
    "mode:write": N_("Switch between normal and emergency mode."),
    "grids:plan": N_("Plan grid boundaries."),
    "hotspots:read": N_("Read hotspot analyses of the issues you may see."),
    "alarms:raise": N_("Raise alarms from key sites and cameras (sensors, video analysis)."),
    "people:read": N_("Read the named people of areas and compounds, with their phones."),
    "property:read": N_("Read property companies' figures and the red/black list."),
    "property:talk": N_("Record a talk with a property company."),
    "disputes:read": N_("Read disputes and mediation rates (parties' details hidden)."),
    "disputes:work": N_("Register disputes and record mediation."),
    "disputes:parties": N_("Read the parties' personal details of disputes you mediate."),
    "issues:escalate": N_("Escalate an issue to the next level."),
    "whistles:call": N_("Blow the whistle: call departments to a joint operation."),
    "whistles:work": N_("Report in to a whistle and report your part done (departments)."),
    "assessment:read": N_("Read the monthly assessment."),
}

ROLE_SCOPES = {
    "grid_worker": ("issues:report", "issues:read", "layers:read", "issues:escalate",
                    "people:read"),
    "citizen": ("issues:report", "issues:read", "issues:rate"),
    "operator": ("issues:report", "issues:read", "issues:triage", "issues:rate", "layers:read",
                 "hotspots:read", "people:read", "property:read", "disputes:read",
                 "issues:escalate", "assessment:read"),
    "dispatcher": ("issues:report", "issues:read", "issues:triage", "issues:dispatch",
                   "issues:work", "layers:read", "hotspots:read", "people:read",
                   "issues:escalate", "whistles:call"),
    "team": ("issues:read", "issues:work", "teams:update", "layers:read"),
    "supervisor": ("issues:report", "issues:read", "issues:triage", "issues:dispatch",
                   "issues:supervise", "layers:read", "mode:write", "hotspots:read",
                   "people:read", "property:read", "property:talk", "disputes:read",
                   "disputes:work", "issues:escalate", "whistles:call", "assessment:read"),
    "planner": ("issues:read", "layers:read", "grids:plan", "hotspots:read"),
    "admin": tuple(SCOPES),
    "device": ("alarms:raise",),  # a sensor or video-analysis system, bound by jurisdiction
    # A mediation squad's member (调解员), bound to communities or streets.
    "mediator": ("issues:read", "layers:read", "people:read", "disputes:read", "disputes:work",
                 "disputes:parties", "issues:escalate"),
    # A property company (物业公司): its own compounds' figures only.
    "property": ("property:read",),
    # A department called in by a whistle (派出所, 司法所, 区城管执法大队 ...).
    "department": ("issues:read", "whistles:work"),
}

ALGORITHM = "HS256"
SESSION_COOKIE = "griddispatch_token"
TOKEN_URL = "/api/v1/auth/token"
oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, scopes=SCOPES, auto_error=False)
SESSION_ENDED = N_("this session has ended (logged out, or the account was disabled, deleted "
                   "or changed): log in again")


@dataclass(frozen=True)
class Session:
    """The session of the request's token (on `request.state.session`), with the scopes the
    token holds now: those it was issued with that the account's current role still has."""

    jti: str
    expires: datetime
    scopes: tuple[str, ...] = ()


def grant(role: str, requested: list[str]) -> list[str]:
    """The scopes a token gets: all of the role's, or the requested subset of them."""
    allowed = ROLE_SCOPES[role]
    if not requested:
        return list(allowed)
    refused = [s for s in requested if s not in allowed]
    if refused:
        raise Refusal(status.HTTP_400_BAD_REQUEST,
                      ngettext("scope {scopes} is not available to role {role}",
                               "scopes {scopes} are not available to role {role}",
                               len(refused)).format(scopes=", ".join(refused), role=role),
                      "scope_not_available")
    return requested


def issue_token(store: Store, actor: Actor, scopes: list[str], secret: str, minutes: int,
                parent: Session | None = None) -> tuple[str, int]:
    """A signed token naming a new session; a page token (`parent`) ends no later than, and
    together with, the session it is taken from."""
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(minutes=minutes)
    if parent is not None:
        expires = min(expires, parent.expires)
    jti = sessions.start(store, actor.username, now, expires, parent.jti if parent else None)
    if jti is None or expires <= now:
        raise Refusal(status.HTTP_401_UNAUTHORIZED, _(SESSION_ENDED), "session_ended",
                      {"WWW-Authenticate": "Bearer"})
    claims = {"sub": actor.username, "scope": " ".join(scopes), "jti": jti, "iat": now,
              "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), int((expires - now).total_seconds())


def _decode(token: str, secret: str) -> tuple[dict, Session]:
    """The claims of a token signed with `secret` and not expired, and the session it names;
    jwt.PyJWTError otherwise."""
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                        options={"require": ["exp", "sub", "jti"]})
    return claims, Session(str(claims["jti"]), datetime.fromtimestamp(claims["exp"], UTC))


def token_session(token: str, secret: str) -> Session | None:
    """The session a valid token names, else None."""
    try:
        return _decode(token, secret)[1]
    except jwt.PyJWTError:
        return None


def _unauthorised(message: str, scopes: SecurityScopes, code: str) -> Refusal:
    header = "Bearer" + (f' scope="{scopes.scope_str}"' if scopes.scopes else "")
    return Refusal(status.HTTP_401_UNAUTHORIZED, message, code, {"WWW-Authenticate": header})


def current_actor(request: Request, scopes: SecurityScopes,
                  token: str | None = Depends(oauth2)) -> Actor:
    """The authenticated user, if the token is valid, its session live and its scopes, as far
    as the user's current role has them, include every required one."""
    if token is None and request.method in ("GET", "HEAD"):
        # The map pages' login session. Reads only: a cookie rides along with requests that
        # other sites trigger, so nothing that changes data accepts it.
        token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorised(_("not authenticated: send a bearer token from POST {url}").format(
            url=TOKEN_URL), scopes, "not_authenticated")
    settings = request.app.state.settings
    try:
        claims, session = _decode(token, settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise _unauthorised(_("the token has expired: log in again"), scopes,
                            "token_expired") from None
    except jwt.PyJWTError:
        raise _unauthorised(_("the token is not valid: log in again"), scopes,
                            "token_invalid") from None
    actor = sessions.actor_of(request.app.state.store, session.jti, str(claims["sub"]))
    if actor is None:
        raise _unauthorised(_(SESSION_ENDED), scopes, "session_ended")
    role_scopes = ROLE_SCOPES[actor.role]
    granted = set(str(claims.get("scope", "")).split()) & set(role_scopes)
    request.state.session = replace(session,
                                    scopes=tuple(s for s in role_scopes if s in granted))
    missing = [s for s in scopes.scopes if s not in granted]
    if missing:
        needed = ", ".join(missing)
        message = (ngettext("this needs scope {scopes}, which role {role} does not have",
                            "this needs scopes {scopes}, which role {role} does not have",
                            len(missing)).format(scopes=needed, role=actor.role)
                   if any(m not in role_scopes for m in missing)
                   else ngettext("this needs scope {scopes}, which this token was issued "
                                 "without: request it at login",
                                 "this needs scopes {scopes}, which this token was issued "
                                 "without: request them at login",
                                 len(missing)).format(scopes=needed))
        raise Refusal(status.HTTP_403_FORBIDDEN, message, "insufficient_scope",
                      {"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'})
    return actor


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None for one that names no origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def same_origin(request: Request) -> None:
    """Refuse (403) a request that a page of another origin made: its Origin header, or
    without one its Referer, must name this server. A request with neither comes from a
    program, not a page: browsers send Origin on every POST and DELETE."""
    sent = request.headers.get("origin")
    header = "Origin"
    if sent is None:
        sent, header = request.headers.get("referer"), "Referer"
        if sent is None:
            return
    own = request.app.state.settings.public_origin or str(request.base_url).rstrip("/")
    theirs = _origin(sent)
    if theirs is not None and theirs == _origin(own):
        return
    raise Refusal(status.HTTP_403_FORBIDDEN,
                  _("cross-site request refused: the {header} header names {sent}, not this "
                    "server ({own}); log in from the server's own pages").format(
                      header=header, sent=sent[:200], own=own), "cross_site_refused")
