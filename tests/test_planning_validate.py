"""Boundary files and their validation report: one case per problem on the test city's grids,
the real third-party boundaries (舒兰市 is invalid as shipped), files in other CRSs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from geo.chinacoords import wgs84_to_gcj02
from geo.crs import from_metric, to_metric, to_storage
from geo.i18n import using
from geo.planning.importing import BoundaryFileError, read_boundaries
from geo.planning.validate import KINDS, validate
from tests.conftest import shared_data


@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def _metric(g):
    return shapely.transform(g, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


def _lonlat(g):
    return shapely.transform(g, lambda c: np.column_stack(from_metric(c[:, 0], c[:, 1])))


@pytest.fixture(scope="module")
def community(city):
    """The grids of one community of the test city, and the community's outline."""
    code = city.grids.community_code.value_counts().index[0]
    grids = city.grids[city.grids.community_code == code].sort_values("code")
    outline = city.communities.set_index("code").geometry[code]
    return code, list(grids.code), list(grids.geometry.values), outline


def _kinds(problems):
    return sorted({p.kind for p in problems})


def test_the_test_city_community_is_clean(community):
    code, codes, geoms, outline = community
    assert len(codes) >= 3
    assert validate(codes, geoms, outline, code) == []


def test_overlap_is_located_with_its_area(community):
    code, codes, geoms, outline = community
    a, b = _metric(geoms[0]), _metric(geoms[1])
    if not a.touches(b):
        b = next(_metric(g) for g in geoms[2:] if _metric(g).touches(a))
    grown = _lonlat(a.buffer(15.0, join_style="mitre").intersection(_metric(outline)))
    problems = validate([codes[0], *codes[1:]], [grown, *geoms[1:]], outline, code)
    overlaps = [p for p in problems if p.kind == "overlap"]
    assert overlaps and all(codes[0] in p.codes for p in overlaps)
    expected = sum(_metric(grown).intersection(_metric(g)).area for g in geoms[1:])
    # (overlay in lon/lat, areas in metres: they agree to well under 0.1%)
    assert sum(p.area_m2 for p in overlaps) == pytest.approx(expected, rel=1e-3)
    for p in overlaps:
        assert _metric(p.location).area == pytest.approx(p.area_m2, rel=1e-6)
    assert "overlap" in overlaps[0].message and "m²" in overlaps[0].message


def test_gap_outside_and_sliver(community):
    code, codes, geoms, outline = community
    shrunk = _lonlat(_metric(geoms[0]).buffer(-8.0))
    problems = validate(codes, [shrunk, *geoms[1:]], outline, code)
    gaps = [p for p in problems if p.kind == "gap"]
    assert _kinds(problems) == ["gap"]
    assert sum(p.area_m2 for p in gaps) == pytest.approx(
        _metric(geoms[0]).area - _metric(shrunk).area, rel=1e-3)
    assert all(_metric(p.location).intersects(_metric(geoms[0])) for p in gaps)
    moved = shapely.affinity.translate(geoms[0], xoff=0.002)
    problems = validate(codes, [moved, *geoms[1:]], outline, code)
    assert {"overlap", "gap"} <= set(_kinds(problems))  # and outside, at the area's edge
    tiny = _lonlat(shapely.box(*_metric(geoms[0]).centroid.buffer(5).bounds))
    problems = validate([*codes, code + "999"], [*geoms, tiny], outline, code)
    sliver = [p for p in problems if p.kind == "sliver"]
    assert sliver and sliver[0].codes == (code + "999",) and sliver[0].area_m2 == pytest.approx(100, 1)


def test_codes_and_contiguity(community):
    code, codes, geoms, outline = community
    problems = validate([codes[0], codes[0], "12345", "220299001001001", *codes[4:]],
                        geoms, outline, code)
    assert [p.codes for p in problems if p.kind == "duplicate_code"] == [(codes[0],)]
    malformed = {p.codes[0] for p in problems if p.kind == "malformed_code"}
    assert malformed == {"12345", "220299001001001"}
    far = _lonlat(_metric(geoms[0]).centroid.buffer(30).envelope)
    far = shapely.affinity.translate(far, xoff=0.05)
    split = shapely.MultiPolygon([*geoms[0].geoms, far])
    problems = validate(codes, [split, *geoms[1:]], outline, code)
    assert "non_contiguous" in _kinds(problems) and "outside_parent" in _kinds(problems)


def test_invalid_shapes_are_reported_not_repaired(community):
    code, codes, geoms, outline = community
    x0, y0, x1, y1 = geoms[0].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    with np.errstate(invalid="ignore"):
        nan = shapely.Polygon([(x0, y0), (x1, float("nan")), (x1, y1), (x0, y0)])
    three_d = shapely.force_3d(geoms[2], 5.0)
    dense = shapely.segmentize(geoms[3], 0.000002)
    assert shapely.get_num_coordinates(dense) > 10_000
    problems = validate(codes[:5], [bowtie, nan, three_d, dense, shapely.Polygon()], outline, code)
    by_code = {p.codes[0]: p for p in problems if len(p.codes) == 1}
    assert by_code[codes[0]].kind == "invalid_geometry"
    assert "Self-intersection" in by_code[codes[0]].message
    assert by_code[codes[0]].location.distance(shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)) < 1e-6
    assert by_code[codes[1]].kind == "nan_coordinates"
    assert by_code[codes[2]].kind == "has_z"
    assert by_code[codes[3]].kind == "too_many_vertices"
    assert by_code[codes[4]].kind == "empty"
    assert set(_kinds(problems)) <= set(KINDS)


def test_unclosed_ring_in_a_geojson_file(tmp_path, community):
    code, codes, geoms, _ = community
    ring = [list(c) for c in geoms[0].geoms[0].exterior.coords][:-1]  # no closing position
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": codes[0]},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps(doc))
    # GEOS cannot build the ring at all: the file is refused, naming the grid and the ring
    with pytest.raises(BoundaryFileError, match=f"{codes[0]}: a ring ends at .* not where it began"):
        read_boundaries(path)


def test_real_boundaries_shulan_is_invalid_as_shipped():
    imported = read_boundaries(shared_data("boundaries", "jilin_city_all9_datav.geojson"),
                               code_field="adcode", shifted="gcj02")
    codes = [str(c) for c in imported.frame.adcode]
    problems = validate(codes, imported.frame.geometry.values, level="district")
    assert [(p.kind, p.codes) for p in problems] == [("invalid_geometry", ("220283",))]
    lon, lat = to_storage([126.70737], [44.530321], "gcj02")  # where the data's README says
    where = problems[0].location
    dx, dy = to_metric([where.x, lon[0]], [where.y, lat[0]])
    assert np.hypot(dx[0] - dx[1], dy[0] - dy[1]) < 1000


def test_real_districts_are_clean_inside_their_union():
    imported = read_boundaries(shared_data("boundaries", "jilin_city_4districts_hires.geojson"),
                               code_field="adcode", shifted="gcj02")
    geoms = imported.frame.geometry.values
    codes = [str(c) for c in imported.frame.adcode]
    assert validate(codes, geoms, shapely.union_all(geoms), level="district") == []


def test_files_in_other_crs_come_back_to_wgs84(tmp_path, community):
    import geopandas as gpd

    _, codes, geoms, _ = community
    frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
    frame.to_crs(4551).to_file(tmp_path / "grids.gpkg", driver="GPKG")
    frame.to_crs(4490).to_file(tmp_path / "grids.shp")
    shifted = frame.copy()
    shifted["geometry"] = shapely.transform(
        np.asarray(geoms, dtype=object),
        lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])))
    shifted.to_file(tmp_path / "gcj.geojson", driver="GeoJSON")
    for name, kwargs, tolerance_m in (("grids.gpkg", {}, 0.001), ("grids.shp", {}, 0.001),
                                      ("gcj.geojson", {"shifted": "gcj02"}, 0.01)):
        back = read_boundaries(tmp_path / name, **kwargs).frame
        assert back.crs.to_epsg() == 4326
        for g, original in zip(back.geometry, geoms, strict=True):
            # (a Shapefile turns one-part multipolygons into polygons and reverses rings)
            assert shapely.hausdorff_distance(_metric(g), _metric(original)) < tolerance_m, name
    with pytest.raises(BoundaryFileError, match="GCJ-02"):
        read_boundaries(tmp_path / "grids.gpkg", shifted="gcj02")
    with pytest.raises(BoundaryFileError, match="expected GeoJSON"):
        read_boundaries(tmp_path / "grids.csv")
