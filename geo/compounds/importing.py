"""Compounds and buildings of a real city from files (GeoJSON, GeoPackage, anything pyogrio
reads), checked whole before anything is written: an import stores every row or none.

A compounds file has `code` (community code + 'XQ' + 3 digits), `name`, `households` and
optionally `community_code`, `property_company_id`, `built_year`; a buildings file `code`
(compound code + '-' + 2 digits), `name`, `households` and optionally `compound_code`,
`floors`. `griddispatch export compounds|buildings` writes files this reads back. A
GeoPackage with several layers is read at the layer named `compounds` (or `buildings`).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.compounds.writing import write
from geo.crs import STORAGE_EPSG
from geo.gridindex import GridIndex
from geo.i18n import _

COMPOUND_CODE = re.compile(r"^[0-9]{12}XQ[0-9]{3}$")
BUILDING_CODE = re.compile(r"^[0-9]{12}XQ[0-9]{3}-[0-9]{2}$")
EDGE_TOLERANCE_DEG = 1e-6  # about 0.1 m: a polygon drawn along its parent's edge is inside it
OVERLAP_M2_DEG = 1e-12  # two polygons sharing more area than this (about 0.01 m²) overlap


class CompoundFileError(ValueError):
    """A compound or building file that cannot be stored, naming the row and what is wrong."""


def _fail(path: Path, row: int | None, code, problem: str):
    if row is None:
        raise CompoundFileError(_("{path}: {problem}").format(path=path, problem=problem))
    raise CompoundFileError(_("{path}: row {row} (code {code}): {problem}").format(
        path=path, row=row, code=code, problem=problem))


def read_layer_file(path: str | Path, layer: str) -> gpd.GeoDataFrame:
    """The features of a file in the storage CRS, with `row` numbering them from 1."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    path = Path(path)
    if not path.is_file():
        raise CompoundFileError(_("{path}: no such file").format(path=path))
    try:
        layers = pyogrio.list_layers(path)[:, 0].tolist()
        frame = gpd.read_file(path, layer=layer if layer in layers else layers[0],
                              engine="pyogrio")
    except (DataSourceError, DataLayerError, shapely.errors.GEOSException) as exc:
        raise CompoundFileError(_("{path}: not a readable polygon file ({problem})").format(
            path=path, problem=str(exc).strip())) from None
    if frame.crs is None:
        _fail(path, None, None, _("the file declares no coordinate reference system"))
    frame = frame.to_crs(STORAGE_EPSG)
    frame["row"] = np.arange(1, len(frame) + 1)
    return frame


def _required(path: Path, frame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        _fail(path, None, None, _("missing columns {columns}").format(columns=", ".join(missing)))


def _whole_numbers(path: Path, frame, column: str, required: bool, low: int = 0) -> pd.Series:
    if column not in frame:
        return pd.Series([None] * len(frame), dtype=object)
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (values.notna() & ((values % 1 != 0) | (values < low))) | (
        values.isna() & (frame[column].notna() | required))
    if bad.any():
        k = int(np.argmax(bad.to_numpy()))
        _fail(path, frame.row.iloc[k], frame.code.iloc[k],
              _("{column} must be a whole number of at least {low}, not {value}").format(
                  column=column, low=low, value=frame[column].iloc[k]))
    return values.astype(object).where(values.notna(), None).map(
        lambda v: None if v is None else int(v))


def _polygons(path: Path, frame, pattern: re.Pattern, example: str) -> None:
    """Codes well formed and unique, names given, every geometry a valid polygon."""
    for row, code, name, geom in zip(frame.row, frame.code, frame.name, frame.geometry,
                                     strict=True):
        if not isinstance(code, str) or not pattern.match(code):
            _fail(path, row, code, _("the code is not of the form {example}").format(
                example=example))
        if not isinstance(name, str) or not name.strip():
            _fail(path, row, code, _("the name is empty"))
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            _fail(path, row, code, _("the geometry is not a polygon"))
        if not geom.is_valid:
            _fail(path, row, code, _("the polygon is not valid ({reason})").format(
                reason=shapely.is_valid_reason(geom)))
    twice = frame.code.duplicated()
    if twice.any():
        k = int(np.argmax(twice.to_numpy()))
        _fail(path, frame.row.iloc[k], frame.code.iloc[k], _("the code is used twice"))


def _inside(path: Path, frame, parents: dict, parent_of: pd.Series, what: str) -> None:
    for row, code, geom, parent in zip(frame.row, frame.code, frame.geometry, parent_of,
                                       strict=True):
        outline = parents.get(parent)
        if outline is None:
            _fail(path, row, code, _("no {what} {parent} is known").format(what=what,
                                                                            parent=parent))
        if not shapely.covers(shapely.buffer(outline, EDGE_TOLERANCE_DEG), geom):
            _fail(path, row, code, _("the polygon reaches outside its {what} {parent}").format(
                what=what, parent=parent))


def _disjoint(path: Path, frame) -> None:
    geoms = frame.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = a < b
    a, b = a[pair], b[pair]
    shared = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    over = np.flatnonzero(shared > OVERLAP_M2_DEG)
    if len(over):
        i, j = a[over[0]], b[over[0]]
        _fail(path, frame.row.iloc[j], frame.code.iloc[j],
              _("the polygon overlaps that of {other} (row {row})").format(
                  other=frame.code.iloc[i], row=frame.row.iloc[i]))


def check_compounds(path: Path, frame, communities: dict, companies: set[str]
                    ) -> gpd.GeoDataFrame:
    """The compounds of a file, checked, in the columns of the compound table."""
    _required(path, frame, ("code", "name", "households"))
    _polygons(path, frame, COMPOUND_CODE, "220204001001XQ003")
    given = frame["community_code"] if "community_code" in frame else frame.code.str[:12]
    wrong = given.astype(str) != frame.code.str[:12]
    if wrong.any():
        k = int(np.argmax(wrong.to_numpy()))
        _fail(path, frame.row.iloc[k], frame.code.iloc[k],
              _("the code does not start with its community_code {community}").format(
                  community=given.iloc[k]))
    _inside(path, frame, communities, frame.code.str[:12], _("community"))
    company = (frame["property_company_id"].astype(object) if "property_company_id" in frame
               else pd.Series([None] * len(frame), dtype=object))
    company = company.where(company.notna() & (company.astype(str) != ""), None)
    for row, code, c in zip(frame.row, frame.code, company, strict=True):
        if c is not None and c not in companies:
            _fail(path, row, code, _("no property company {company} is known").format(company=c))
    out = gpd.GeoDataFrame({
        "code": frame.code, "name": frame.name.str.strip(), "community_code": frame.code.str[:12],
        "property_company_id": company,
        "households": _whole_numbers(path, frame, "households", True),
        "built_year": _whole_numbers(path, frame, "built_year", False, 1900)},
        geometry=frame.geometry.values, crs=STORAGE_EPSG)
    _disjoint(path, frame)
    return out


def check_buildings(path: Path, frame, compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The buildings of a file, checked against the compounds, in the building table's
    columns."""
    _required(path, frame, ("code", "name", "households"))
    _polygons(path, frame, BUILDING_CODE, "220204001001XQ003-07")
    if "compound_code" in frame:
        wrong = frame["compound_code"].astype(str) != frame.code.str[:17]
        if wrong.any():
            k = int(np.argmax(wrong.to_numpy()))
            _fail(path, frame.row.iloc[k], frame.code.iloc[k],
                  _("the code does not start with its compound_code {compound}").format(
                      compound=frame["compound_code"].iloc[k]))
    outlines = dict(zip(compounds.code, compounds.geometry, strict=True))
    _inside(path, frame, outlines, frame.code.str[:17], _("compound"))
    out = gpd.GeoDataFrame({
        "code": frame.code, "compound_code": frame.code.str[:17], "name": frame.name.str.strip(),
        "floors": _whole_numbers(path, frame, "floors", False, 1),
        "households": _whole_numbers(path, frame, "households", True)},
        geometry=frame.geometry.values, crs=STORAGE_EPSG)
    _disjoint(path, frame)
    return out


def _relocate_issues(tx, compounds: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> int:
    """Every stored issue's compound and building by the new polygons (the tie rule of
    geo.gridindex); returns how many changed."""
    d = tx.dialect
    held = tx.columns(f"SELECT i.id, {d.lon('i')} AS lon, {d.lat('i')} AS lat, i.compound_code, "
                      "i.building_code FROM issue i")
    if not held["id"]:
        return 0
    lon, lat = np.array(held["lon"], float), np.array(held["lat"], float)
    new = [GridIndex(f.code.to_numpy(dtype=object), f.geometry.to_numpy()).locate_codes(lon, lat)
           for f in (compounds, buildings)]
    changed = [{"id": i, "c": c, "b": b} for i, c, b, oc, ob in zip(
        held["id"], new[0], new[1], held["compound_code"], held["building_code"], strict=True)
        if (c, b) != (oc, ob)]
    if changed:
        tx.run_many("UPDATE issue SET compound_code = :c, building_code = :b WHERE id = :id",
                    changed)
    return len(changed)


def import_compounds(store, compounds_path: str | Path, buildings_path: str | Path | None = None,
                     replace: bool = False) -> dict[str, int]:
    """Store the compounds (and buildings) of files in one transaction, re-locating the
    stored issues into them; CompoundFileError names the first bad row and nothing is
    written. With `replace` they take the place of the compounds held (whose units and heads
    go with them), else the store must hold none."""
    compounds_path = Path(compounds_path)
    raw = read_layer_file(compounds_path, "compounds")
    communities = store.read_layer("communities")
    outlines = dict(zip(communities.code, communities.geometry, strict=True))
    with store.snapshot() as tx:
        companies = {r["id"] for r in tx.rows("SELECT id FROM property_company")}
    compounds = check_compounds(compounds_path, raw, outlines, companies)
    if buildings_path is not None:
        buildings_path = Path(buildings_path)
        buildings = check_buildings(buildings_path,
                                    read_layer_file(buildings_path, "buildings"), compounds)
    else:
        buildings = gpd.GeoDataFrame({"code": [], "compound_code": [], "name": [], "floors": [],
                                      "households": []}, geometry=[], crs=STORAGE_EPSG)
    empty = pd.DataFrame({c: [] for c in ("code", "building_code", "number", "households")})
    heads = pd.DataFrame({c: [] for c in ("level", "area_code", "name", "phone", "roster",
                                          "agency")})
    with store.tx() as tx:
        counts = write(tx, None, compounds, buildings, empty, heads, replace=replace)
        counts["issues_relocated"] = _relocate_issues(tx, compounds, buildings)
    return counts
