"""The validation report of a set of grid boundaries inside their parent area: every problem
with its kind, the grids concerned, a message a planner understands, its area in m² where it
has one, and where it is (a WGS84 geometry to draw).

Invalid input is reported, never repaired: a self-intersecting grid stays as drawn, and the
overlap and gap checks leave it out (their answers would be meaningless). Areas are measured
in EPSG:4551."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import shapely

from geo.codes import LENGTHS, CodeError, check, level_name
from geo.crs import METRES_PER_DEGREE, area_m2
from geo.i18n import _

MAX_VERTICES = 10_000  # a grid is a few blocks; more means a traced raster or an error
MIN_AREA_M2 = 2_000.0  # smaller than a courtyard: a sliver left by editing
TOLERANCE_M2 = 1.0  # overlaps and gaps below this are rounding of shared edges
KINDS = ("empty", "not_a_polygon", "nan_coordinates", "has_z", "unclosed_ring", "too_many_vertices",
         "invalid_geometry", "non_contiguous", "sliver", "malformed_code", "duplicate_code",
         "outside_parent", "overlap", "gap")
# Problems after which a geometry cannot be measured against others.
UNMEASURABLE = ("empty", "not_a_polygon", "nan_coordinates", "invalid_geometry")
_REASON_AT = re.compile(r"^(?P<reason>[^\[]+)\[(?P<x>-?[\d.eE+-]+) (?P<y>-?[\d.eE+-]+)\]")


@dataclass(frozen=True)
class Problem:
    kind: str
    codes: tuple[str, ...]
    message: str
    area_m2: float | None = None
    location: object = None  # a shapely geometry in WGS84, or None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "codes": list(self.codes), "message": self.message,
                "area_m2": None if self.area_m2 is None else round(self.area_m2, 1)}


def raw_ring_problems(code: str, geometry: dict) -> list[Problem]:
    """Problems only the raw GeoJSON shows (shapely closes rings when it builds them):
    rings whose last position is not their first."""
    polygons = {"Polygon": [geometry.get("coordinates")],
                "MultiPolygon": geometry.get("coordinates")}.get(geometry.get("type"), [])
    out = []
    for polygon in polygons if isinstance(polygons, list) else []:
        for ring in polygon if isinstance(polygon, list) else []:
            if (isinstance(ring, list) and len(ring) >= 2 and isinstance(ring[0], list)
                    and isinstance(ring[-1], list) and ring[0] != ring[-1]):
                out.append(Problem("unclosed_ring", (code,), _(
                    "{code}: a ring ends at {end}, not where it began ({start})").format(
                        code=code, end=ring[-1], start=ring[0]),
                    location=shapely.Point(ring[0][:2])))
    return out


def _shape_problems(code: str, geom, max_vertices: int, unit: str = "grid") -> list[Problem]:
    """Problems of one geometry on its own; an empty list means it can be measured."""
    unit = level_name(unit)
    if geom is None or shapely.is_empty(geom):
        return [Problem("empty", (code,), _("{unit} {code} has no geometry").format(
            unit=unit, code=code))]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return [Problem("not_a_polygon", (code,), _("{unit} {code} is a {type}, not a "
                                                    "polygon").format(
                                                        unit=unit, code=code, type=geom.geom_type))]
    coords = shapely.get_coordinates(geom, include_z=True)
    if np.isnan(coords[:, :2]).any():
        return [Problem("nan_coordinates", (code,), _("{unit} {code} has coordinates that are "
                                                      "not numbers (NaN)").format(
                                                          unit=unit, code=code))]
    out = []
    if shapely.has_z(geom):
        out.append(Problem("has_z", (code,), _("{unit} {code} has heights (3D coordinates); "
                                               "grids are flat: drop the Z values").format(
                                                   unit=unit, code=code)))
    n = shapely.get_num_coordinates(geom)
    if n > max_vertices:
        out.append(Problem("too_many_vertices", (code,), _(
            "{unit} {code} has {n} vertices; at most {max} are accepted").format(
                unit=unit, code=code, n=f"{n:,}", max=f"{max_vertices:,}")))
    reason = shapely.is_valid_reason(geom)
    if reason != "Valid Geometry":
        match = _REASON_AT.match(reason)
        where = shapely.Point(float(match["x"]), float(match["y"])) if match else None
        text = match["reason"].strip() if match else reason
        out.append(Problem("invalid_geometry", (code,), _(
            "{unit} {code} is not a valid polygon: {why}").format(unit=unit, code=code, why=text),
            location=where))
    return out


def _code_problems(codes: list[str], parent_code: str | None, level: str,
                   unassigned=frozenset()) -> list[Problem]:
    out = []
    seen: dict[str, int] = {}
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
        if code in unassigned:
            continue
        try:
            check(code, level)
            if parent_code and not code.startswith(parent_code):
                raise CodeError(_("{level} code {code} does not start with its area's code "
                                  "{parent}").format(level=level_name(level), code=code,
                                                     parent=parent_code))
        except CodeError as exc:
            out.append(Problem("malformed_code", (code,), _(
                "{problem} (a {level} code is {n} digits)").format(
                    problem=exc, level=level_name(level), n=LENGTHS[level])))
    for code, n in seen.items():
        if n > 1:
            out.append(Problem("duplicate_code", (code,), _(
                "{level} code {code} is used by {n} features").format(
                    level=level_name(level), code=code, n=n)))
    return out


def _pieces(geom):
    return [g for g in getattr(geom, "geoms", [geom]) if not g.is_empty]


def validate(codes: list[str], geoms, parent=None, parent_code: str | None = None,
             min_area_m2: float = MIN_AREA_M2, max_vertices: int = MAX_VERTICES,
             tolerance_m2: float = TOLERANCE_M2, level: str = "grid",
             unassigned=frozenset()) -> list[Problem]:
    """Every problem of grids (`codes`, WGS84 `geoms`) inside `parent` (WGS84, optional).
    `level` names the units when they are not grids (a district file, say); `unassigned`
    are labels of new grids whose codes are given at publishing, exempt from code checks."""
    problems = _code_problems(list(codes), parent_code, level, unassigned)
    measurable = []
    for code, geom in zip(codes, geoms, strict=True):
        own = _shape_problems(code, geom, max_vertices, level)
        problems.extend(own)
        if any(p.kind in UNMEASURABLE for p in own):
            continue
        flat = shapely.force_2d(geom)
        area = area_m2(flat)
        parts = _pieces(flat)
        if len(parts) > 1:
            problems.append(Problem("non_contiguous", (code,), _(
                "{level} {code} is {n} separate pieces; a {level} must be one piece").format(
                    level=level_name(level), code=code, n=len(parts)), location=flat))
        if area < min_area_m2:
            problems.append(Problem("sliver", (code,), _(
                "{level} {code} covers {area} m², less than the {min} m² a {level} "
                "needs").format(level=level_name(level), code=code, area=f"{area:,.0f}",
                                min=f"{min_area_m2:,.0f}"), area, flat))
        measurable.append((code, flat))
    problems.extend(_overlaps(measurable, tolerance_m2))
    if parent is not None and not parent.is_empty:
        problems.extend(_against_parent(measurable, parent, parent_code, tolerance_m2))
    return problems


def _m2(geom) -> float:
    """Area in m². A sliver with no area in the stored lon/lat (a point cut into a straight
    edge, off the projected edge by centimetres) would gain some if projected, so areas that
    are tiny in lon/lat are scaled, not projected."""
    if geom.is_empty:
        return 0.0
    rough = geom.area * METRES_PER_DEGREE**2 * math.cos(math.radians(geom.centroid.y))
    return rough if rough < 100.0 else float(area_m2(geom))


def _overlaps(measurable, tolerance_m2: float) -> list[Problem]:
    """Overlaps between grids. Overlay happens in the stored lon/lat, where shared edges are
    exact (a point cut into an edge is not on the projected edge); areas are in metres."""
    if len(measurable) < 2:
        return []
    geoms = np.array([g for _, g in measurable], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    out = []
    for i, j in zip(left[keep], right[keep], strict=True):
        shared = shapely.intersection(geoms[i], geoms[j])
        area = _m2(shared)
        if area > tolerance_m2:
            a, b = measurable[i][0], measurable[j][0]
            out.append(Problem("overlap", (a, b), _("grids {a} and {b} overlap by {area} "
                                                    "m²").format(a=a, b=b, area=f"{area:,.0f}"),
                               area, shared))
    return out


def _against_parent(measurable, parent, parent_code, tolerance_m2) -> list[Problem]:
    out = []
    name = parent_code or _("the area")
    shapely.prepare(parent)
    geoms = np.array([g for _, g in measurable], dtype=object)
    within = shapely.covers(parent, geoms) if len(geoms) else np.zeros(0, bool)
    for (code, geom), inside in zip(measurable, within, strict=True):
        if inside:
            continue
        outside = shapely.difference(geom, parent)
        area = _m2(outside)
        if area > tolerance_m2:
            out.append(Problem("outside_parent", (code,), _(
                "{area} m² of grid {code} lie outside {parent}").format(
                    area=f"{area:,.0f}", code=code, parent=name), area, outside))
    covered = shapely.union_all([g for _, g in measurable]) if measurable else shapely.Polygon()
    for hole in _pieces(shapely.difference(parent, covered)):
        area = _m2(hole)
        if area > tolerance_m2:
            centre = hole.representative_point()
            out.append(Problem("gap", (), _(
                "{area} m² of {parent} near ({x}, {y}) belong to no grid").format(
                    area=f"{area:,.0f}", parent=name, x=f"{centre.x:.5f}", y=f"{centre.y:.5f}"),
                area, hole))
    return out
