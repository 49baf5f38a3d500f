"""The store's life in the service: opened when the service starts, closed when it stops, and
a database that stops answering is reported by /healthz instead of failing it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import psycopg
import pytest

from api.app import create_app
from api.settings import Settings
from geo.i18n import using
from geo.store import POOL_SIZE, StoreError, open_store, store_for
from geo.store.sqlite import SqliteStore
from tests.http import TEST_SECRET, Server

NOWHERE = "postgresql://someone:hunter2@127.0.0.1:9/nowhere?connect_timeout=1"

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def _lifespan(app) -> None:
    """Run the app's start-up and shut-down once, without a server."""
    async def cycle():
        async with app.router.lifespan_context(app):
            pass
    asyncio.run(cycle())


def test_building_the_app_connects_to_nothing():
    # Nothing listens on port 9 of the loopback: a connection would fail at once.
    app = create_app(Settings(database_url=NOWHERE, secret_key=TEST_SECRET,
                              database_wait_seconds=1))
    assert not hasattr(app.state, "store")
    with pytest.raises(StoreError, match="cannot connect") as refused:
        _lifespan(app)
    assert "hunter2" not in str(refused.value)  # the message never shows the password


def test_an_uninitialised_database_refuses_to_start(empty_store):
    store = empty_store("sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{store.path}", secret_key=TEST_SECRET))
    with pytest.raises(StoreError, match="not initialised"):
        _lifespan(app)


def test_the_test_server_raises_what_stopped_the_start(empty_store):
    """The server's start-up speaks the service's language (Chinese): no request chose one."""
    store = empty_store("sqlite")
    with pytest.raises(StoreError, match="数据库尚未初始化"):
        Server(database_url=f"sqlite:///{store.path}")


def test_a_postgis_store_opens_again_after_closing_or_failing(pg_url):
    store = store_for(pg_url)
    for _ in range(2):
        with store, store.snapshot() as tx:
            assert tx.one("SELECT count(*) AS n FROM grid")["n"] > 0
        assert store.pool.closed
    refused = store_for(NOWHERE)
    for _ in range(2):  # a failed opening leaves a store that may be opened again
        with pytest.raises(StoreError, match="cannot connect"):
            refused.open(timeout_s=2)


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


def test_a_given_store_not_yet_open_is_opened_at_start(pg_url):
    store = store_for(pg_url)
    server = Server(store)
    try:
        with server.client() as c:
            assert c.get("/healthz").json()["status"] == "ok"
    finally:
        server.stop()
    try:
        assert not store.pool.closed  # its owner's to close
    finally:
        store.close()


def test_health_waits_for_a_free_connection_no_longer_than_its_timeout(pg_url):
    with store_for(pg_url, pool_size=1) as store, store.pool.connection():
        assert store.health(0.2) == (None, "no database connection within 0.2 s (every "
                                           "connection busy, or the database cannot be reached)")


def test_health_cancels_a_query_that_waits_longer_than_its_timeout(pg_url):
    with store_for(pg_url) as store, psycopg.connect(pg_url) as other:
        other.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        schema, problem = store.health(0.2)
    assert schema is None and "statement timeout" in problem


def test_health_reports_a_sqlite_file_it_cannot_read(tmp_path):
    schema, problem = SqliteStore(tmp_path).health(1.0)  # a folder, not a database file
    assert schema is None and "unable to open" in problem
    with SqliteStore(tmp_path / "blank.sqlite") as blank:
        assert blank.schema_version() is None  # an empty database file, not initialised
        schema, problem = blank.health(1.0)
    assert schema is None and "schema_migrations" in problem


def test_health_on_an_in_memory_database_waits_for_its_one_connection():
    store = SqliteStore(":memory:")
    store.migrate()
    answers = []
    probe = threading.Thread(target=lambda: answers.append(store.health(1.0)))
    with store.tx():
        probe.start()
        probe.join(timeout=0.3)
        assert probe.is_alive() and not answers  # the connection is in this transaction
    probe.join(timeout=10)
    assert answers == [(store.schema_version(), None)]


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
        assert body["code"] == "database_down"
        assert body["detail"].startswith("数据库无响应：")
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


def test_health_reports_a_sqlite_file_that_is_gone_without_making_one(sqlite_url):
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with open_store(sqlite_url) as store:
        assert store.health(1.0)[1] is None
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        assert store.health(1.0) == (None, f"the database file {path} is gone")
    assert not path.exists()


def test_a_sqlite_store_opens_again_after_close(sqlite_url):
    store = open_store(sqlite_url)
    version = store.schema_version()
    store.close()
    assert not store.is_open
    with pytest.raises(StoreError, match="is closed"):
        store.schema_version()
    assert store.open().schema_version() == version
    store.close()
    memory = open_store("sqlite:///:memory:")
    memory.close()
    with pytest.raises(StoreError, match="cannot be opened again"):
        memory.open()

