"""The in-process grid index against brute force, on edges, vertices, holes and outside."""

import numpy as np
import pytest
import shapely

from geo.gridindex import GridIndex


def brute_force(codes, geoms, lon, lat):
    """Smallest code among the polygons that cover each point, by shapely one by one."""
    out = []
    for x, y in zip(lon, lat, strict=True):
        p = shapely.Point(x, y)
        hits = [c for c, g in zip(codes, geoms, strict=True) if g.covers(p)]
        out.append(min(hits) if hits else None)
    return np.array(out, dtype=object)


def test_random_points_match_brute_force(city):
    grids = city.grids
    index = GridIndex(grids.code.to_numpy(), grids.geometry.to_numpy())
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = grids.total_bounds
    lon = rng.uniform(minx - 0.01, maxx + 0.01, 3000)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, 3000)
    got = index.locate_codes(lon, lat)
    want = brute_force(grids.code.to_numpy(), grids.geometry.to_numpy(), lon, lat)
    assert (got == want).all()
    assert (got == None).any() and (got != None).any()  # noqa: E711 - both cases exercised


def test_shared_vertices_go_to_the_smallest_covering_code(city):
    grids = city.grids.iloc[:150]
    codes, geoms = grids.code.to_numpy(), grids.geometry.to_numpy()
    index = GridIndex(codes, geoms)
    xy = np.unique(shapely.get_coordinates(geoms), axis=0)
    got = index.locate_codes(xy[:, 0], xy[:, 1])
    want = brute_force(codes, geoms, xy[:, 0], xy[:, 1])
    assert (got == want).all()
    assert (got != None).all()  # noqa: E711 - every vertex belongs to some grid


def test_axis_aligned_shared_edge_and_corner():
    left = shapely.box(0, 0, 1, 1)
    right = shapely.box(1, 0, 2, 1)
    index = GridIndex(["B", "A"], [left, right])
    got = index.locate_codes([1.0, 1.0, 0.5, 1.5, 0.0, 2.0001], [0.5, 1.0, 0.5, 0.5, 0.0, 0.5])
    # on the shared edge and corner: "A" (smaller code) wins; inside: the owner; outer corner
    # of B belongs to B only; beyond the right edge: outside.
    assert list(got) == ["A", "A", "B", "A", "B", None]


def test_holes_and_multipolygon_parts():
    ring = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    island = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(12, 10, 13, 11)])
    index = GridIndex(["R", "I"], [ring, island])
    got = index.locate_codes([0.5, 2.0, 10.5, 12.5, 11.5], [0.5, 2.0, 10.5, 10.5, 10.5])
    assert list(got) == ["R", None, "I", "I", None]


def test_empty_index_locates_nothing():
    index = GridIndex([], [])
    assert list(index.locate_codes([1.0], [2.0])) == [None]


def near_boundaries(geoms, rng, n):
    """Points on, and a hair (1e-12 to 1e-6 degrees) either side of, the polygons' edges and
    vertices: where a lookup raster could go wrong."""
    coords = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(geoms)))
    pick = rng.integers(0, len(coords) - 1, n)
    t = rng.choice([0.0, 0.5, rng.uniform()], n)
    on = coords[pick] + (coords[pick + 1] - coords[pick]) * t[:, None]
    hair = rng.choice([0.0, 1e-12, 1e-9, 1e-6], (n, 1)) * rng.choice([-1, 1], (n, 2))
    return on + hair


def test_points_on_and_a_hair_off_the_edges_match_brute_force(city):
    grids = city.grids.iloc[:300]
    codes, geoms = grids.code.to_numpy(), grids.geometry.to_numpy()
    xy = near_boundaries(geoms, np.random.default_rng(11), 4000)
    got = GridIndex(codes, geoms).locate_codes(xy[:, 0], xy[:, 1])
    assert (got == brute_force(codes, geoms, xy[:, 0], xy[:, 1])).all()


def test_real_boundaries_with_many_vertices_match_brute_force():
    """Real, crooked, high-resolution outlines (GCJ-02 districts), their box cut to pieces
    so that each district is several polygons sharing long crooked edges."""
    import pyogrio

    from tests.conftest import shared_data

    frame = pyogrio.read_dataframe(shared_data("boundaries",
                                               "jilin_city_4districts_hires.geojson"))
    districts = shapely.make_valid(frame.geometry.to_numpy())
    x0, y0, x1, y1 = shapely.total_bounds(districts)
    boxes = [shapely.box(x0 + (x1 - x0) * i / 3, y0 + (y1 - y0) * j / 3,
                         x0 + (x1 - x0) * (i + 1) / 3, y0 + (y1 - y0) * (j + 1) / 3)
             for i in range(3) for j in range(3)]
    pieces = [shapely.intersection(d, b) for d in districts for b in boxes]
    geoms = np.array([p for p in pieces if not p.is_empty], dtype=object)
    codes = np.array([f"P{i:03d}" for i in range(len(geoms))], dtype=object)
    rng = np.random.default_rng(5)
    xy = np.vstack([near_boundaries(geoms, rng, 1500),
                    np.column_stack([rng.uniform(x0, x1, 1500), rng.uniform(y0, y1, 1500)])])
    got = GridIndex(codes, geoms).locate_codes(xy[:, 0], xy[:, 1])
    assert (got == brute_force(codes, geoms, xy[:, 0], xy[:, 1])).all()
    assert (got == None).any() and len(set(got) - {None}) > 10  # noqa: E711


def test_overlapping_polygons_go_to_the_smallest_code_deep_inside_too():
    """Not a tiling (a draft may overlap): inside the small square, near its edge, the big
    one covers the point too, and the smaller code wins whichever polygon that is."""
    big, small = shapely.box(0, 0, 10, 10), shapely.box(4, 4, 5, 5)
    xs = np.array([4.001, 4.5, 4.999, 3.999, 0.0, 10.0])
    ys = np.array([4.5, 4.001, 4.999, 4.5, 0.0, 10.0001])
    assert list(GridIndex(["A", "B"], [big, small]).locate_codes(xs, ys)) == [
        "A", "A", "A", "A", "A", None]
    assert list(GridIndex(["B", "A"], [big, small]).locate_codes(xs, ys)) == [
        "A", "A", "A", "B", "B", None]


@pytest.mark.parametrize("engine", ["geos", "compiled"])
def test_same_answers_whatever_the_raster_pass_sizes_and_engine(city, monkeypatch, engine):
    """The raster and the engine only save work: one cell per polygon, passes of a few pairs,
    GEOS or the compiled kernel (which leaves the points on an edge to GEOS) give the same
    answers as the default."""
    import geo.gridindex as gridindex

    grids = city.grids
    codes, geoms = grids.code.to_numpy(), grids.geometry.to_numpy()
    rng = np.random.default_rng(9)
    minx, miny, maxx, maxy = grids.total_bounds
    xy = np.vstack([near_boundaries(geoms, rng, 3000),
                    np.column_stack([rng.uniform(minx, maxx, 3000),
                                     rng.uniform(miny, maxy, 3000)])])
    want = GridIndex(codes, geoms).locate_codes(xy[:, 0], xy[:, 1])
    monkeypatch.setattr(gridindex, "CELLS_PER_POLYGON", 1)
    monkeypatch.setattr(gridindex, "PAIRS_PER_PASS", 7)
    for threshold in ("COMPILED_FROM", "COMPILED_WARM_FROM"):
        monkeypatch.setattr(gridindex, threshold, 1 if engine == "compiled" else 10**9)
    coarse = GridIndex(codes, geoms)
    assert coarse._shape[0] * coarse._shape[1] <= 2 * len(codes)
    assert (coarse.locate_codes(xy[:, 0], xy[:, 1]) == want).all()


def test_most_points_of_a_tiling_are_answered_without_a_polygon_test(city):
    """What makes the index fast: cells no boundary touches carry their grid."""
    grids = city.grids
    index = GridIndex(grids.code.to_numpy(), grids.geometry.to_numpy())
    rng = np.random.default_rng(4)
    inside = shapely.points(rng.uniform(*grids.total_bounds[[0, 2]], 20000),
                            rng.uniform(*grids.total_bounds[[1, 3]], 20000))
    x, y = shapely.get_x(inside), shapely.get_y(inside)
    c, r = index._cell_xy(x, y)
    assert (index._label[r * index._shape[1] + c] >= -1).mean() > 0.7


def test_the_compiled_kernel_decides_off_the_edges_and_leaves_the_edges_to_geos(city):
    from geo.gridindex import compiled

    grids = city.grids.iloc[:300]
    index = GridIndex(grids.code.to_numpy(), grids.geometry.to_numpy())
    xy = near_boundaries(grids.geometry.to_numpy(), np.random.default_rng(12), 3000)
    x, y = xy[:, 0], xy[:, 1]
    c, r = index._cell_xy(x, y)
    label = index._label[r * index._shape[1] + c]
    tested = np.flatnonzero(label < -1)
    m = -2 - label[tested]
    found = compiled.covering(x, y, tested, index._lo[m], index._hi[m] - index._lo[m],
                              index._candidates, index._bounds, index._rank, *index._edges)
    unsure = found == compiled.UNSURE
    assert 0.05 < unsure.mean() < 0.6  # the points exactly on an edge, and only about those
    sure = tested[~unsure]
    want = brute_force(grids.code.to_numpy(), grids.geometry.to_numpy(), x[sure], y[sure])
    got = np.where(found[~unsure] >= 0, index.codes[np.maximum(found[~unsure], 0)], None)
    assert (got == want).all()
