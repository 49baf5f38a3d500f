"""The store's life in the service: opened when the service starts, closed when it stops, and
a database that stops answering is reported by /healthz instead of failing it."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from api.app import create_app
from api.settings import Settings
from geo.store import POOL_SIZE, StoreError
from tests.http import TEST_SECRET, Server


def _lifespan(app) -> None:
    """Run the app's start-up and shut-down once, without a server."""
    async def cycle():
        async with app.router.lifespan_context(app):
            pass
    asyncio.run(cycle())


def test_building_the_app_connects_to_nothing():
    # Nothing listens on port 9 of the loopback: a connection would fail at once.
    url = "postgresql://someone:hunter2@127.0.0.1:9/nowhere?connect_timeout=1"
    app = create_app(Settings(database_url=url, secret_key=TEST_SECRET))
    assert not hasattr(app.state, "store")
    with pytest.raises(StoreError, match="cannot connect") as refused:
        _lifespan(app)
    assert "hunter2" not in str(refused.value)  # the message never shows the password


def test_an_uninitialised_database_refuses_to_start(empty_store):
    store = empty_store("sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{store.path}", secret_key=TEST_SECRET))
    with pytest.raises(StoreError, match="not initialised"):
        _lifespan(app)


def test_postgis_pool_opens_at_start_and_closes_at_stop(pg_url):
    server = Server(database_url=pg_url)
    try:
        store = server.store
        assert store.pool.max_size == POOL_SIZE == Settings().pool_size
        assert not store.pool.closed
        with server.client() as c:
            health = c.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["schema"] is not None
    finally:
        server.stop()
    assert store.pool.closed


def test_a_given_store_stays_open_for_its_owner(store):
    server = Server(store)
    server.stop()
    with store.snapshot() as tx:  # still usable: the caller closes it
        assert tx.one("SELECT count(*) AS n FROM grid")["n"] > 0


def test_healthz_reports_a_database_that_went_away(pg_admin_url, pg_url):
    server = Server(database_url=pg_url)
    try:
        with server.client() as c:
            assert c.get("/healthz").json()["status"] == "ok"
            name = pg_url.rsplit("/", 1)[1]
            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            down = c.get("/healthz")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "down" and body["backend"] == "postgis"
        assert body["detail"].startswith("the database does not answer: ")
    finally:
        server.stop()


def test_healthz_on_sqlite_is_ok(sqlite_store):
    server = Server(sqlite_store)
    try:
        with server.client() as c:
            health = c.get("/healthz").json()
        assert health == {"status": "ok", "backend": "sqlite",
                          "schema": sqlite_store.schema_version()}
    finally:
        server.stop()
