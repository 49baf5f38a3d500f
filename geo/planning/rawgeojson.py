"""A GeoJSON boundary file checked as bytes, then as plain lists, before GDAL, GEOS or a
recursive parser sees it: nesting depth by an iterative scan, then every feature's shape down
to its numbers, so that a malformed file is refused with the feature and the problem named
instead of crashing a parser or being read as empty grids."""

from __future__ import annotations

import json
import math
import re
import time
from itertools import chain

import numpy as np

from geo.i18n import _

MAX_DEPTH = 32  # a MultiPolygon in a FeatureCollection needs 8; the rest is for properties
_STRINGS = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_BRACKETS = np.frombuffer(b"[{]}", dtype=np.uint8)
_SHOWN = 5  # problems quoted in one message


class RawFileError(ValueError):
    """A GeoJSON file refused before parsing (the message names the feature and problem)."""


class OverLimit(RawFileError):
    """A GeoJSON file over one of the import limits."""


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects, outside strings, found without recursion."""
    text = np.frombuffer(_STRINGS.sub(b'""', data), dtype=np.uint8)
    at = np.flatnonzero(np.isin(text, _BRACKETS))
    if not len(at):
        return 0
    steps = np.where(np.isin(text[at], _OPEN), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def load(data: bytes, filename: str) -> object:
    """The file as Python objects, refused when too deep to parse safely or not JSON."""
    depth = nesting_depth(data)
    if depth > MAX_DEPTH:
        raise RawFileError(_("{file} nests arrays and objects {depth} deep; a boundary file "
                             "needs 8 levels and at most {max} are accepted").format(
                                 file=filename, depth=f"{depth:,}", max=MAX_DEPTH))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RawFileError(_("{file} is not UTF-8 text (byte {offset}); GeoJSON files are "
                             "UTF-8").format(file=filename, offset=f"{exc.start:,}")) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RawFileError(_("{file} is not JSON: {problem}").format(
            file=filename, problem=exc)) from None


def _show(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_number(v) -> bool:
    """A JSON number that is finite as a float (not a bool, NaN, Infinity or a 400-digit int)."""
    if type(v) is float:
        return math.isfinite(v)
    return type(v) is int and abs(v) < 1e300  # compared exactly: no float overflow


def _position(p) -> bool:
    return isinstance(p, list) and len(p) in (2, 3) and all(finite_number(v) for v in p)


def _all_positions(ring: list) -> bool:
    """`_position` for every item, at C speed: a district file has a million numbers."""
    if set(map(type, ring)) - {list} or set(map(len, ring)) - {2, 3}:
        return False
    values = list(chain.from_iterable(ring))
    if set(map(type, values)) - {int, float}:  # exact types: a bool is not a coordinate
        return False
    try:
        return bool(np.isfinite(np.array(values, dtype=float)).all())
    except OverflowError:  # an integer too large for a float
        return False


def _ring_problem(ring, where: str) -> tuple[str | None, int]:
    """What is wrong with one ring (None when nothing) and its number of positions."""
    if not isinstance(ring, list):
        return _("{ring} is {value}, not a list of [lon, lat] positions").format(
            ring=where, value=_show(ring)), 0
    if not _all_positions(ring):
        k, p = next((k, p) for k, p in enumerate(ring) if not _position(p))
        return _("position {k} of {ring} is {value}; a position is [lon, lat] (or [lon, lat, "
                 "height]) of finite numbers").format(k=k + 1, ring=where, value=_show(p)), 0
    if len(ring) >= 2 and ring[0] != ring[-1]:
        return _("a ring ends at {end}, not where it began ({start})").format(
            end=ring[-1], start=ring[0]), 0
    return None, len(ring)


def _geometry_problem(geometry) -> tuple[str | None, int]:
    """What is wrong with a feature's geometry (None when nothing) and its vertex count."""
    if geometry is None:
        return None, 0  # no geometry: the draft reports the grid as empty
    if not isinstance(geometry, dict):
        return _("geometry must be a GeoJSON object or null, not {value}").format(
            value=_show(geometry)), 0
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        if kind is None:
            return _("geometry has no type; a grid is a Polygon or MultiPolygon"), 0
        return _("geometry is a {type}; a grid is a Polygon or MultiPolygon").format(
            type=_show(kind)), 0
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        return _("the coordinates of a {type} are lists of rings, not {value}").format(
            type=kind, value=_show(coords)), 0
    vertices = 0
    for i, polygon in enumerate(polygons):
        for j, ring in enumerate(polygon):
            where = (_("ring {j} of polygon {i}") if kind == "MultiPolygon"
                     else _("ring {j}")).format(i=i + 1, j=j + 1)
            problem, n = _ring_problem(ring, where)
            if problem:
                return problem, 0
            vertices += n
    return None, vertices


def _label(k: int, properties, code_field: str, name_field: str) -> str:
    """`feature #3, 电东社区第3网格, code 220204001001003`: the index, and name and code if any."""
    parts = [_("feature #{k}").format(k=k + 1)]
    if isinstance(properties, dict):
        name, code = properties.get(name_field), properties.get(code_field)
        if name not in (None, ""):
            parts.append(str(name)[:40])
        if code not in (None, ""):
            parts.append(_("code {code}").format(code=str(code)[:40]))
    return _(", ").join(parts)


def check(doc, filename: str, code_field: str, name_field: str, max_features: int,
          max_vertices: int, deadline: float, seconds: float) -> None:
    """Refuse a boundary file whose structure a parser could crash on or misread, or that is
    over the limits: features, vertices, and time spent (`deadline`, time.monotonic)."""
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise RawFileError(_("{file}: features must be a list of GeoJSON Features, not "
                                 "{value}").format(file=filename, value=_show(features)))
    else:
        message = (_("{file} holds a GeoJSON {value}; a boundary file is a GeoJSON "
                     "FeatureCollection of polygon features") if isinstance(doc, dict) else
                   _("{file} holds the JSON value {value}; a boundary file is a GeoJSON "
                     "FeatureCollection of polygon features"))
        raise RawFileError(message.format(file=filename, value=_show(
            doc.get("type") if isinstance(doc, dict) else doc)))
    if len(features) > max_features:
        raise OverLimit(_("{file} has {n} features; at most {max} grids are accepted in one "
                          "file").format(file=filename, n=f"{len(features):,}",
                                         max=f"{max_features:,}"))
    problems, vertices = [], 0
    for k, feature in enumerate(features):
        if k % 256 == 0 and time.monotonic() > deadline:
            raise OverLimit(_("{file}: checking took longer than the {seconds} s limit, at "
                              "feature #{k} of {n}").format(
                                  file=filename, seconds=f"{seconds:g}", k=k + 1,
                                  n=f"{len(features):,}"))
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(_("feature #{k} is {value}, not a GeoJSON Feature").format(
                k=k + 1, value=_show(feature)))
            continue
        properties = feature.get("properties")
        label = _label(k, properties, code_field, name_field)
        if properties is not None and not isinstance(properties, dict):
            problems.append(_("{feature}: properties must be an object or null, not "
                              "{value}").format(feature=label, value=_show(properties)))
            continue
        problem, n = _geometry_problem(feature.get("geometry"))
        if problem:
            problems.append(_("{feature}: {problem}").format(feature=label, problem=problem))
        vertices += n
    if problems:
        more = len(problems) - _SHOWN
        listed = _("; ").join(problems[:_SHOWN])
        raise RawFileError(_("{file}: {problems}; and {n} more features").format(
            file=filename, problems=listed, n=f"{more:,}") if more > 0 else
            _("{file}: {problems}").format(file=filename, problems=listed))
    if vertices > max_vertices:
        raise OverLimit(_("{file} has {n} vertices; at most {max} are accepted in one "
                          "file").format(file=filename, n=f"{vertices:,}",
                                         max=f"{max_vertices:,}"))
