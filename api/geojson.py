"""RFC 7946 FeatureCollections, assembled as text: geometry through shapely's vectorised
writer, properties through json. Map layers round coordinates to 6 decimals (about 0.1 m);
what a client edits and sends back (a draft's grids) goes out at full precision, so that a
round trip never moves a boundary."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import shapely
from fastapi.responses import Response

MEDIA_TYPE = "application/geo+json"
DECIMALS = 6
_TIGHT = (",", ":")  # no spaces: map layers are large and every byte is parsed


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def rounded(geoms, decimals: int | None = DECIMALS) -> np.ndarray:
    """The geometries with coordinates rounded to `decimals` (None: as they are, which
    shapely writes with the digits that read back to the same doubles)."""
    geoms = np.asarray(geoms, dtype=object)
    if decimals is None:
        return geoms
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _feature_text(i, geometry_text: str | None, p: dict) -> str:
    return (f'{{"type":"Feature","id":{json.dumps(i, default=_default)},'
            f'"geometry":{geometry_text or "null"},'
            f'"properties":{json.dumps(p, default=_default, ensure_ascii=False, separators=_TIGHT)}')


def _members(kind: str, members: dict) -> str:
    """`{"type":kind,...members` without its closing brace."""
    return json.dumps({"type": kind, **members}, default=_default, ensure_ascii=False,
                      separators=_TIGHT)[:-1]


def feature(i, geom, properties: dict, decimals: int | None = DECIMALS, **members) -> Response:
    """One Feature response, `members` after its properties (links ...); never cached."""
    (geometry_text,) = shapely.to_geojson(rounded([geom], decimals))
    extra = json.dumps(members, default=_default, ensure_ascii=False, separators=_TIGHT)[1:-1]
    body = _feature_text(i, geometry_text, properties) + ("," + extra if members else "") + "}"
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})


def collection(ids, geoms, properties: list[dict], live: bool = False,
               decimals: int | None = DECIMALS, **members) -> Response:
    """A FeatureCollection response. `live` layers must never be cached by a client;
    `decimals` None keeps full precision (for geometry a client may send back).

    `members` become foreign members of the collection (paging: numberMatched, ...)."""
    geometry_text = shapely.to_geojson(rounded(geoms, decimals)) if len(properties) else []
    features = [_feature_text(i, g, p) + "}"
                for i, g, p in zip(ids, geometry_text, properties, strict=True)]
    head = _members("FeatureCollection", members)
    body = f'{head},"features":[{",".join(features)}]}}'
    headers = {"Cache-Control": "no-store"} if live else {"Cache-Control": "private, max-age=60"}
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
