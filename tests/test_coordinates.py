"""CRS handling: GCJ-02/BD-09 against an independent implementation, exact inverses,
metric distances against geodesics, and clear errors for impossible coordinates."""

import numpy as np
import prcoords
import pytest

from geo import chinacoords
from geo.crs import GEOD, CoordinateError, check_metric_area, from_storage, to_metric, to_storage
from geo.i18n import using

rng = np.random.default_rng(1)
LON = rng.uniform(74, 134, 2000)
LAT = rng.uniform(18, 53, 2000)

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def test_forward_transforms_match_prcoords():
    glon, glat = chinacoords.wgs84_to_gcj02(LON, LAT)
    blon, blat = chinacoords.gcj02_to_bd09(glon, glat)
    for i in range(0, 2000, 37):
        g = prcoords.wgs_gcj(prcoords.Coords(LAT[i], LON[i]), False)
        assert glat[i] == pytest.approx(g.lat, abs=1e-9)
        assert glon[i] == pytest.approx(g.lon, abs=1e-9)
        b = prcoords.gcj_bd(prcoords.Coords(glat[i], glon[i]))
        assert blat[i] == pytest.approx(b.lat, abs=1e-9)
        assert blon[i] == pytest.approx(b.lon, abs=1e-9)


def test_inverses_are_exact_round_trips():
    for crs in ("gcj02", "bd09"):
        shifted = from_storage(LON, LAT, crs)
        back_lon, back_lat = to_storage(*shifted, crs)
        assert np.max(np.abs(back_lon - LON)) < 1e-9
        assert np.max(np.abs(back_lat - LAT)) < 1e-9


def test_inverse_agrees_with_prcoords_iterative_inverse():
    glon, glat = chinacoords.wgs84_to_gcj02(LON[:50], LAT[:50])
    wlon, wlat = chinacoords.gcj02_to_wgs84(glon, glat)
    for i in range(50):
        ref = prcoords.gcj_wgs_bored(prcoords.Coords(glat[i], glon[i]))
        assert wlat[i] == pytest.approx(ref.lat, abs=1e-7)
        assert wlon[i] == pytest.approx(ref.lon, abs=1e-7)


def test_gcj02_shift_at_jilin_is_the_documented_few_hundred_metres():
    # The boundary files' README: at Jilin City GCJ-02 sits ~450 m east and ~250 m north.
    glon, glat = chinacoords.wgs84_to_gcj02(126.55, 43.84)
    az, _, dist = GEOD.inv(126.55, 43.84, float(glon), float(glat))
    east = dist * np.sin(np.radians(az))
    north = dist * np.cos(np.radians(az))
    assert 350 < east < 550 and 150 < north < 350


def test_outside_china_is_not_shifted():
    lon, lat = chinacoords.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    assert list(lon) == [2.35, -74.0] and list(lat) == [48.85, 40.7]


def test_wgs84_and_cgcs2000_pass_through():
    for crs in ("wgs84", "cgcs2000"):
        lon, lat = to_storage([126.5], [43.8], crs)
        assert (lon[0], lat[0]) == (126.5, 43.8)


def test_metric_distance_agrees_with_geodesic_within_a_thousandth():
    n = 3000
    lon1 = rng.uniform(126.2, 126.9, n)
    lat1 = rng.uniform(43.6, 44.1, n)
    lon2 = lon1 + rng.uniform(-0.3, 0.3, n)
    lat2 = lat1 + rng.uniform(-0.2, 0.2, n)
    x1, y1 = to_metric(lon1, lat1)
    x2, y2 = to_metric(lon2, lat2)
    planar = np.hypot(x2 - x1, y2 - y1)
    _, _, geodesic = GEOD.inv(lon1, lat1, lon2, lat2)
    assert np.max(np.abs(planar / geodesic - 1)) < 1e-3


@pytest.mark.parametrize("lon, lat, words", [
    (float("nan"), 43.8, "not a finite number"),
    (126.5, float("inf"), "not a finite number"),
    (126.5, 95.0, "outside lon -180..180, lat -90..90"),
    (200.0, 43.8, "outside lon -180..180, lat -90..90"),
])
def test_impossible_coordinates_are_rejected_with_the_value(lon, lat, words):
    with pytest.raises(CoordinateError, match=words):
        to_storage(lon, lat)


def test_unknown_crs_lists_the_known_ones():
    with pytest.raises(CoordinateError, match="wgs84, cgcs2000, gcj02, bd09"):
        to_storage(126.5, 43.8, "epsg3857")


def test_swapped_lat_lon_is_caught_by_the_metric_area():
    with pytest.raises(CoordinateError, match="swapped"):
        check_metric_area(43.84, 126.55 - 90)  # a lat/lon swap that is still a valid lon/lat
