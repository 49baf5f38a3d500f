"""A module's private copy of the test city, for modules that share one server across their
tests and write to it (the per-test copies of conftest.py would cost a load per test)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from geo.store import open_store
from tests.http import Server


@contextmanager
def private_city(request, tmp_path_factory) -> Iterator[str]:
    """The URL of a copy of the test city on `request.param`'s backend ('sqlite' or
    'postgis'), dropped on leaving."""
    label = request.module.__name__.rsplit(".", 1)[-1]
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp(label) / "city.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"gd_{label}_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {request.getfixturevalue('pg_template')}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def private_server(request, tmp_path_factory, prepare=None) -> Iterator[Server]:
    """The service over real HTTP on a private copy of the test city; `prepare(store)` plants
    a module's own data first."""
    with private_city(request, tmp_path_factory) as url, open_store(url) as store:
        if prepare is not None:
            prepare(store)
        server = Server(store)
        try:
            yield server
        finally:
            server.stop()
