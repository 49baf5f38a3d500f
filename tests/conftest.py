"""Fixtures: one small demo city, loaded into SQLite and into a throwaway PostGIS cluster.

Each test gets its own copy (a copied SQLite file, a database cloned from a template), so
tests may write. The PostGIS half fails, never skips, when the cluster cannot start.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import psycopg
import pytest

from fixtures import accounts
from fixtures.jilin import REFERENCE_TIME, generate
from geo.store import open_store
from tests.pgcluster import start
from tests.processes import two_servers  # noqa: F401 - server processes, for any module

TEST_GRIDS = 400
TEST_ISSUES = 4000
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_counter = itertools.count()


@pytest.fixture(scope="session")
def city():
    """The small demo city every store fixture holds, built at a fixed "now"."""
    return generate(TEST_GRIDS, TEST_ISSUES, seed=7, now=REFERENCE_TIME)


@pytest.fixture(scope="session")
def pg_admin_url():
    """Admin URL of a PostgreSQL server with PostGIS: $GRIDDISPATCH_TEST_PG_URL or a throwaway."""
    if os.environ.get("GRIDDISPATCH_TEST_PG_URL"):
        yield os.environ["GRIDDISPATCH_TEST_PG_URL"]
        return
    cluster = start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def _admin(url: str):
    return psycopg.connect(url, autocommit=True)


def _db_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template(pg_admin_url, city):
    """A database with the schema and the city, cloned for each test."""
    name = f"gd_template_{os.getpid()}"
    with _admin(pg_admin_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    store = open_store(_db_url(pg_admin_url, name))
    store.migrate()
    store.load_city(city)
    accounts.install(store, city.landmarks)
    store.close()
    yield name
    with _admin(pg_admin_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, city):
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.load_city(city)
    accounts.install(store, city.landmarks)
    store.close()
    return path


@pytest.fixture
def pg_url(pg_admin_url, pg_template):
    """URL of a fresh PostGIS database holding the test city."""
    name = f"gd_test_{os.getpid()}_{next(_counter)}"
    with _admin(pg_admin_url) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _db_url(pg_admin_url, name)
    with _admin(pg_admin_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    """URL of a fresh SQLite file holding the test city."""
    path = tmp_path / "city.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_store(sqlite_url):
    with open_store(sqlite_url) as store:
        yield store


@pytest.fixture
def pg_store(pg_url):
    with open_store(pg_url) as store:
        yield store


@pytest.fixture(params=["sqlite", "postgis"])
def store(request):
    """The same test on each backend."""
    yield request.getfixturevalue({"sqlite": "sqlite_store", "postgis": "pg_store"}[request.param])


@pytest.fixture
def empty_store(request, tmp_path, pg_admin_url):
    """Factory: a fresh, uninitialised store of a backend ('sqlite' or 'postgis')."""
    opened = []

    def make(backend: str):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'empty{len(opened)}.sqlite'}"
        else:
            name = f"gd_empty_{os.getpid()}_{next(_counter)}"
            with _admin(pg_admin_url) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            url = _db_url(pg_admin_url, name)
        s = open_store(url)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data, or skip with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data {path} is not present")
    return path


@pytest.fixture
def api(store):
    """The service over real HTTP on the same test city, once per backend."""
    from tests.http import Server

    server = Server(store)
    yield server
    server.stop()
