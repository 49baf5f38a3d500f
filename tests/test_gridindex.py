"""The in-process grid index against brute force, on edges, vertices, holes and outside."""

import numpy as np
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
