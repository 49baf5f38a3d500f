"""Mapbox Vector Tiles of grids and areas with the open issues in each that the reader may see
(/tiles/{layer}/{z}/{x}/{y}.mvt, XYZ numbering), and a TileJSON document per layer for GIS
clients and map libraries. Same bearer tokens or session as the GeoJSON layers (layers:read);
the load in each feature is filtered by the reader's jurisdiction, so tiles are private."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from api import deps
from geo.casework.scope import Actor
from geo.i18n import _
from geo.ogc.items import city_bbox
from geo.store import Store
from geo.tiles.layers import LOAD
from geo.tiles.pyramid import MAX_ZOOM, Tile
from geo.tiles.serve import find_layer, vector_tile

router = APIRouter(prefix="/tiles", tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
# Load changes with every report: a tile may be reused this long (the live map asks anew at
# every refresh anyway, with the refresh's number in the URL).
MAX_AGE_S = 10
LayerName = Annotated[str, PathParam(pattern=r"^[a-z]{1,20}$", description="grids, "
                                     "communities, streets or districts")]
Zoom = Annotated[int, PathParam(ge=0, le=MAX_ZOOM)]
Index = Annotated[int, PathParam(ge=0, lt=2 ** MAX_ZOOM)]
Version = Annotated[int | None, Query(ge=0, le=2 ** 31, description="any number, ignored: a "
                                      "client's way past its cache (the live map's refresh)")]
_FIELDS = {"code": "String", "name": "String", "community_code": "String",
           "street_code": "String", "district_code": "String", "households": "Number",
           "open": "Number", "yellow": "Number", "overdue": "Number", "worst_light": "String"}


@router.get("/{layer}/{z}/{x}/{y}.mvt", response_class=Response,
            responses={200: {"content": {MVT: {}}, "description": "a Mapbox Vector Tile "
                             "(empty when no area meets the tile)"}})
def tile(layer: LayerName, z: Zoom, x: Index, y: Index, v: Version = None,
         actor: Actor = deps.actor("layers:read"), store: Store = Depends(deps.store),
         now: datetime = Depends(deps.now)):
    """One tile of a layer: each area meeting it with its code (also the feature id), name,
    parent codes and the open issues in it that you may see (open, yellow, overdue,
    worst_light)."""
    data = vector_tile(store, actor, layer, Tile(z, x, y), now)
    return Response(data, media_type=MVT,
                    headers={"Cache-Control": f"private, max-age={MAX_AGE_S}"})


@router.get("/{layer}.json")
def tilejson(layer: LayerName, request: Request, actor: Actor = deps.actor("layers:read"),
             store: Store = Depends(deps.store)):
    """TileJSON 3.0.0 for a layer: the tile URL, zoom range, the city's bounds and fields."""
    spec = find_layer(layer)
    names = (*spec.columns, *(n for n, _k in spec.prefixes), *LOAD)
    bounds = list(city_bbox(store))
    return {"tilejson": "3.0.0", "name": spec.name, "scheme": "xyz",
            "description": _("{layer} with the open issues you may see").format(
                layer=_(spec.title)),
            "tiles": [f"{deps.public_base(request)}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": spec.minzoom, "maxzoom": MAX_ZOOM, "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, spec.minzoom],
            "vector_layers": [{"id": spec.name, "minzoom": spec.minzoom, "maxzoom": MAX_ZOOM,
                               "fields": {n: _FIELDS[n] for n in names}}]}
