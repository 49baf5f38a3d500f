"""Login sessions: every token names one row of `auth_session` (its jti), and a request is
served only while that row exists and its account is active.

Logging out deletes the row. Deleting an account cascades to its rows, and a change to what an
account may do (role, jurisdiction, team, password, active flag) deletes all of them through a
trigger (migration 006), whoever makes the change. The rows live in the database, so every
server process sees an ended session at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from geo.casework.errors import NotFound
from geo.casework.scope import Actor
from geo.casework.users import actor_from_row
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Conflict


def start(store: Store, username: str, now: datetime, expires: datetime,
          parent: str | None = None) -> str | None:
    """Open a session and return its jti; None when the parent session ended meanwhile."""
    jti = secrets.token_urlsafe(24)
    _purge(store, now)
    with store.tx() as tx:
        try:
            tx.run("INSERT INTO auth_session (jti, username, parent_jti, created_at, expires_at) "
                   "VALUES (:jti, :u, :parent, :now, :exp)",
                   {"jti": jti, "u": username, "parent": parent, "now": now, "exp": expires})
        except Conflict:  # the parent (or the account) is gone
            return None
    return jti


def _purge(store: Store, now: datetime) -> None:
    """Delete expired sessions at each login, up to 1000 at a time, so that the table holds
    about the live ones; on PostgreSQL skipping rows that others hold, so that a login never
    waits for one."""
    with store.tx() as tx:
        tx.run("DELETE FROM auth_session WHERE jti IN (SELECT jti FROM auth_session "
               f"WHERE expires_at <= :now LIMIT 1000{tx.dialect.skip_locked()})", {"now": now})


def actor_of(store: Store, jti: str, username: str) -> Actor | None:
    """The account behind a live session, as it is now; None when the session has ended."""
    with store.snapshot() as tx:
        row = tx.one("SELECT u.username, u.role, u.jurisdiction, u.team_id, u.company_id, "
                     "u.department_id "
                     "FROM auth_session s JOIN app_user u ON u.username = s.username "
                     "WHERE s.jti = :jti AND s.username = :u AND u.active = :yes",
                     {"jti": jti, "u": username, "yes": True})
    return actor_from_row(row) if row else None


def end(store: Store, jti: str) -> bool:
    """End one session (and the page tokens taken from it); False when it had already ended."""
    with store.tx() as tx:
        return tx.run("DELETE FROM auth_session WHERE jti = :jti", {"jti": jti}) > 0


def end_all(store: Store, username: str) -> int:
    """End every session of an account (NotFound when there is no such account); the number
    ended."""
    with store.tx() as tx:
        if tx.one("SELECT 1 AS x FROM app_user WHERE username = :u", {"u": username}) is None:
            raise NotFound(_("no user {username}").format(username=username))
        return tx.run("DELETE FROM auth_session WHERE username = :u", {"u": username})
