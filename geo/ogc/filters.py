"""CQL2 filters on a collection's items (OGC API - Features Part 3: Filtering).

A `filter` in cql2-text or cql2-json is parsed and checked against the CQL2 schema by
`cql2` (cql2-rs), its property names against the collection's queryables, its geometry
literals taken from `filter-crs` to storage lon/lat; it is then matched (cql2-rs again)
against each feature that the other parameters leave (bbox, datetime, the caller's
jurisdiction) before the page is cut, so numberMatched counts the features that pass it.
At most MAX_EXAMINED features are examined for one request: a filter over more is refused
with a hint to narrow it by bbox or datetime (matching costs about 7 µs a feature)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import cql2
import numpy as np
import pandas as pd
import shapely

from geo.casework.errors import InvalidInput
from geo.i18n import _
from geo.ogc import crs as ogc_crs

MAX_EXAMINED = 100_000
LANGUAGES = ("cql2-text", "cql2-json")
GEOMETRY = "geometry"
_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"},
          "number": {"type": "number"}, "boolean": {"type": "boolean"},
          "date-time": {"type": "string", "format": "date-time"}}
_AREA_PROPERTIES = {"code": "string", "name": "string"}
# The properties of the collections whose items are not a stored layer as export writes it.
DECLARED = {
    "grids": {"code": "string", "name": "string", "community_code": "string",
              "street_code": "string", "district_code": "string", "households": "integer",
              "valid_from": "date-time", "valid_to": "date-time"},
    "issues": {"category_code": "string", "category_name": "string", "state": "string",
               "light": "string", "overdue": "boolean", "reported_at": "date-time",
               "due_at": "date-time", "grid_code": "string", "community_code": "string",
               "street_code": "string", "district_code": "string", "description": "string",
               "rating": "integer"},
    "teams": {"name": "string", "kind": "string", "status": "string", "roster": "string",
              "position_at": "date-time"},
}


def column_types(frame: pd.DataFrame) -> dict[str, str]:
    """A stored layer's properties and their JSON types, from its columns."""
    out = {}
    for name, dtype in frame.dtypes.items():
        if name == frame.geometry.name:
            continue
        if pd.api.types.is_bool_dtype(dtype):
            out[name] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            out[name] = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            out[name] = "number"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[name] = "date-time"
        else:
            out[name] = "string"
    return out


def queryables_schema(url: str, title: str, properties: dict[str, str]) -> dict:
    """The queryables of a collection as the JSON Schema Part 3 asks for."""
    props = {name: {"title": name, **_TYPES[kind]} for name, kind in properties.items()}
    props[GEOMETRY] = {"title": GEOMETRY, "format": "geometry-any",
                       "x-ogc-role": "primary-geometry"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url,
            "type": "object", "title": title, "properties": props,
            "additionalProperties": False}


@dataclass(frozen=True)
class Filter:
    """A checked filter: `matches` tells whether a feature passes it."""

    expr: cql2.Expr
    spatial: bool

    def matches(self, fid, props: dict, geom) -> bool:
        item = {"type": "Feature", "id": fid,
                "properties": {k: _plain(v) for k, v in props.items()},
                "geometry": (json.loads(shapely.to_geojson(geom))
                             if self.spatial and geom is not None else None)}
        try:
            return bool(self.expr.matches(item))
        except Exception as exc:  # noqa: BLE001 - cql2 raises a bare Exception
            raise InvalidInput(_("filter: it cannot be evaluated on feature {fid} ({problem}); "
                                 "compare each property with a value of its type, as the "
                                 "queryables give it").format(fid=fid, problem=exc),
                               code="invalid_filter") from None


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def parse(text: str | None, lang: str | None, crs_uri: str, queryable: set[str]
          ) -> Filter | None:
    """The filter of a request, or None without one; InvalidInput (400) that says what is
    wrong: an unknown language, text that does not parse, a property that is not queryable."""
    if not text:
        return None
    lang = lang or "cql2-text"
    if lang not in LANGUAGES:
        raise InvalidInput(_("filter-lang: {lang} is not offered; use cql2-text or "
                             "cql2-json").format(lang=lang[:40]), code="invalid_filter")
    try:
        expr = cql2.parse_json(text) if lang == "cql2-json" else cql2.parse_text(text)
        expr.validate()
        tree = expr.to_json()
    except Exception as exc:  # noqa: BLE001 - cql2 raises ParseError, ValidationError, Exception
        raise InvalidInput(_("filter: not valid {lang} ({problem})").format(
            lang=lang, problem=str(exc).strip()[:300]), code="invalid_filter") from None
    names = set(_properties(tree))
    unknown = sorted(names - queryable - {GEOMETRY})
    if unknown:
        raise InvalidInput(_("filter: {names} not queryable here; the queryables are "
                             "{queryables}").format(names=", ".join(unknown),
                                                    queryables=", ".join(sorted(queryable))),
                           code="invalid_filter")
    spatial = _has_spatial(tree)
    if spatial and crs_uri != ogc_crs.CRS84:
        expr = cql2.Expr(_to_storage(tree, crs_uri))
    return Filter(expr, spatial)


def _properties(node):
    if isinstance(node, dict):
        if set(node) == {"property"}:
            yield node["property"]
        for value in node.values():
            yield from _properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value)


def _has_spatial(node) -> bool:
    if isinstance(node, dict):
        if str(node.get("op", "")).startswith("s_"):
            return True
        return any(_has_spatial(v) for v in node.values())
    return isinstance(node, list) and any(_has_spatial(v) for v in node)


def _to_storage(node, uri: str):
    """The cql2-json tree with its geometry literals (GeoJSON, bbox) taken from `uri`."""
    if isinstance(node, dict):
        if "coordinates" in node and "type" in node:
            geom = ogc_crs.geometries_to_storage([shapely.from_geojson(json.dumps(node))], uri)[0]
            return json.loads(shapely.to_geojson(geom))
        if set(node) == {"bbox"} and len(node["bbox"]) == 4:
            return {"bbox": list(ogc_crs.bbox_to_storage(tuple(node["bbox"]), uri))}
        return {k: _to_storage(v, uri) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_storage(v, uri) for v in node]
    return node


def too_many(examined: int) -> InvalidInput:
    return InvalidInput(_("filter: it would be matched against {n} features, more than the "
                          "{max} a request may examine; narrow it with bbox or datetime").format(
        n=f"{examined:,}", max=f"{MAX_EXAMINED:,}"), code="filter_too_broad")
