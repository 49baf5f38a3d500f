"""Logging in and out: POST /api/v1/auth/token (OAuth2 password flow) and /auth/logout for
programs, /auth/session for the map pages' cookie, and GET /api/v1/users/me."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api import deps
from api.auth import (
    ROLE_SCOPES,
    SESSION_COOKIE,
    grant,
    issue_token,
    same_origin,
    token_session,
)
from api.errors import Refusal
from api.schemas import Me, Token
from geo.casework import sessions, throttle
from geo.casework.scope import Actor
from geo.casework.users import authenticate
from geo.i18n import _

router = APIRouter(prefix="/api/v1", tags=["auth"])
LOGIN = {400: {"description": "a requested scope that the role does not have"},
         401: {"description": "wrong username or password"},
         429: {"description": "too many failed attempts for the account or from this address: "
                              "wait for Retry-After seconds",
               "headers": {"Retry-After": {"schema": {"type": "integer"}}}}}


def _limits(settings) -> throttle.Limits:
    return throttle.Limits(settings.login_failures_per_account,
                           settings.login_failures_per_address,
                           timedelta(minutes=settings.login_window_minutes))


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", response_model=Token, responses=LOGIN)
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange a username and password for a bearer token (form-encoded, RFC 6749 §4.3).
    Too many failed attempts for the account or from the client's address are answered 429
    with Retry-After."""
    store, settings = request.app.state.store, request.app.state.settings
    address = _client_address(request)
    try:
        throttle.count_attempt(store, form.username, address, deps.now(request),
                               _limits(settings))
    except throttle.Throttled as exc:
        raise Refusal(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), "too_many_attempts",
                      {"Retry-After": str(exc.retry_after_s)}) from None
    actor = authenticate(store, form.username, form.password)
    if actor is None:
        raise Refusal(status.HTTP_401_UNAUTHORIZED, _("wrong username or password"),
                      "wrong_credentials", {"WWW-Authenticate": "Bearer"})
    throttle.succeeded(store, form.username, address)
    scopes = grant(actor.role, form.scopes)
    access, expires = issue_token(store, actor, scopes, settings.secret_key,
                                  settings.token_minutes)
    return Token(access_token=access, expires_in=expires, scope=" ".join(scopes))


@router.post("/auth/logout", status_code=204, response_class=Response)
def logout(request: Request, _actor: Actor = deps.actor()):
    """End the session of the bearer token sent with this request: the token is refused from
    now on, by every server process."""
    sessions.end(request.app.state.store, request.state.session.jti)
    return Response(status_code=204)


@router.post("/auth/session", status_code=204, response_class=Response, responses=LOGIN,
             dependencies=[Depends(same_origin)])
def login_session(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
    """Log in for the map pages: the token goes into an HttpOnly, SameSite=Strict cookie that
    is accepted for reading (GET) only. Refused (403) from pages of another origin."""
    tok = token(request, form)
    response = Response(status_code=204)
    response.set_cookie(SESSION_COOKIE, tok.access_token, max_age=tok.expires_in, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.get("/auth/session/token", response_model=Token, dependencies=[Depends(same_origin)])
def session_token(request: Request, response: Response, actor: Actor = deps.actor()) -> Token:
    """A short-lived bearer token for the logged-in map page's own script, so that its
    changes carry an Authorization header (the cookie alone never changes data). It holds the
    scopes of the token it is taken from (the cookie's, or a bearer token's), never more, and
    ends with that session. Other sites cannot read this answer: the service sends no CORS
    headers, and it is refused (403) to pages of another origin."""
    settings = request.app.state.settings
    scopes = list(request.state.session.scopes)
    minutes = min(settings.token_minutes, 15)
    access, expires = issue_token(request.app.state.store, actor, scopes, settings.secret_key,
                                  minutes, parent=request.state.session)
    response.headers["Cache-Control"] = "no-store"
    return Token(access_token=access, expires_in=expires, scope=" ".join(scopes))


@router.delete("/auth/session", status_code=204, response_class=Response,
               dependencies=[Depends(same_origin)])
def logout_session(request: Request):
    """Log the map pages out: the cookie's session ends (with the page tokens taken from it)
    and the cookie is cleared."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = token_session(cookie, request.app.state.settings.secret_key) if cookie else None
    if session is not None:
        sessions.end(request.app.state.store, session.jti)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/users/me", response_model=Me)
def me(actor: Actor = deps.actor()) -> Me:
    return Me(username=actor.username, role=actor.role, jurisdiction=list(actor.jurisdiction),
              team_id=actor.team_id, scopes=list(ROLE_SCOPES[actor.role]))
