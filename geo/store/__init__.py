"""Open a griddispatch database by URL: ``postgresql://...`` or ``sqlite:///path``."""

from __future__ import annotations

import os
from pathlib import Path

from geo.i18n import _
from geo.store.base import LAYERS, POOL_SIZE, Store, StoreError

ENV_URL = "GRIDDISPATCH_DATABASE_URL"
DEFAULT_SQLITE = "griddispatch.sqlite"


def default_url() -> str:
    """The URL from GRIDDISPATCH_DATABASE_URL, else a SQLite file in the working directory."""
    return os.environ.get(ENV_URL) or f"sqlite:///{Path.cwd() / DEFAULT_SQLITE}"


def store_for(url: str | None = None, statement_timeout_ms: int | None = None,
              pool_size: int = POOL_SIZE) -> Store:
    """The store a URL names (see `default_url` when None), unopened: PostGIS connects in
    `open()`. Its owner opens it when it starts (`open_store` does both, as the service's
    lifespan does) and closes it when it stops.

    `statement_timeout_ms` cancels any statement that runs longer (the service sets it)."""
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        from geo.store.postgis import PostgisStore

        return PostgisStore(url, max_size=pool_size, statement_timeout_ms=statement_timeout_ms)
    if url.startswith("sqlite:///"):
        from geo.store.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///") or ":memory:", statement_timeout_ms)
    raise StoreError(_("unsupported database URL {url}: use postgresql://... or "
                       "sqlite:///path").format(url=url))


def open_store(url: str | None = None, statement_timeout_ms: int | None = None,
               pool_size: int = POOL_SIZE) -> Store:
    """`store_for`, opened: for the command line, tests and benchmarks."""
    return store_for(url, statement_timeout_ms, pool_size).open()


__all__ = ["LAYERS", "POOL_SIZE", "Store", "StoreError", "default_url", "open_store",
           "store_for", "ENV_URL"]
