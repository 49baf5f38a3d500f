"""Users, their roles and jurisdictions, password checks and Open311 API keys.

Passwords are hashed with Argon2id (argon2-cffi); API keys are stored as SHA-256 digests, so
neither can be read back from the database. Disabling, deleting or changing the role,
jurisdiction, team or password of an account ends its login sessions at once (see `sessions`).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo import codes
from geo.casework.errors import InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.i18n import N_, _
from geo.store import Store
from geo.store.sql import Conflict, as_json
from geo.workflow import ROLES

_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
# Verifying against this keeps the time of a failed login the same for unknown users.
_DUMMY_HASH = _HASHER.hash("not a password")

# A jurisdiction is made of districts, streets and communities, told apart by the length of
# their codes. Communities bound only the roles that work below the street.
_JURISDICTION_LEVELS = {codes.LENGTHS[level]: level
                        for level in ("district", "street", "community")}
COMMUNITY_ROLES = ("mediator", "grid_worker", "property", "department")

DEMO_PASSWORD = "demo"
DEMO_API_KEY = "demo"


def _check(username: str, role: str, jurisdiction: list[str], team_id: str | None,
           company_id: str | None = None, department_id: str | None = None) -> None:
    if not _USERNAME.match(username):
        raise InvalidInput(_("username {username} must be 2-64 characters: lower-case letters, "
                             "digits, '_', '.', '-', starting with a letter or digit").format(
                                 username=username))
    if role not in ROLES:
        raise InvalidInput(_("unknown role {role}; expected one of {roles}").format(
            role=role, roles=", ".join(ROLES)))
    for code in jurisdiction:
        level = _JURISDICTION_LEVELS.get(len(code))
        if level == "community" and role not in COMMUNITY_ROLES:
            level = None
        if level is None:
            if role in COMMUNITY_ROLES:
                raise InvalidInput(_("jurisdiction {code} must be a district ({district} "
                                     "digits), street ({street} digits) or community "
                                     "({community} digits) code").format(
                                         code=code, district=codes.LENGTHS["district"],
                                         street=codes.LENGTHS["street"],
                                         community=codes.LENGTHS["community"]))
            raise InvalidInput(_("jurisdiction {code} must be a district ({district} digits) or "
                                 "street ({street} digits) code").format(
                                     code=code, district=codes.LENGTHS["district"],
                                     street=codes.LENGTHS["street"]))
        try:
            codes.check(code, level)
        except codes.CodeError as exc:
            raise InvalidInput(str(exc)) from None
    if role == "team" and not team_id:
        raise InvalidInput(_("a user with role 'team' must belong to a team (team_id)"))
    if role == "property" and not company_id:
        raise InvalidInput(_("a property company's account must name its company"),
                           code="company_required")
    if role == "department" and not department_id:
        raise InvalidInput(_("a department's account must name its department"),
                           code="department_required")


def _check_links(tx, team_id: str | None, company_id: str | None,
                 department_id: str | None) -> None:
    """The team, company and department an account names exist."""
    for value, table, message, code in (
            (team_id, "team", N_("no team with id {team}"), "unknown_team"),
            (company_id, "property_company", N_("no property company with id {id}"),
             "unknown_company"),
            (department_id, "department", N_("no department with id {id}"),
             "unknown_department")):
        if value and tx.one(f"SELECT id FROM {table} WHERE id = :v", {"v": value}) is None:
            raise InvalidInput(_(message).format(id=value, team=value), code=code)


def add_user(store: Store, username: str, password: str, role: str,
             jurisdiction: list[str] | tuple[str, ...] = (), team_id: str | None = None,
             display_name: str = "", company_id: str | None = None,
             department_id: str | None = None) -> Actor:
    """Create a user; InvalidInput on bad values or when the name is taken."""
    jurisdiction = list(jurisdiction)
    _check(username, role, jurisdiction, team_id, company_id, department_id)
    if len(password) < 4:
        raise InvalidInput(_("password must have at least 4 characters"))
    with store.tx() as tx:
        _check_links(tx, team_id, company_id, department_id)
        try:
            tx.run("INSERT INTO app_user (username, password_hash, role, jurisdiction, team_id, "
                   "display_name, created_at, company_id, department_id) "
                   "VALUES (:u, :h, :r, :j, :t, :n, :now, :c, :d)",
                   {"u": username, "h": _HASHER.hash(password), "r": role, "j": jurisdiction,
                    "t": team_id, "n": display_name, "now": datetime.now(UTC),
                    "c": company_id, "d": department_id})
        except Conflict:
            raise InvalidInput(_("user {username} already exists").format(
                username=username), code="user_exists") from None
    return Actor(username, role, tuple(jurisdiction), team_id, company_id, department_id)


def actor_from_row(row: dict) -> Actor:
    """An Actor from an app_user row (username, role, jurisdiction, team_id, company_id,
    department_id)."""
    return Actor(row["username"], row["role"], tuple(as_json(row["jurisdiction"]) or ()),
                 row["team_id"], row.get("company_id"), row.get("department_id"))


def set_active(store: Store, username: str, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions (the app_user trigger)."""
    with store.tx() as tx:
        if not tx.run("UPDATE app_user SET active = :a WHERE username = :u",
                      {"a": active, "u": username}):
            raise NotFound(_("no user {username}").format(username=username))


def delete_user(store: Store, username: str) -> None:
    """Delete an account with its API keys and sessions. The audit trail keeps its name."""
    with store.tx() as tx:
        if not tx.run("DELETE FROM app_user WHERE username = :u", {"u": username}):
            raise NotFound(_("no user {username}").format(username=username))


def set_role(store: Store, username: str, role: str,
             jurisdiction: list[str] | tuple[str, ...] = (), team_id: str | None = None,
             company_id: str | None = None, department_id: str | None = None) -> Actor:
    """Give an account a new role, jurisdiction, team, company and department, and end its
    sessions (even when nothing changed, as the caller is told), so the next request needs a
    login."""
    jurisdiction = list(jurisdiction)
    _check(username, role, jurisdiction, team_id, company_id, department_id)
    with store.tx() as tx:
        _check_links(tx, team_id, company_id, department_id)
        if not tx.run("UPDATE app_user SET role = :r, jurisdiction = :j, team_id = :t, "
                      "company_id = :c, department_id = :d WHERE username = :u",
                      {"r": role, "j": jurisdiction, "t": team_id, "c": company_id,
                       "d": department_id, "u": username}):
            raise NotFound(_("no user {username}").format(username=username))
        tx.run("DELETE FROM auth_session WHERE username = :u", {"u": username})
    return Actor(username, role, tuple(jurisdiction), team_id, company_id, department_id)


def authenticate(store: Store, username: str, password: str) -> Actor | None:
    """The user if the password matches and the account is active, else None."""
    with store.snapshot() as tx:
        row = tx.one("SELECT username, password_hash, role, jurisdiction, team_id, company_id, "
                     "department_id, active FROM app_user WHERE username = :u",
                     {"u": username})
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return actor_from_row(row) if row and row["active"] else None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_api_key(store: Store, username: str, key: str, label: str = "") -> None:
    with store.tx() as tx:
        if tx.one("SELECT 1 AS x FROM app_user WHERE username = :u", {"u": username}) is None:
            raise NotFound(_("no user {username}").format(username=username))
        try:
            tx.run("INSERT INTO api_key (key_hash, username, label, created_at) "
                   "VALUES (:h, :u, :l, :now)",
                   {"h": _digest(key), "u": username, "l": label, "now": datetime.now(UTC)})
        except Conflict:
            raise InvalidInput(_("this API key is already registered")) from None


def revoke_api_keys(store: Store, username: str) -> int:
    """Delete every Open311 API key of an account (NotFound when there is no such account); the
    number deleted. Keys are credentials of their own: ending sessions leaves them working."""
    with store.tx() as tx:
        if tx.one("SELECT 1 AS x FROM app_user WHERE username = :u", {"u": username}) is None:
            raise NotFound(_("no user {username}").format(username=username))
        return tx.run("DELETE FROM api_key WHERE username = :u", {"u": username})


def actor_for_api_key(store: Store, key: str) -> Actor | None:
    with store.snapshot() as tx:
        row = tx.one("SELECT u.username, u.role, u.jurisdiction, u.team_id, u.company_id, "
                     "u.department_id, u.active "
                     "FROM api_key k JOIN app_user u ON u.username = k.username "
                     "WHERE k.key_hash = :h", {"h": _digest(key)})
    return actor_from_row(row) if row and row["active"] else None


def demo_credentials_present(store: Store) -> list[str]:
    """The demo accounts (named after the roles) that still accept the demo password, and
    whether the demo API key works. Only those names are checked: a hash check costs tens of
    milliseconds, so checking every account would make startup grow with the user count."""
    found = []
    with store.snapshot() as tx:
        rows = tx.rows("SELECT username, password_hash FROM app_user WHERE active = :yes AND "
                       f"{tx.dialect.in_list('username', 'names')} ORDER BY username",
                       {"yes": True, "names": list(ROLES)})
    for row in rows:
        try:
            _HASHER.verify(row["password_hash"], DEMO_PASSWORD)
            found.append(row["username"])
        except (VerificationError, InvalidHashError):
            pass
    if actor_for_api_key(store, DEMO_API_KEY) is not None:
        found.append(f"api_key {DEMO_API_KEY}")
    return found

