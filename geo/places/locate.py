"""Locate one point for another system: the grid (and community, street, district) that is
responsible for it now or was at a past moment (`at`, the grids' validity history), and the
compound and building below the grid as they are stored now (they keep no history)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from geo.casework.errors import InvalidInput
from geo.crs import CoordinateError, check_metric_area, to_storage
from geo.i18n import _
from geo.model import Location
from geo.store import Store

AREA_FIELDS = tuple(Location.__dataclass_fields__)


def outside_message() -> str:
    return _("This point lies outside the city's grids: no grid, community or street is "
             "responsible for it here.")


def storage_point(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """The point in the storage CRS (WGS84), inside the area where metres hold, else
    InvalidInput."""
    try:
        x, y = to_storage(lon, lat, crs)
        check_metric_area(x, y)
    except CoordinateError as exc:
        raise InvalidInput(str(exc), code="invalid_coordinates") from None
    return float(x[0]), float(y[0])


def locate_point(store: Store, lon: float, lat: float, crs: str = "wgs84",
                 at: datetime | None = None) -> dict:
    """The point's grid and areas (None outside, with a message), its compound and building
    codes, the WGS84 point and the moment asked about."""
    x, y = storage_point(lon, lat, crs)
    where = store.locate(x, y, at=at)
    below = store.locate_below(x, y)
    answer = {"point": {"lon": x, "lat": y, "crs": "wgs84",
                        "given": {"lon": lon, "lat": lat, "crs": crs}},
              "at": at, "inside": where is not None,
              "message": None if where else outside_message()}
    answer.update(asdict(where) if where else dict.fromkeys(AREA_FIELDS))
    answer.update(asdict(below))
    return answer
