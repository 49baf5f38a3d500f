"""One way to run plain SQL on both backends, for the non-spatial tables of the casework.

Statements use `:name` parameters on both backends (SQLite reads them natively; for psycopg
`to_pyformat` rewrites them). The places where PostgreSQL and SQLite differ (a point column,
a bounding-box test, membership in a list) are fragments of a `Dialect`. Values cross the
boundary as Python values: datetimes (UTC), lists, dicts (JSON).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from functools import lru_cache

import shapely

from geo.codes import LENGTHS
from geo.crs import STORAGE_EPSG
from geo.i18n import _

# SQLite keeps times as fixed-width UTC text, so that text order is time order.
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# What `to_pyformat` must see whole: text in which `:name` and `%` are not what they seem
# (quoted literals, quoted identifiers, comments, dollar-quoted bodies), casts, parameters,
# and percent signs. E'...' comes before '...' since its backslash escapes a quote.
_TOKEN = re.compile(r"""
      (?P<verbatim>
          (?<![\w$])[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)
        | '(?:[^']|'')*(?:'|\Z)
        | "(?:[^"]|"")*(?:"|\Z)
        | --[^\n]*
      )
    | (?P<block>/\*)
    | (?P<dollar>(?<![\w$])\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
    | (?P<cast>::)
    | (?<![:\w]):(?P<name>[a-z_][a-z0-9_]*)
    | (?P<percent>%)
""", re.VERBOSE | re.DOTALL)
_COMMENT_MARK = re.compile(r"/\*|\*/")


def _comment_end(sql: str, start: int) -> int:
    """Where the block comment opened at `start` ends (PostgreSQL nests them)."""
    depth = 0
    for mark in _COMMENT_MARK.finditer(sql, start):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    return len(sql)


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """A `:name` statement in psycopg's `%(name)s` style, every `%` doubled. Literals, quoted
    identifiers, comments and dollar-quoted bodies are left as they are (but for their `%`),
    and so are `::` casts. Cached: statements are built from few shapes."""
    out, pos = [], 0
    while (token := _TOKEN.search(sql, pos)) is not None:
        out.append(sql[pos:token.start()])
        end, kind = token.end(), token.lastgroup
        if kind == "name":
            out.append(f"%({token['name']})s")
        elif kind == "percent":
            out.append("%%")
        elif kind == "cast":
            out.append("::")
        else:
            if kind == "block":
                end = _comment_end(sql, token.start())
            elif kind == "dollar":
                close = sql.find(token["dollar"], end)
                end = len(sql) if close < 0 else close + len(token["dollar"])
            out.append(sql[token.start():end].replace("%", "%%"))
        pos = end
    out.append(sql[pos:])
    return "".join(out)


class StatementTimeout(Exception):
    """A statement ran longer than the configured limit and was cancelled."""


class DatabaseBusy(StatementTimeout):
    """Concurrent work kept this request from the rows it needs (another process held the
    SQLite file's write lock past the wait, or PostgreSQL broke a deadlock): nothing was
    written, and the same request may be sent again. The message is for the log; `detail`,
    when given, is a sentence for the reader (already translated)."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.detail = detail


class Conflict(Exception):
    """A uniqueness or integrity constraint refused the write; `constraint` names it if known."""

    def __init__(self, message: str, constraint: str | None = None):
        super().__init__(message)
        self.constraint = constraint


class Dialect(ABC):
    """The fragments of SQL in which the backends differ; `name` says which backend speaks it.
    A fragment given here is the plain form; a backend overrides only what it writes otherwise."""

    name: str

    @abstractmethod
    def point_columns(self) -> str:
        """The column(s) of a stored point, as an INSERT lists them."""

    @abstractmethod
    def point_values(self, lon: str = ":lon", lat: str = ":lat") -> str:
        """The values of `point_columns` from two SQL expressions."""

    @abstractmethod
    def epoch(self, column: str) -> str:
        """A timestamp column as seconds since 1970 (a float), for bulk reads into numpy."""

    @abstractmethod
    def lon(self, alias: str) -> str:
        """The longitude of the point of `alias`."""

    @abstractmethod
    def lat(self, alias: str) -> str:
        """The latitude of the point of `alias`."""

    @abstractmethod
    def in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        """The point column of `alias` inside :bbox_minx/:bbox_miny/:bbox_maxx/:bbox_maxy."""

    def polygon_in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        """A grid's polygon (`alias`) intersects the box, by bounding box."""
        return self.in_bbox(alias, prefix)

    def polygon_columns(self) -> str:
        """The column(s) of a stored polygon, as an INSERT lists them."""
        return "geom"

    def polygon_values(self, param: str = "g") -> str:
        """The values of `polygon_columns` from the parameters of `polygon_params`."""
        return f":{param}"

    def polygon_params(self, geom, param: str = "g") -> dict:
        """The parameters of `polygon_values` for a polygon in the storage CRS."""
        return {param: shapely.to_wkb(geom)}

    def wkb(self, column: str) -> str:
        """A geometry column as WKB."""
        return column

    @abstractmethod
    def team_point(self, alias: str) -> str:
        """lon and lat of a team: its last reported position, else its home base."""

    @abstractmethod
    def set_team_position(self) -> str:
        """SET clause for a team's position from :lon and :lat."""

    @abstractmethod
    def in_list(self, expr: str, param: str) -> str:
        """`expr` is one of the list parameter :param."""

    def in_few(self, expr: str, subquery: str) -> str:
        """`expr` is one of the few values that `subquery` selects, looked up one by one."""
        return f"{expr} IN ({subquery})"

    @abstractmethod
    def list_in_areas(self, column: str, streets: str, districts: str) -> str:
        """Some street code in the list column lies in :streets or in one of :districts."""

    @abstractmethod
    def list_contains(self, column: str, param: str) -> str:
        """The list-valued column holds the scalar parameter :param."""

    def for_update(self) -> str:
        """Row locks for a SELECT whose rows a write transaction decides on and then changes
        (or must keep from changing until it commits). Empty where write transactions run one
        at a time (SQLite's BEGIN IMMEDIATE)."""
        return ""

    def for_share(self) -> str:
        """Row locks for a SELECT whose rows a write transaction decides on without changing
        them: writers of those rows wait until it commits; other readers that lock alike do
        not wait for each other. Empty where write transactions run one at a time."""
        return ""

    def skip_locked(self) -> str:
        """Row locks for a SELECT of rows to delete in housekeeping, passing over rows another
        transaction holds. Empty where write transactions run one at a time."""
        return ""

    def delete_all(self, tables: tuple[str, ...]) -> list[str]:
        """Statements that empty `tables` (rows that refer to others come first)."""
        return [f"DELETE FROM {table}" for table in tables]


class PostgisDialect(Dialect):
    """PostgreSQL with PostGIS: geometry columns, arrays, row locks."""

    name = "postgis"

    def point_columns(self) -> str:
        return "geom"

    def point_values(self, lon: str = ":lon", lat: str = ":lat") -> str:
        return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), {STORAGE_EPSG})"

    def epoch(self, column: str) -> str:
        return f"extract(epoch FROM {column})::float8"

    def lon(self, alias: str) -> str:
        return f"ST_X({alias}.geom)"

    def lat(self, alias: str) -> str:
        return f"ST_Y({alias}.geom)"

    def in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        p = prefix
        return (f"{alias}.geom && ST_MakeEnvelope(:{p}minx, :{p}miny, :{p}maxx, :{p}maxy, "
                f"{STORAGE_EPSG})")

    def polygon_values(self, param: str = "g") -> str:
        return f"ST_SetSRID(ST_GeomFromWKB(:{param}), {STORAGE_EPSG})"

    def wkb(self, column: str) -> str:
        return f"ST_AsBinary({column})"

    def team_point(self, alias: str) -> str:
        a = alias
        return (f"ST_X(coalesce({a}.position, {a}.home)) AS lon, "
                f"ST_Y(coalesce({a}.position, {a}.home)) AS lat")

    def set_team_position(self) -> str:
        return f"position = {self.point_values()}"

    def in_list(self, expr: str, param: str) -> str:
        return f"{expr} = ANY(:{param})"

    def in_few(self, expr: str, subquery: str) -> str:
        """As an array: PostgreSQL plans `IN (subquery)` as a join, which hashes the whole
        other side (every active assignment: 3.6 ms where the index takes 0.4)."""
        return f"{expr} = ANY(ARRAY({subquery}))"

    def list_in_areas(self, column: str, streets: str, districts: str) -> str:
        return (f"EXISTS (SELECT 1 FROM unnest({column}) AS j(code) WHERE "
                f"j.code = ANY(:{streets}) OR left(j.code, {LENGTHS['district']}) "
                f"= ANY(:{districts}))")

    def list_contains(self, column: str, param: str) -> str:
        return f":{param} = ANY({column})"

    def for_update(self) -> str:
        """PostgreSQL waits for a concurrent writer of those rows and returns their newest
        committed version; NO KEY UPDATE still lets other transactions insert rows that refer
        to them."""
        return " FOR NO KEY UPDATE"

    def for_share(self) -> str:
        return " FOR SHARE"

    def skip_locked(self) -> str:
        """Rows another transaction holds are passed over instead of waited for (or
        deadlocked on)."""
        return " FOR UPDATE SKIP LOCKED"

    def delete_all(self, tables: tuple[str, ...]) -> list[str]:
        return [f"TRUNCATE {', '.join(tables)}"]


class SqliteDialect(Dialect):
    """SQLite: points as lon/lat columns, polygons as WKB with their bounding box, lists as
    JSON text."""

    name = "sqlite"

    def point_columns(self) -> str:
        return "lon, lat"

    def point_values(self, lon: str = ":lon", lat: str = ":lat") -> str:
        return f"{lon}, {lat}"

    def epoch(self, column: str) -> str:
        return f"(julianday({column}) - 2440587.5) * 86400.0"

    def lon(self, alias: str) -> str:
        return f"{alias}.lon"

    def lat(self, alias: str) -> str:
        return f"{alias}.lat"

    def in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        p = prefix
        return (f"{alias}.lon BETWEEN :{p}minx AND :{p}maxx "
                f"AND {alias}.lat BETWEEN :{p}miny AND :{p}maxy")

    def polygon_in_bbox(self, alias: str, prefix: str = "bbox_") -> str:
        p = prefix
        return (f"{alias}.maxx >= :{p}minx AND {alias}.minx <= :{p}maxx "
                f"AND {alias}.maxy >= :{p}miny AND {alias}.miny <= :{p}maxy")

    def polygon_columns(self) -> str:
        return "geom, minx, miny, maxx, maxy"

    def polygon_values(self, param: str = "g") -> str:
        return ", ".join(f":{param}{part}" for part in ("", "_minx", "_miny", "_maxx", "_maxy"))

    def polygon_params(self, geom, param: str = "g") -> dict:
        minx, miny, maxx, maxy = shapely.bounds(geom).tolist()
        return {**super().polygon_params(geom, param), f"{param}_minx": minx,
                f"{param}_miny": miny, f"{param}_maxx": maxx, f"{param}_maxy": maxy}

    def team_point(self, alias: str) -> str:
        a = alias
        return (f"coalesce({a}.position_lon, {a}.home_lon) AS lon, "
                f"coalesce({a}.position_lat, {a}.home_lat) AS lat")

    def set_team_position(self) -> str:
        return "position_lon = :lon, position_lat = :lat"

    def in_list(self, expr: str, param: str) -> str:
        return f"{expr} IN (SELECT value FROM json_each(:{param}))"

    def list_in_areas(self, column: str, streets: str, districts: str) -> str:
        return (f"EXISTS (SELECT 1 FROM json_each({column}) j WHERE "
                f"j.value IN (SELECT value FROM json_each(:{streets})) OR "
                f"substr(j.value, 1, {LENGTHS['district']}) "
                f"IN (SELECT value FROM json_each(:{districts})))")

    def list_contains(self, column: str, param: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = :{param})"


POSTGIS = PostgisDialect()
SQLITE = SqliteDialect()


def as_dt(value) -> datetime | None:
    """A timestamp column as an aware UTC datetime, whichever backend produced it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    # TS_FORMAT is ISO 8601, which fromisoformat parses some 30 times faster than strptime.
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def json_text(value) -> str:
    """A list or dict as the JSON text SQLite stores, written one way (UTF-8, not \\u escapes)
    by transactions and bulk loads alike, so that equal values are equal text."""
    return json.dumps(value, ensure_ascii=False)


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
            raise InvalidText(_("text must not contain the NUL character (\\x00)"))


class Tx:
    """A transaction: `rows`, `one`, `run` and `run_many` with `:name` parameters."""

    dialect: Dialect

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        raise NotImplementedError

    def one(self, sql: str, params: dict | None = None) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def run(self, sql: str, params: dict | None = None) -> int:
        """Execute; return the number of rows changed."""
        raise NotImplementedError

    def run_many(self, sql: str, params: list[dict]) -> None:
        """Execute once per parameter dict, in one call to the driver (for tens of rows: bulk
        loads write tuples, which cost no dict per row)."""
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
    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection, timeout_ms: int | None):
        self.conn = conn
        self.timeout_ms = timeout_ms

    @staticmethod
    def _param(v):
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime(TS_FORMAT)
        if isinstance(v, list | tuple | dict):
            return json_text(v)
        return v

    def _values(self, params: dict | None) -> dict:
        _check_text(params)
        return {k: self._param(v) for k, v in (params or {}).items()}

    def _execute(self, sql, params):
        return self._call(self.conn.execute, sql, self._values(params))

    def _call(self, execute, sql, values):
        """`execute(sql, values)` under the statement timeout, with errors translated."""
        if self.timeout_ms:
            deadline = time.monotonic() + self.timeout_ms / 1000.0
            self.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)
        try:
            return execute(sql, values)
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

    def run_many(self, sql, params):
        self._call(self.conn.executemany, sql, [self._values(p) for p in params])


class PgTx(Tx):
    dialect = POSTGIS

    def __init__(self, conn):
        from psycopg.types.json import Jsonb

        self.conn = conn
        self._jsonb = Jsonb

    def _values(self, params: dict | None) -> dict:
        _check_text(params)
        return {k: self._jsonb(v) if isinstance(v, dict) else v
                for k, v in (params or {}).items()}

    def _execute(self, sql, params):
        return self._call(self.conn.execute, sql, self._values(params))

    @staticmethod
    def _call(execute, sql, values):
        """`execute` of the statement in psycopg's style, with errors translated."""
        import psycopg

        try:
            return execute(to_pyformat(sql), values)
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

    def run_many(self, sql, params):
        with self.conn.cursor() as cur:
            self._call(cur.executemany, sql, [self._values(p) for p in params])
