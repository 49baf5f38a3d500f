"""Real district boundaries (GCJ-02, third-party): converted and located correctly."""

import numpy as np
import pyogrio
import pytest
import shapely

from geo.crs import to_metric, to_storage
from geo.gridindex import GridIndex
from tests.conftest import shared_data

# Geodesic areas the data's README gives, km².
AREAS = {"220202": 856, "220203": 1172, "220204": 684, "220211": 1060}


@pytest.fixture(scope="module")
def districts():
    frame = pyogrio.read_dataframe(shared_data("boundaries", "jilin_city_4districts_hires.geojson"))
    frame["code"] = frame["adcode"].astype(str)

    def to_wgs84(xy):
        lon, lat = to_storage(xy[:, 0], xy[:, 1], "gcj02")
        return np.column_stack([lon, lat])

    frame["geometry"] = shapely.transform(frame.geometry.to_numpy(), to_wgs84)
    return frame


def test_converted_areas_match_the_documented_areas(districts):
    for code, geom in zip(districts.code, districts.geometry, strict=True):
        metric = shapely.transform(geom, lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1])))
        assert metric.area / 1e6 == pytest.approx(AREAS[code], rel=0.01)


def test_locate_in_real_districts_including_gcj02_input(districts):
    index = GridIndex(districts.code.to_numpy(), districts.geometry.to_numpy())
    inner = shapely.point_on_surface(districts.geometry.to_numpy())
    lon, lat = shapely.get_x(inner), shapely.get_y(inner)
    assert list(index.locate_codes(lon, lat)) == list(districts.code)
    # The same places as a phone app would send them in GCJ-02.
    from geo.crs import from_storage

    glon, glat = from_storage(lon, lat, "gcj02")
    back = to_storage(glon, glat, "gcj02")
    assert list(index.locate_codes(*back)) == list(districts.code)
    assert list(index.locate_codes([125.0], [42.0])) == [None]
