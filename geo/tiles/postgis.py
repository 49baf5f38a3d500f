"""Vector tiles encoded by PostGIS itself (ST_AsMVTGeom clips and snaps, ST_AsMVT writes),
with the open issues per area worked out beforehand (geo.casework.read.open_load: lights need
the step clocks) and passed in as arrays."""

from __future__ import annotations

from geo.crs import STORAGE_EPSG
from geo.store.base import valid_grids
from geo.store.sql import Tx
from geo.tiles.layers import LOAD, MAX_FEATURES, TileLayer
from geo.tiles.pyramid import BUFFER, EXTENT, MERCATOR_EPSG, Tile

_ENVELOPE = "ST_TileEnvelope(:z, :x, :y)"
_SEARCH = (f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), "
           f"{STORAGE_EPSG})")


def _where(layer: TileLayer) -> str:
    where = f"t.geom && {_SEARCH}"
    return f"{where} AND {valid_grids(None, 't')}" if layer.table == "grid" else where


def tile_codes(tx: Tx, layer: TileLayer, tile: Tile) -> list[str]:
    """The codes of the areas whose bounding box meets the tile and its buffer (one more than
    MAX_FEATURES at most, to tell a tile too large)."""
    return [r["code"] for r in tx.rows(
        f"SELECT t.code FROM {layer.table} t WHERE {_where(layer)} LIMIT :cap",
        {"z": tile.z, "x": tile.x, "y": tile.y, "cap": MAX_FEATURES + 1})]


def encode(tx: Tx, layer: TileLayer, tile: Tile, load: dict[str, dict]) -> bytes:
    """The layer's tile, with `load` ({code: open, yellow, overdue, worst_light}) joined in."""
    columns = [f"t.{c}" for c in layer.columns] + [
        f"left(t.code, {n}) AS {name}" for name, n in layer.prefixes]
    counts = [f"coalesce(l.{c}, 0) AS {c}" for c in LOAD[:-1]] + ["l.worst_light"]
    loaded = list(load)
    row = tx.one(
        "WITH l AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:open AS integer[]), "
        "CAST(:yellow AS integer[]), CAST(:overdue AS integer[]), CAST(:light AS text[])) "
        "AS l(code, open, yellow, overdue, worst_light)), "
        f"f AS (SELECT CAST(t.code AS bigint) AS fid, {', '.join(columns + counts)}, "
        f"ST_AsMVTGeom(ST_Transform(t.geom, {MERCATOR_EPSG}), {_ENVELOPE}, {EXTENT}, "
        f"{BUFFER}, true) AS geom FROM {layer.table} t LEFT JOIN l ON l.code = t.code "
        f"WHERE {_where(layer)} ORDER BY t.code) "
        f"SELECT ST_AsMVT(f, :name, {EXTENT}, 'geom', 'fid') AS tile FROM f "
        "WHERE f.geom IS NOT NULL",
        {"z": tile.z, "x": tile.x, "y": tile.y, "name": layer.name, "codes": loaded,
         "open": [load[c]["open"] for c in loaded], "yellow": [load[c]["yellow"] for c in loaded],
         "overdue": [load[c]["overdue"] for c in loaded],
         "light": [load[c]["worst_light"] for c in loaded]})
    return bytes(row["tile"] or b"")
