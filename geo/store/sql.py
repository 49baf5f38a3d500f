"""One way to run plain SQL on both backends, for the non-spatial tables of the casework.

Statements use `:name` parameters. The few places where PostgreSQL and SQLite differ (a
point column, a bounding-box test, membership in a list) are fragments of a `Dialect`.
Values cross the boundary as Python values: datetimes (UTC), lists, dicts (JSON).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
# SQLite keeps times as fixed-width UTC text, so that text order is time order.
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class StatementTimeout(Exception):
    """A statement ran longer than the configured limit and was cancelled."""


class DatabaseBusy(StatementTimeout):
    """Concurrent work kept this request from the rows it needs (another process held the
    SQLite file's write lock past the wait, or PostgreSQL broke a deadlock): nothing was
    written, and the same request may be sent again."""


class Conflict(Exception):
    """A uniqueness or integrity constraint refused the write; `constraint` names it if known."""

    def __init__(self, message: str, constraint: str | None = None):
        super().__init__(message)
        self.constraint = constraint


@dataclass(frozen=True)
class Dialect:
    name: str

    def point_columns(self) -> str:
        return "geom" if self.name == "postgis" else "lon, lat"

    def point_values(self, lon: str = ":lon", lat: str = ":lat") -> str:
        if self.name == "postgis":
            return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"
        return f"{lon}, {lat}"

    def epoch(self, column: str) -> str:
        """A timestamp column as seconds since 1970 (a float), for bulk reads into numpy."""
        if self.name == "postgis":
            return f"extract(epoch FROM {column})::float8"
        return f"(julianday({column}) - 2440587.5) * 86400.0"

    def lon(self, alias: str) -> str:
        return f"ST_X({alias}.geom)" if self.name == "postgis" else f"{alias}.lon"

    def lat(self, alias: str) -> str:
        return f"ST_Y({alias}.geom)" if self.name == "postgis" else f"{alias}.lat"

    def in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        """The point column of `alias` inside :bbox_minx/:bbox_miny/:bbox_maxx/:bbox_maxy."""
        p = prefix
        if self.name == "postgis":
            return (f"{alias}.geom && ST_MakeEnvelope(:{p}minx, :{p}miny, :{p}maxx, :{p}maxy, "
                    "4326)")
        return (f"{alias}.lon BETWEEN :{p}minx AND :{p}maxx "
                f"AND {alias}.lat BETWEEN :{p}miny AND :{p}maxy")

    def polygon_in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        """A grid's polygon (`alias`) intersects the box, by bounding box (SQLite keeps one)."""
        p = prefix
        if self.name == "postgis":
            return self.in_bbox(alias, prefix)
        return (f"{alias}.maxx >= :{p}minx AND {alias}.minx <= :{p}maxx "
                f"AND {alias}.maxy >= :{p}miny AND {alias}.miny <= :{p}maxy")

    def wkb(self, column: str) -> str:
        return f"ST_AsBinary({column})" if self.name == "postgis" else column

    def team_point(self, alias: str) -> str:
        """lon and lat of a team: its last reported position, else its home base."""
        a = alias
        if self.name == "postgis":
            return (f"ST_X(coalesce({a}.position, {a}.home)) AS lon, "
                    f"ST_Y(coalesce({a}.position, {a}.home)) AS lat")
        return (f"coalesce({a}.position_lon, {a}.home_lon) AS lon, "
                f"coalesce({a}.position_lat, {a}.home_lat) AS lat")

    def set_team_position(self) -> str:
        """SET clause for a team's position from :lon and :lat."""
        if self.name == "postgis":
            return "position = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
        return "position_lon = :lon, position_lat = :lat"

    def in_list(self, expr: str, param: str) -> str:
        """`expr` is one of the list parameter :param."""
        if self.name == "postgis":
            return f"{expr} = ANY(:{param})"
        return f"{expr} IN (SELECT value FROM json_each(:{param}))"

    def list_in_areas(self, column: str, streets: str, districts: str) -> str:
        """Some street code in the list column lies in :streets or in one of :districts."""
        if self.name == "postgis":
            return (f"EXISTS (SELECT 1 FROM unnest({column}) AS j(code) WHERE "
                    f"j.code = ANY(:{streets}) OR left(j.code, 6) = ANY(:{districts}))")
        return (f"EXISTS (SELECT 1 FROM json_each({column}) j WHERE "
                f"j.value IN (SELECT value FROM json_each(:{streets})) OR "
                f"substr(j.value, 1, 6) IN (SELECT value FROM json_each(:{districts})))")

    def for_update(self) -> str:
        """Row locks for a SELECT whose rows a write transaction decides on and then changes
        (or must keep from changing until it commits). PostgreSQL waits for a concurrent
        writer of those rows and returns their newest committed version; NO KEY UPDATE still
        lets other transactions insert rows that refer to them. SQLite needs nothing: its
        write transactions run one at a time (BEGIN IMMEDIATE)."""
        return " FOR NO KEY UPDATE" if self.name == "postgis" else ""

    def for_share(self) -> str:
        """Row locks for a SELECT whose rows a write transaction decides on without changing
        them: writers of those rows wait until it commits; other readers that lock alike do
        not wait for each other. Empty on SQLite, as `for_update`."""
        return " FOR SHARE" if self.name == "postgis" else ""

    def skip_locked(self) -> str:
        """Row locks for a SELECT of rows to delete in housekeeping: PostgreSQL passes over
        rows another transaction holds instead of waiting for them (or deadlocking). Empty
        on SQLite, where write transactions run one at a time."""
        return " FOR UPDATE SKIP LOCKED" if self.name == "postgis" else ""

    def list_contains(self, column: str, param: str) -> str:
        """The list-valued column holds the scalar parameter :param."""
        if self.name == "postgis":
            return f":{param} = ANY({column})"
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = :{param})"


def as_dt(value) -> datetime | None:
    """A timestamp column as an aware UTC datetime, whichever backend produced it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    # TS_FORMAT is ISO 8601, which fromisoformat parses some 30 times faster than strptime.
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def as_json(value):
    """A JSON or array column as Python lists and dicts."""
    return json.loads(value) if isinstance(value, str | bytes) else value


class InvalidText(ValueError):
    """A text value that no backend may store the same way (PostgreSQL refuses NUL)."""


def _check_text(params: dict | None) -> None:
    """Refuse NUL characters in text parameters on every backend, so that SQLite does not
    keep what PostgreSQL would reject."""
    for value in (params or {}).values():
        values = value if isinstance(value, list | tuple) else (value,)
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise InvalidText("text must not contain the NUL character (\\x00)")


class Tx:
    """A transaction: `rows`, `one` and `run` with `:name` parameters."""

    dialect: Dialect

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        raise NotImplementedError

    def one(self, sql: str, params: dict | None = None) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def run(self, sql: str, params: dict | None = None) -> int:
        """Execute; return the number of rows changed."""
        raise NotImplementedError

    def columns(self, sql: str, params: dict | None = None) -> dict[str, tuple]:
        """The result as one tuple per column: for reads of many rows into arrays, without a
        dict per row."""
        cur = self._execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return dict(zip(names, values, strict=True))


def sqlite_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection held the lock past the busy wait."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteTx(Tx):
    dialect = Dialect("sqlite")

    def __init__(self, conn: sqlite3.Connection, timeout_ms: int | None):
        self.conn = conn
        self.timeout_ms = timeout_ms

    @staticmethod
    def _param(v):
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime(TS_FORMAT)
        if isinstance(v, list | tuple | dict):
            return json.dumps(v, ensure_ascii=False)
        return v

    def _execute(self, sql, params):
        _check_text(params)
        values = {k: self._param(v) for k, v in (params or {}).items()}
        if self.timeout_ms:
            deadline = time.monotonic() + self.timeout_ms / 1000.0
            self.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)
        try:
            return self.conn.execute(sql, values)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise StatementTimeout(f"statement cancelled after {self.timeout_ms} ms") from exc
            if sqlite_busy(exc):
                raise DatabaseBusy(f"the database file is locked by another writer: {exc}") from exc
            raise
        finally:
            if self.timeout_ms:
                self.conn.set_progress_handler(None, 0)

    def rows(self, sql, params=None):
        cur = self._execute(sql, params)
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def run(self, sql, params=None):
        return self._execute(sql, params).rowcount


class PgTx(Tx):
    dialect = Dialect("postgis")

    def __init__(self, conn):
        from psycopg.types.json import Jsonb

        self.conn = conn
        self._jsonb = Jsonb

    def _prepare(self, sql, params):
        text = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
        values = {k: self._jsonb(v) if isinstance(v, dict) else v
                  for k, v in (params or {}).items()}
        return text, values

    def _execute(self, sql, params):
        import psycopg

        _check_text(params)
        text, values = self._prepare(sql, params)
        try:
            return self.conn.execute(text, values)
        except psycopg.errors.QueryCanceled as exc:
            raise StatementTimeout(f"statement cancelled: {exc}") from exc
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            raise DatabaseBusy(f"concurrent transactions: {exc}") from exc
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(str(exc), exc.diag.constraint_name) from exc

    def rows(self, sql, params=None):
        cur = self._execute(sql, params)
        if cur.description is None:
            return []
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def run(self, sql, params=None):
        return self._execute(sql, params).rowcount
