"""Writing compounds, buildings, units, heads and property companies into a store, in one
transaction: all of them or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.i18n import _
from geo.store.base import StoreError
from geo.store.sql import Tx

# Children first: what `replace` deletes, in this order.
TABLES = ("resident_head", "building_unit", "building", "compound")


def _multi(geom) -> shapely.MultiPolygon:
    return geom if geom.geom_type == "MultiPolygon" else shapely.multipolygons([geom])


def _value(v):
    """A frame's cell as the driver takes it: None for missing, Python numbers."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    return [{c: _value(v) for c, v in zip(columns, values, strict=True)}
            for values in frame[list(columns)].itertuples(index=False, name=None)]


def _with_polygons(tx: Tx, frame, columns: tuple[str, ...]) -> list[dict]:
    rows = _rows(frame, columns)
    for row, geom in zip(rows, frame.geometry.values, strict=True):
        row.update(tx.dialect.polygon_params(_multi(geom)))
    return rows


def write(tx: Tx, companies: pd.DataFrame | None, compounds, buildings, units: pd.DataFrame,
          heads: pd.DataFrame, replace: bool = False) -> dict[str, int]:
    """Write the frames (storage CRS) in `tx`. Companies are upserted by id; with `replace`
    the compounds held (and their buildings, units and heads) go first, else the store must
    hold none (StoreError). Returns the rows written per table."""
    held = tx.one("SELECT count(*) AS n FROM compound")["n"]
    if held and not replace:
        raise StoreError(_("the database already holds {n} compounds: replace them (--replace) "
                           "or keep them").format(n=f"{held:,}"))
    for table in TABLES:
        tx.run(f"DELETE FROM {table}")
    d = tx.dialect
    if companies is not None and len(companies):
        tx.run_many("INSERT INTO property_company (id, name, phone, address) VALUES (:id, :name, "
                    ":phone, :address) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                    "phone = excluded.phone, address = excluded.address",
                    _rows(companies, ("id", "name", "phone", "address")))
    tx.run_many("INSERT INTO compound (code, name, community_code, property_company_id, "
                f"households, built_year, {d.polygon_columns()}) VALUES (:code, :name, "
                f":community_code, :property_company_id, :households, :built_year, "
                f"{d.polygon_values()})",
                _with_polygons(tx, compounds, ("code", "name", "community_code",
                                               "property_company_id", "households",
                                               "built_year")))
    tx.run_many("INSERT INTO building (code, compound_code, name, floors, households, "
                f"{d.polygon_columns()}) VALUES (:code, :compound_code, :name, :floors, "
                f":households, {d.polygon_values()})",
                _with_polygons(tx, buildings, ("code", "compound_code", "name", "floors",
                                               "households")))
    tx.run_many("INSERT INTO building_unit (code, building_code, number, households) VALUES "
                "(:code, :building_code, :number, :households)",
                _rows(units, ("code", "building_code", "number", "households")))
    tx.run_many("INSERT INTO resident_head (level, area_code, name, phone, roster, agency) "
                "VALUES (:level, :area_code, :name, :phone, :roster, :agency)",
                _rows(heads, ("level", "area_code", "name", "phone", "roster", "agency")))
    return {"property_company": 0 if companies is None else len(companies),
            "compound": len(compounds), "building": len(buildings),
            "building_unit": len(units), "resident_head": len(heads)}
