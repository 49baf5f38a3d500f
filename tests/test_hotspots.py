"""Hotspot analytics on planted data: known clusters among noise, a planted displacement, pure
noise, and each statistic against an independent implementation (esda, pymannkendall, brute
force)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from fixtures.jilin import CENTRE_LONLAT
from geo.crs import from_metric, to_metric
from geo.hotspots import analysis
from geo.hotspots.bins import assign, auto_resolution, counts, grid_bins, hex_bins, pearson
from geo.hotspots.clusters import auto_min_reports, dbscan
from geo.hotspots.density import kde
from geo.hotspots.displacement import displacements
from geo.hotspots.emerging import Cube, classify, slice_edges
from geo.hotspots.gistar import confidence_bins, fdr_cutoff, gi_star
from geo.hotspots.repeats import previous_report, spots
from geo.hotspots.reports import Reports, study_outline
from geo.hotspots.trend import mann_kendall

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import esda
    import libpysal
    import pymannkendall

DAY = 86400.0
YEAR_START = 1_764_000_000.0  # 2025-11-24
ORIGIN = tuple(float(v[0]) for v in to_metric([CENTRE_LONLAT[0]], [CENTRE_LONLAT[1]]))
SIDE = 6000.0  # a 6 km square study area


def _reports(x, y, t, category=None, closed=None) -> Reports:
    lon, lat = from_metric(np.asarray(x), np.asarray(y))
    cat = np.full(len(lon), "L01", dtype=object) if category is None else category
    return Reports.from_arrays(lon, lat, t, cat, closed)


def _noise(rng, n, side=SIDE):
    return (ORIGIN[0] + rng.uniform(0, side, n), ORIGIN[1] + rng.uniform(0, side, n),
            YEAR_START + rng.uniform(0, 365 * DAY, n))


def _square_outline(side=SIDE):
    corners = np.array([[0, 0], [side, 0], [side, side], [0, side]]) + ORIGIN
    lon, lat = from_metric(corners[:, 0], corners[:, 1])
    return shapely.Polygon(np.column_stack([lon, lat]))


# --- clusters ---------------------------------------------------------------------------

def _planted(seed, sizes, sigma=20.0, noise=20_000):
    rng = np.random.default_rng(seed)
    xs, ys, ts = _noise(rng, noise)
    centres = ORIGIN + rng.uniform(500, SIDE - 500, (len(sizes), 2))
    truth = [np.full(noise, -1)]
    parts = [(xs, ys, ts)]
    for k, (centre, size) in enumerate(zip(centres, sizes, strict=True)):
        parts.append((centre[0] + rng.normal(0, sigma, size), centre[1] + rng.normal(0, sigma, size),
                      YEAR_START + rng.uniform(0, 365 * DAY, size)))
        truth.append(np.full(size, k))
    x, y, t = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return _reports(x, y, t), np.concatenate(truth), centres


def _match(reports, labels, truth, centres):
    """Planted clusters recovered: one found cluster holds at least 80% of the planted reports
    and its centre lies within 2σ (40 m) of the planted centre. Noise reports inside a
    cluster's footprint are indistinguishable from the cluster's own and are not held
    against it."""
    recovered, true_found = 0, set()
    for k, centre in enumerate(centres):
        mine = labels[truth == k]
        top = np.bincount(mine[mine >= 0]).argmax() if (mine >= 0).any() else -1
        if top < 0 or (mine == top).mean() < 0.8:
            continue
        members = labels == top
        if np.hypot(reports.x[members].mean() - centre[0],
                    reports.y[members].mean() - centre[1]) <= 40:
            recovered += 1
            true_found.add(int(top))
    return recovered, true_found


def test_planted_clusters_are_recovered_among_noise():
    """Ten clusters of 30-200 reports (σ 20 m) among 20,000 even reports over 36 km², five
    random layouts: recall and precision both 1.0 (50/50 recovered, no cluster of noise)."""
    sizes = [30, 40, 50, 60, 80, 100, 120, 150, 180, 200]
    planted = found_total = recovered_total = true_total = 0
    for seed in range(5):
        reports, truth, centres = _planted(seed, sizes)
        min_reports = auto_min_reports(reports.x, reports.y, 50.0)
        labels = dbscan(reports, 50.0, min_reports)
        recovered, true_found = _match(reports, labels, truth, centres)
        planted += len(sizes)
        found_total += labels.max() + 1
        recovered_total += recovered
        true_total += len(true_found)
    recall, precision = recovered_total / planted, true_total / found_total
    assert recall == 1.0, recall
    assert precision == 1.0, precision


def test_cluster_layer_describes_each_cluster():
    reports, truth, centres = _planted(11, [200, 60], noise=5000)
    layer = analysis.clusters(reports, analysis.Params(eps_m=50.0))
    assert [p["reports"] for p in layer.props][:2] == sorted([p["reports"] for p in layer.props][:2],
                                                              reverse=True)
    biggest = layer.props[0]
    assert abs(biggest["reports"] - 200) <= 10
    assert biggest["dominant_category"] == "L01" and biggest["dominant_share"] == 1.0
    centre = np.array(to_metric([biggest["centre"][0]], [biggest["centre"][1]])).ravel()
    assert np.hypot(*(centre - centres[0])) < 10
    outline = layer.geoms[0]
    inside = shapely.contains_xy(outline, reports.lon[truth == 0], reports.lat[truth == 0])
    assert inside.mean() > 0.95
    assert biggest["first_reported"] < biggest["last_reported"]
    assert layer.meta["min_reports_chosen"] and layer.meta["min_reports"] >= 5


def test_no_clusters_in_noise_with_chosen_min_reports():
    rng = np.random.default_rng(3)
    reports = _reports(*_noise(rng, 30_000))
    labels = dbscan(reports, 50.0, auto_min_reports(reports.x, reports.y, 50.0))
    assert (labels >= 0).sum() == 0


# --- density ----------------------------------------------------------------------------

def test_binned_kde_matches_the_exact_sum():
    rng = np.random.default_rng(5)
    x = ORIGIN[0] + np.concatenate([rng.normal(1000, 80, 1500), rng.uniform(0, 3000, 500)])
    y = ORIGIN[1] + np.concatenate([rng.normal(1500, 80, 1500), rng.uniform(0, 3000, 500)])
    h = 60.0
    surface = kde(x, y, h)
    px, py = surface.centres()
    dense = np.flatnonzero(surface.values.ravel() > 0.05 * surface.values.max())
    pick = rng.choice(dense, min(400, dense.size), replace=False)
    px, py = px[pick], py[pick]
    d2 = (px[:, None] - x[None, :]) ** 2 + (py[:, None] - y[None, :]) ** 2
    exact = np.exp(-d2 / (2 * h * h)).sum(axis=1) / (2 * np.pi * h * h) * 1e6
    got = surface.at(px, py)
    strong = exact > 0.1 * exact.max()
    assert strong.sum() > 100
    assert np.max(np.abs(got[strong] - exact[strong]) / exact[strong]) < 0.05
    # Mass: the surface integrates to the number of reports (less the tails beyond the
    # lattice's margin of three bandwidths).
    assert abs(surface.values.sum() * surface.cell**2 / 1e6 - len(x)) < 1e-4 * len(x)


# --- Gi*, FDR, noise --------------------------------------------------------------------

def test_gi_star_equals_esda():
    w = libpysal.weights.lat2W(15, 15, rook=False)
    rng = np.random.default_rng(2)
    y = rng.poisson(4, 225).astype(float)
    y[100:104] += 12
    expected = esda.G_Local(y, w, transform="B", star=True, permutations=0).Zs
    ours = gi_star(w.sparse.tocsr() + sp.identity(225, format="csr"), y)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_fdr_cutoff_selects_what_esda_fdr_selects():
    rng = np.random.default_rng(4)
    for _ in range(20):
        p = rng.uniform(size=800) ** rng.uniform(1, 6)
        for alpha in (0.1, 0.05, 0.01):
            assert np.array_equal(p <= fdr_cutoff(p, alpha), p <= esda.fdr(p, alpha))


def test_grid_neighbours_equal_libpysal_queen(city):
    bins = grid_bins(city.grids)
    queen = libpysal.weights.Queen.from_dataframe(city.grids, use_index=False, silence_warnings=True)
    ours = (bins.neighbours - sp.identity(len(bins), format="csr")).toarray() > 0
    assert np.array_equal(ours, queen.sparse.toarray() > 0)


def _noise_run(bins, outline, n, seed):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = outline.bounds
    lon, lat = rng.uniform(minx, maxx, n * 4), rng.uniform(miny, maxy, n * 4)
    inside = shapely.contains_xy(outline, lon, lat)
    reports = Reports.from_arrays(lon[inside][:n], lat[inside][:n], np.zeros(n), np.full(n, "L01"))
    where = assign(bins, reports)
    z = gi_star(bins.neighbours, pearson(counts(bins, where), bins.area_m2)[:, 0])
    return confidence_bins(z), confidence_bins(z, correct=False)


def test_noise_yields_no_hotspot_at_95_after_correction():
    """Even noise over hexagons: with the FDR correction no 95% hot spot in the reference run,
    and at most about 5% of runs with any (the rate the correction promises; 3 of 60 here);
    without it, every run has some."""
    outline = _square_outline()
    bins = hex_bins(outline, auto_resolution(outline, 20_000))
    corrected, raw = _noise_run(bins, outline, 20_000, seed=0)
    assert (corrected >= 2).sum() == 0 and (raw >= 2).sum() > 0
    runs = [_noise_run(bins, outline, 20_000, seed) for seed in range(1, 61)]
    with_hot = sum(int((c >= 2).any()) for c, _ in runs)
    assert with_hot <= 6, with_hot
    assert all((r >= 2).any() for _, r in runs)


def test_planted_hotspot_is_hot_at_99(city):
    bins = grid_bins(city.grids)
    outline = study_outline(city.grids)
    rng = np.random.default_rng(8)
    minx, miny, maxx, maxy = outline.bounds
    lon, lat = rng.uniform(minx, maxx, 40_000), rng.uniform(miny, maxy, 40_000)
    keep = shapely.contains_xy(outline, lon, lat)
    lon, lat = lon[keep][:8000], lat[keep][:8000]
    target = 123
    c = shapely.centroid(bins.geoms[target])
    cx, cy = to_metric([c.x], [c.y])
    px, py = from_metric(cx[0] + rng.normal(0, 40, 300), cy[0] + rng.normal(0, 40, 300))
    reports = Reports.from_arrays(np.r_[lon, px], np.r_[lat, py], np.zeros(8300),
                                  np.full(8300, "L01"))
    tree = shapely.STRtree(bins.geoms)
    pi, gi = tree.query(shapely.points(reports.lon, reports.lat), predicate="within")
    grid = np.full(len(reports), None, dtype=object)
    grid[pi] = bins.ids[gi]
    reports = Reports.from_arrays(reports.lon, reports.lat, reports.reported, reports.category,
                                  grid=grid)
    layer = analysis.gistar(reports, bins)
    by_bin = {p["bin"]: p for p in layer.props}
    assert by_bin[bins.ids[target]]["gi_bin"] == 3
    assert all(p["gi_bin"] <= 0 for p in layer.props
               if not bins.neighbours[target, list(bins.ids).index(p["bin"])])


# --- trend and emerging patterns --------------------------------------------------------

def test_mann_kendall_equals_pymannkendall():
    rng = np.random.default_rng(6)
    series = np.vstack([rng.integers(0, 4, 14).astype(float) for _ in range(30)]
                       + [np.arange(14.0) + rng.normal(0, 2, 14) for _ in range(10)])
    s, z, p = mann_kendall(series)
    for k, row in enumerate(series):
        ref = pymannkendall.original_test(row)
        assert s[k] == ref.s
        assert z[k] == pytest.approx(ref.z, abs=1e-9)
        assert p[k] == pytest.approx(ref.p, abs=1e-9)


def _cube_of(gbin_rows, z_rows):
    gbin = np.array(gbin_rows, dtype=np.int8)
    return Cube(None, np.arange(gbin.shape[1] + 1, dtype=float), np.zeros(gbin.shape),
                np.array(z_rows, float), gbin)


def test_emerging_patterns_follow_the_arcgis_definitions():
    t = 12
    rng = np.random.default_rng(1)
    flat = 3 + rng.normal(0, 0.05, t)
    rows = {
        "": ([0] * t, np.zeros(t)),
        "new hot spot": ([0] * 11 + [2], np.zeros(t)),
        "consecutive hot spot": ([0] * 9 + [1, 2, 3], np.zeros(t)),
        "intensifying hot spot": ([2] * t, np.linspace(2, 6, t)),
        "persistent hot spot": ([2] * t, flat),
        "diminishing hot spot": ([2] * t, np.linspace(6, 2, t)),
        "sporadic hot spot": ([0, 2, 0, 0, 2, 0, 0, 0, 1, 0, 0, 2], np.zeros(t)),
        "oscillating hot spot": ([0, -2, 0, 0, 2, 0, 0, -1, 0, 0, 0, 2], np.zeros(t)),
        "historical hot spot": ([2] * 11 + [0], flat),
        "new cold spot": ([0] * 11 + [-3], np.zeros(t)),
        "intensifying cold spot": ([-2] * t, np.linspace(-2, -6, t)),
        "persistent cold spot": ([-2] * t, -flat),
    }
    names, _ = classify(_cube_of([r[0] for r in rows.values()], [r[1] for r in rows.values()]))
    assert list(names) == list(rows)


# --- displacement -----------------------------------------------------------------------

def _displacement_city(seed, gap_m=1200.0, move=True):
    """Noise over the square all year; spot A busy until mid-year; then spot B, gap_m away."""
    rng = np.random.default_rng(seed)
    x, y, t = _noise(rng, 12_000)
    a = np.array(ORIGIN) + [2000, 3000]
    b = a + [gap_m, 0]
    half = YEAR_START + 182 * DAY
    parts = [(x, y, t),
             (a[0] + rng.normal(0, 40, 900), a[1] + rng.normal(0, 40, 900),
              rng.uniform(YEAR_START, half, 900))]
    if move:
        parts.append((b[0] + rng.normal(0, 40, 900), b[1] + rng.normal(0, 40, 900),
                      rng.uniform(half, YEAR_START + 365 * DAY, 900)))
    xs, ys, ts = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return _reports(xs, ys, ts), a, b, half


def _moves(reports, max_distance_m=3000.0):
    edges = slice_edges(YEAR_START, YEAR_START + 365 * DAY, "month")
    return displacements(reports, edges, 50.0, max_distance_m)[0], edges


def test_planted_displacement_is_detected():
    reports, a, b, half = _displacement_city(21)
    moves, edges = _moves(reports)
    assert len(moves) == 1
    m = moves[0]
    assert np.hypot(m.source.x - a[0], m.source.y - a[1]) < 20
    assert np.hypot(m.target.x - b[0], m.target.y - b[1]) < 20
    assert abs(m.distance_m - 1200) < 30
    # A's last slice holds the move; B shows from that slice or the next
    assert edges[m.source.last] <= half <= edges[m.source.last + 1]
    assert m.target.first in (m.source.last, m.source.last + 1)
    # (the slices start a month in: eleven whole months fit in the year)
    assert m.source.reports >= 700 and m.target.reports >= 850


def test_no_displacement_without_a_new_hotspot_or_beyond_the_distance():
    reports, *_ = _displacement_city(22, move=False)
    assert _moves(reports)[0] == []
    reports, *_ = _displacement_city(23, gap_m=3500.0)
    assert _moves(reports, max_distance_m=3000.0)[0] == []
    assert len(_moves(reports, max_distance_m=4000.0)[0]) == 1


# --- repeats ----------------------------------------------------------------------------

def test_repeats_equal_brute_force():
    rng = np.random.default_rng(9)
    n = 3000
    x = ORIGIN[0] + rng.uniform(0, 800, n)
    y = ORIGIN[1] + rng.uniform(0, 800, n)
    t = YEAR_START + np.sort(rng.uniform(0, 120 * DAY, n))
    closed = np.where(rng.random(n) < 0.8, t + rng.uniform(0.1, 5, n) * DAY, np.nan)
    cat = rng.choice(["L01", "L04"], n).astype(object)
    reports = _reports(x, y, t, cat, closed)
    radius, days = 25.0, 10.0
    got = previous_report(reports, radius, days)
    expected = np.full(n, -1)
    for i in range(n):
        d = np.hypot(reports.x - reports.x[i], reports.y - reports.y[i])
        ok = ((d <= radius) & (cat == cat[i]) & (closed < t[i]) & (closed > t[i] - days * DAY))
        if ok.any():
            cand = np.flatnonzero(ok)
            expected[i] = cand[np.argmax(closed[cand])]
    assert (expected >= 0).sum() > 50
    assert np.array_equal(got, expected)
    found = spots(got)
    assert sum(s.repeats for s in found) == (got >= 0).sum()
    assert [s.repeats for s in found] == sorted((s.repeats for s in found), reverse=True)


def test_pruned_dbscan_labels_as_dbscan_on_every_snapped_position():
    """Leaving out the cells that can be neither core nor border changes no report's fate:
    the same reports are clustered, in the same groups, as scikit-learn's DBSCAN run on every
    distinct snapped position."""
    from sklearn.cluster import DBSCAN

    reports, _, _ = _planted(4, [40, 80, 150], noise=20_000)
    cell = 50.0 * 0.25
    kx, ky = np.floor(reports.x / cell).astype(np.int64), np.floor(reports.y / cell).astype(np.int64)
    keys, inverse, weight = np.unique(kx * 2**32 + ky, return_inverse=True, return_counts=True)
    centres = np.column_stack([keys >> 32, keys & (2**32 - 1)]).astype(float) * cell + cell / 2
    for min_reports in (6, 12, 25):
        ours = dbscan(reports, 50.0, min_reports)
        full = DBSCAN(eps=50.0, min_samples=min_reports).fit(centres, sample_weight=weight)
        theirs = full.labels_[inverse]
        assert np.array_equal(ours >= 0, theirs >= 0)
        pairs = {(a, b) for a, b in zip(ours[ours >= 0], theirs[theirs >= 0], strict=True)}
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
