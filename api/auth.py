"""OAuth2 password flow with JWT bearer tokens (PyJWT), scopes per role.

Scopes gate endpoints coarsely; the role and jurisdiction, re-read from the database (cached
for a few seconds), decide in the queries what a user may see and do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from threading import Lock

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from geo.casework.scope import Actor
from geo.casework.users import get_actor

SCOPES = {
    "issues:report": "File reports.",
    "issues:read": "Read the issues you may see.",
    "issues:triage": "Accept, reject or merge reports.",
    "issues:dispatch": "Dispatch and reassign teams.",
    "issues:work": "Claim, resolve or return work (teams).",
    "issues:supervise": "Check results, close cases, read overdue lists.",
    "issues:rate": "Rate results.",
    "teams:update": "Report a team's position and status.",
    "layers:read": "Read map layers (grids, cameras, sites, teams).",
    "mode:write": "Switch between normal and emergency mode.",
    "grids:plan": "Plan grid boundaries.",
    "hotspots:read": "Read hotspot analyses of the issues you may see.",
}

ROLE_SCOPES = {
    "grid_worker": ("issues:report", "issues:read", "layers:read"),
    "citizen": ("issues:report", "issues:read", "issues:rate"),
    "operator": ("issues:report", "issues:read", "issues:triage", "issues:rate", "layers:read",
                 "hotspots:read"),
    "dispatcher": ("issues:report", "issues:read", "issues:triage", "issues:dispatch",
                   "issues:work", "layers:read", "hotspots:read"),
    "team": ("issues:read", "issues:work", "teams:update", "layers:read"),
    "supervisor": ("issues:report", "issues:read", "issues:triage", "issues:dispatch",
                   "issues:supervise", "layers:read", "mode:write", "hotspots:read"),
    "planner": ("issues:read", "layers:read", "grids:plan", "hotspots:read"),
    "admin": tuple(SCOPES),
}

ALGORITHM = "HS256"
SESSION_COOKIE = "griddispatch_token"
TOKEN_URL = "/api/v1/auth/token"
oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, scopes=SCOPES, auto_error=False)


def grant(role: str, requested: list[str]) -> list[str]:
    """The scopes a token gets: all of the role's, or the requested subset of them."""
    allowed = ROLE_SCOPES[role]
    if not requested:
        return list(allowed)
    refused = [s for s in requested if s not in allowed]
    if refused:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"scope(s) {', '.join(refused)} are not available to a {role}")
    return requested


def issue_token(actor: Actor, scopes: list[str], secret: str, minutes: int) -> tuple[str, int]:
    now = datetime.now(UTC)
    claims = {"sub": actor.username, "role": actor.role, "scope": " ".join(scopes),
              "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), minutes * 60


class ActorCache:
    """username → Actor for a few seconds, so that a burst of requests costs one lookup."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._items: dict[str, tuple[float, Actor | None]] = {}
        self._lock = Lock()

    def get(self, store, username: str) -> Actor | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(username)
        if hit and now - hit[0] < self.seconds:
            return hit[1]
        actor = get_actor(store, username)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[username] = (now, actor)
        return actor

    def forget(self, username: str) -> None:
        with self._lock:
            self._items.pop(username, None)


def _unauthorised(message: str, scopes: SecurityScopes) -> HTTPException:
    header = "Bearer" + (f' scope="{scopes.scope_str}"' if scopes.scopes else "")
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, {"WWW-Authenticate": header})


def current_actor(request: Request, scopes: SecurityScopes,
                  token: str | None = Depends(oauth2)) -> Actor:
    """The authenticated user, if the token is valid and carries every required scope."""
    if token is None and request.method in ("GET", "HEAD"):
        # The map pages' login session. Reads only: a cookie rides along with requests that
        # other sites trigger, so nothing that changes data accepts it.
        token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorised("not authenticated: send a bearer token from POST " + TOKEN_URL,
                            scopes)
    settings = request.app.state.settings
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise _unauthorised("the token has expired: log in again", scopes) from None
    except jwt.PyJWTError:
        raise _unauthorised("the token is not valid", scopes) from None
    actor = request.app.state.actors.get(request.app.state.store, str(claims["sub"]))
    if actor is None or actor.role != claims.get("role"):
        raise _unauthorised("the account behind this token is disabled or has changed: log in "
                            "again", scopes)
    granted = set(str(claims.get("scope", "")).split())
    missing = [s for s in scopes.scopes if s not in granted]
    if missing:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this needs scope(s) {', '.join(missing)}, which a {actor.role} "
                            "token does not carry" if any(m not in ROLE_SCOPES[actor.role]
                                                          for m in missing)
                            else f"this needs scope(s) {', '.join(missing)}: request them at login",
                            {"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'})
    return actor
