"""Sessions, revocation, login throttling, the Origin rule of the cookie login and scopes
bounded by the role, over real HTTP on both backends.

"Two servers" are two apps with their own store on one database, as two `serve` processes
are: they share nothing but the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from argon2 import PasswordHasher

from api.auth import SESSION_COOKIE
from api.cli import main as cli
from geo.casework import throttle
from geo.store import open_store
from tests.http import TEST_SECRET, Server

# Demo passwords are rehashed with Argon2id at its lowest cost: a check of the default hash takes
# most of a second on this machine, and these tests log in dozens of times. The login code is
# the same (a hash carries its own cost).
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _url(store) -> str:
    return store.url if store.backend == "postgis" else f"sqlite:///{store.path}"


@pytest.fixture(autouse=True)
def cheap_passwords(store):
    with store.tx() as tx:
        tx.run("UPDATE app_user SET password_hash = :h", {"h": CHEAP.hash("demo")})


@pytest.fixture
def other(store):
    """A second server on the same database, with a store of its own."""
    second = open_store(_url(store))
    server = Server(second)
    yield server
    server.stop()
    second.close()


@pytest.fixture(scope="module")
def web():
    """One client for the module's plain requests (a new client costs a TLS set-up)."""
    with httpx.Client(timeout=30) as client:
        yield client


def _login(web, server: Server, user: str, password: str = "demo", **form) -> httpx.Response:
    return web.post(server.url + "/api/v1/auth/token",
                    data={"username": user, "password": password, **form})


def _token(web, server: Server, user: str, **form) -> str:
    r = _login(web, server, user, **form)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _get(web, server: Server, path: str, token: str) -> httpx.Response:
    return web.get(server.url + path, headers={"Authorization": f"Bearer {token}"})


def test_bearer_logout_ends_that_token_in_every_server(web, api, other):
    first, second = _token(web, api, "operator"), _token(web, api, "operator")
    assert _get(web, other, "/api/v1/users/me", first).json()["username"] == "operator"
    r = web.post(other.url + "/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert r.status_code == 204
    for server in (api, other):
        r = _get(web, server, "/api/v1/users/me", first)
        assert r.status_code == 401 and r.json()["code"] == "session_ended"
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert _get(web, api, "/api/v1/users/me", second).status_code == 200  # only that session ended


def test_a_token_naming_no_live_session_is_refused(web, api):
    live = jwt.decode(_token(web, api, "admin"), TEST_SECRET, algorithms=["HS256"])
    unknown = jwt.encode({**live, "jti": "x" * 32}, TEST_SECRET)
    r = _get(web, api, "/api/v1/users/me", unknown)
    assert r.status_code == 401 and r.json()["code"] == "session_ended"
    without = jwt.encode({k: v for k, v in live.items() if k != "jti"}, TEST_SECRET)
    r = _get(web, api, "/api/v1/users/me", without)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"
    # a session belongs to its user: its jti under another name is refused
    assert _get(web, api, "/api/v1/users/me",
                jwt.encode({**live, "sub": "operator"}, TEST_SECRET)).status_code == 401


def test_cookie_logout_ends_the_cookie_and_the_page_tokens_taken_from_it(web, api):
    with httpx.Client(base_url=api.url) as c:
        assert c.post("/api/v1/auth/session",
                      data={"username": "planner", "password": "demo"}).status_code == 204
        cookie = c.cookies[SESSION_COOKIE]
        page = c.get("/api/v1/auth/session/token")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        page_token = page.json()["access_token"]
        assert page.json()["expires_in"] <= 15 * 60
        assert _get(web, api, "/api/v1/users/me", page_token).status_code == 200
        assert c.delete("/api/v1/auth/session").status_code == 204
        assert SESSION_COOKIE not in c.cookies
    with httpx.Client(base_url=api.url, cookies={SESSION_COOKIE: cookie}) as replay:
        r = replay.get("/api/v1/users/me")
        assert r.status_code == 401 and r.json()["code"] == "session_ended"
    r = _get(web, api, "/api/v1/users/me", page_token)
    assert r.status_code == 401 and r.json()["code"] == "session_ended"


def test_account_changes_end_its_tokens_at_once_in_every_server(web, api, other, store, capsys,
                                                                 monkeypatch):
    monkeypatch.setenv("GRIDDISPATCH_LANG", "en")  # the command line's sentences, in English
    users = ("operator", "planner", "dispatcher", "grid_worker", "citizen")
    tokens = {user: _token(web, api, user) for user in (*users, "supervisor")}
    for user in users:
        assert _get(web, other, "/api/v1/users/me", tokens[user]).status_code == 200
    db = ["--db", _url(store), "users"]
    assert cli([*db, "disable", "operator"]) == 0
    assert cli([*db, "delete", "planner"]) == 0
    assert cli([*db, "set-role", "dispatcher", "--role", "operator",
                "--jurisdiction", "220204001"]) == 0
    assert cli([*db, "end-sessions", "grid_worker"]) == 0
    with store.tx() as tx:  # a change by any writer, here a new password, ends sessions too
        tx.run("UPDATE app_user SET password_hash = :h WHERE username = 'citizen'",
               {"h": CHEAP.hash("new")})
    out = capsys.readouterr().out
    assert "disabled operator" in out and "dispatcher now has role operator for 220204001" in out
    assert "ended 1 session of grid_worker" in out
    for user in users:
        for server in (api, other):
            r = _get(web, server, "/api/v1/users/me", tokens[user])
            assert r.status_code == 401 and r.json()["code"] == "session_ended", (user, r.text)
    assert _get(web, api, "/api/v1/users/me", tokens["supervisor"]).status_code == 200  # untouched
    for gone in ("operator", "planner"):  # disabled, deleted
        assert _login(web, api, gone).status_code == 401
    me = _get(web, api, "/api/v1/users/me", _token(web, api, "dispatcher")).json()
    assert me["role"] == "operator" and me["jurisdiction"] == ["220204001"]
    assert _get(web, api, "/api/v1/users/me", _token(web, api, "grid_worker")).status_code == 200
    assert cli([*db, "enable", "operator"]) == 0
    assert _get(web, other, "/api/v1/users/me", _token(web, api, "operator")).status_code == 200


def test_account_commands_name_a_missing_user(store, capsys, monkeypatch):
    monkeypatch.setenv("GRIDDISPATCH_LANG", "en")
    assert cli(["--db", _url(store), "users", "disable", "nobody"]) == 2
    assert "no user nobody" in capsys.readouterr().err
    assert cli(["--db", _url(store), "users", "set-role", "operator", "--role", "team"]) == 2
    assert "must belong to a team" in capsys.readouterr().err


def test_wrong_passwords_are_throttled_per_account_across_servers(web, api, other):
    start = datetime.now(UTC).replace(microsecond=0)
    api.now = other.now = start
    servers = (api, other)  # the count lives in the database: both servers add to it
    assert _login(web, other, "operator", "wrong").status_code == 401
    assert _login(web, api, "operator").status_code == 200  # a success clears the count
    for i in range(5):
        assert _login(web, servers[i % 2], "operator", "wrong").status_code == 401
    r = _login(web, other, "operator", "wrong")
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert r.json()["code"] == "too_many_attempts"
    assert "账号 operator " in r.json()["detail"] and "请 15 分钟后" in r.json()["detail"]
    r = web.post(api.url + "/api/v1/auth/session",  # the right password, by either login, too
                 data={"username": "operator", "password": "demo"})
    assert r.status_code == 429
    assert _login(web, api, "operator").status_code == 429
    assert _login(web, api, "dispatcher").status_code == 200  # other accounts are not held up
    api.now = other.now = start + timedelta(minutes=15, seconds=1)
    assert _get(web, api, "/api/v1/users/me", _token(web, other, "operator")).status_code == 200


def test_wrong_passwords_are_throttled_per_address_across_accounts(web, store):
    server = Server(store, login_failures_per_address=3)
    try:
        for user in ("grid_worker", "citizen", "team"):
            assert _login(web, server, user, "wrong").status_code == 401
        r = _login(web, server, "admin")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "来自地址 127.0.0.1" in r.json()["detail"]
    finally:
        server.stop()


def test_the_cookie_login_refuses_other_origins(web, api):
    form = {"username": "operator", "password": "demo"}
    with httpx.Client(base_url=api.url) as c:
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Referer": "http://evil.example/login.html"},
                        {"Origin": api.url.replace("127.0.0.1", "localhost")}):
            r = c.post("/api/v1/auth/session", data=form, headers=headers)
            assert r.status_code == 403, headers
            assert r.json()["code"] == "cross_site_refused"
            assert "set-cookie" not in r.headers
        r = c.post("/api/v1/auth/session", data=form, headers={"Origin": api.url})
        assert r.status_code == 204 and SESSION_COOKIE in c.cookies
        evil = {"Origin": "http://evil.example"}
        assert c.get("/api/v1/auth/session/token", headers=evil).status_code == 403
        assert c.delete("/api/v1/auth/session", headers=evil).status_code == 403
        assert c.get("/api/v1/users/me").status_code == 200  # the refused logout did nothing
        assert c.get("/api/v1/auth/session/token",
                     headers={"Referer": api.url + "/maps/editor/1"}).status_code == 200
        assert c.delete("/api/v1/auth/session", headers={"Origin": api.url}).status_code == 204
        assert c.get("/api/v1/users/me").status_code == 401
        # programs send neither header
        assert c.post("/api/v1/auth/session", data=form).status_code == 204


def test_scopes_are_bounded_by_the_current_role(web, api):
    operator = _token(web, api, "operator")
    claims = jwt.decode(operator, TEST_SECRET, algorithms=["HS256"])
    widened = jwt.encode({**claims, "role": "supervisor",
                          "scope": claims["scope"] + " mode:write issues:supervise"}, TEST_SECRET)
    as_widened = {"Authorization": f"Bearer {widened}"}
    r = web.put(api.url + "/api/v1/mode", json={"mode": "emergency"}, headers=as_widened)
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    assert "角色 operator 不具备" in r.json()["detail"]
    assert _get(web, api, "/api/v1/issues/overdue", widened).status_code == 403
    assert _get(web, api, "/api/v1/issues", widened).status_code == 200
    assert _get(web, api, "/api/v1/mode", operator).json()["mode"] == "normal"
    narrow = _token(web, api, "supervisor", scope="issues:read mode:write")
    r = web.put(api.url + "/api/v1/mode", json={"mode": "emergency"},
                headers={"Authorization": f"Bearer {narrow}"})
    assert r.status_code == 200 and r.json()["mode"] == "emergency"
    r = _get(web, api, "/api/v1/issues/overdue", narrow)
    assert r.status_code == 403 and "请在登录时申请" in r.json()["detail"]


def _page_token(client: httpx.Client, **headers) -> dict:
    r = client.get("/api/v1/auth/session/token", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_page_token_holds_no_scope_the_token_it_comes_from_lacks(web, api):
    """Bearer and cookie alike: a login narrowed to reading cannot be widened to dispatching."""
    candidates = "/api/v1/issues/1/candidates"
    narrow = _token(web, api, "dispatcher", scope="issues:read")
    full = _token(web, api, "dispatcher")
    with httpx.Client(base_url=api.url) as c:
        page = _page_token(c, Authorization=f"Bearer {narrow}")
        assert page["scope"] == "issues:read"
        again = _page_token(c, Authorization=f"Bearer {page['access_token']}")  # and its own
        assert again["scope"] == "issues:read"
        for token in (page["access_token"], again["access_token"]):
            r = _get(web, api, candidates, token)
            assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
            assert _get(web, api, "/api/v1/issues", token).status_code == 200
        whole = _page_token(c, Authorization=f"Bearer {full}")
        assert "issues:dispatch" in whole["scope"].split()
        assert _get(web, api, candidates, whole["access_token"]).status_code != 403
    with httpx.Client(base_url=api.url) as c:
        assert c.post("/api/v1/auth/session", data={"username": "dispatcher", "password": "demo",
                                                     "scope": "issues:read layers:read"}
                      ).status_code == 204
        page = _page_token(c)
        assert page["scope"] == "issues:read layers:read"
        assert _get(web, api, candidates, page["access_token"]).status_code == 403
        claims = jwt.decode(page["access_token"], TEST_SECRET, algorithms=["HS256"])
        assert claims["scope"] == "issues:read layers:read"


def test_ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4(store):
    one, same = throttle.address_key("2001:db8:1:2::1"), throttle.address_key("2001:db8:1:2:ff::9")
    assert one == same == "2001:db8:1:2::/64"
    assert throttle.address_key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert throttle.address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.address_key("192.0.2.7") == "192.0.2.7"
    assert throttle.address_key("unknown") == "unknown"  # no IP (a test client): its text
    now = datetime.now(UTC)
    limits = throttle.Limits(per_account=100, per_address=3)
    for i in range(3):  # each attempt from another address of the same /64
        throttle.count_attempt(store, f"user{i}", f"2001:db8:1:2::{i + 1:x}", now, limits)
    with pytest.raises(throttle.Throttled, match=r" 2001:db8:1:2::/64"):
        throttle.count_attempt(store, "user9", "2001:db8:1:2:abcd::1", now, limits)
    throttle.count_attempt(store, "user9", "2001:db8:1:3::1", now, limits)  # the next /64 may


def _account_keys(store) -> set[str]:
    with store.snapshot() as tx:
        return {r["key"] for r in tx.rows("SELECT key FROM login_throttle WHERE key LIKE "
                                          "'account:%'")}


def test_a_throttled_address_adds_no_account_rows(web, store):
    server = Server(store, login_failures_per_address=3)
    try:
        for user in ("grid_worker", "citizen", "team"):
            assert _login(web, server, user, "wrong").status_code == 401
        counted = _account_keys(store)
        assert counted == {"account:grid_worker", "account:citizen", "account:team"}
        for i in range(5):
            r = _login(web, server, f"made-up-{i}", "wrong")
            assert r.status_code == 429 and "来自地址" in r.json()["detail"]
        assert _login(web, server, "operator").status_code == 429
        assert _account_keys(store) == counted
    finally:
        server.stop()
