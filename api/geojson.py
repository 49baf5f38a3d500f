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


def collection(ids, geoms, properties: list[dict], live: bool = False,
               decimals: int | None = DECIMALS, **members) -> Response:
    """A FeatureCollection response. `live` layers must never be cached by a client;
    `decimals` None keeps full precision (for geometry a client may send back).

    `members` become foreign members of the collection (paging: numberMatched, ...)."""
    geometry_text = shapely.to_geojson(rounded(geoms, decimals)) if len(properties) else []
    features = [
        f'{{"type":"Feature","id":{json.dumps(i, default=_default)},"geometry":{g or "null"},'
        f'"properties":{json.dumps(p, default=_default, ensure_ascii=False, separators=_TIGHT)}}}'
        for i, g, p in zip(ids, geometry_text, properties, strict=True)
    ]
    head = json.dumps({"type": "FeatureCollection", **members}, default=_default,
                      ensure_ascii=False, separators=_TIGHT)[:-1]
    body = f'{head},"features":[{",".join(features)}]}}'
    headers = {"Cache-Control": "no-store"} if live else {"Cache-Control": "private, max-age=60"}
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
