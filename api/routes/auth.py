"""POST /api/v1/auth/token (OAuth2 password flow) and GET /api/v1/users/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api import deps
from api.auth import ROLE_SCOPES, SESSION_COOKIE, grant, issue_token
from api.schemas import Me, Token
from geo.casework.scope import Actor
from geo.casework.users import authenticate

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=Token)
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange a username and password for a bearer token (form-encoded, RFC 6749 §4.3)."""
    actor = authenticate(request.app.state.store, form.username, form.password)
    if actor is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            {"WWW-Authenticate": "Bearer"})
    settings = request.app.state.settings
    scopes = grant(actor.role, form.scopes)
    access, expires = issue_token(actor, scopes, settings.secret_key, settings.token_minutes)
    return Token(access_token=access, expires_in=expires, scope=" ".join(scopes))


@router.post("/auth/session", status_code=204, response_class=Response)
def login_session(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
    """Log in for the map pages: the token goes into an HttpOnly, SameSite=Strict cookie that
    is accepted for reading (GET) only."""
    tok = token(request, form)
    response = Response(status_code=204)
    response.set_cookie(SESSION_COOKIE, tok.access_token, max_age=tok.expires_in, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.get("/auth/session/token", response_model=Token)
def session_token(request: Request, response: Response, actor: Actor = deps.actor()) -> Token:
    """A short-lived bearer token for the logged-in map page's own script, so that its
    changes carry an Authorization header (the cookie alone never changes data). Other sites
    cannot read this answer: the service sends no CORS headers."""
    settings = request.app.state.settings
    scopes = grant(actor.role, [])
    minutes = min(settings.token_minutes, 15)
    access, expires = issue_token(actor, scopes, settings.secret_key, minutes)
    response.headers["Cache-Control"] = "no-store"
    return Token(access_token=access, expires_in=expires, scope=" ".join(scopes))


@router.delete("/auth/session", status_code=204, response_class=Response)
def logout_session():
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/users/me", response_model=Me)
def me(actor: Actor = deps.actor()) -> Me:
    return Me(username=actor.username, role=actor.role, jurisdiction=list(actor.jurisdiction),
              team_id=actor.team_id, scopes=list(ROLE_SCOPES[actor.role]))
