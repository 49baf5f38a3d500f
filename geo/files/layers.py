"""A layer written to a file, the format chosen by its extension:

- .geojson / .json (RFC 7946 order, WGS84), .gpkg (GeoPackage), .fgb (FlatGeobuf): through
  GDAL (pyogrio), times as ISO 8601 text in UTC;
- .parquet: GeoParquet (geopandas on pyarrow), geometry as WKB with its CRS in the file's
  metadata, times kept as UTC timestamps;
- .zip: a zipped ESRI Shapefile (.shp .shx .dbf .prj .cpg) named after the layer, UTF-8 text
  (the .cpg says so, and QGIS and ArcGIS read the Chinese names by it). dBASE field names
  hold 10 characters: the longer ones get the short names of SHAPEFILE_NAMES, and text is cut
  at 254 bytes on a character boundary (descriptions: use GeoPackage or GeoParquet).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.i18n import _

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".fgb": "FlatGeobuf",
           ".zip": "ESRI Shapefile", ".parquet": "GeoParquet"}
# Fields longer than dBASE's 10 characters, as a Shapefile names them.
SHAPEFILE_NAMES = {"community_code": "community", "street_code": "street",
                   "district_code": "district", "compound_code": "compound",
                   "category_code": "category", "property_company_id": "company_id",
                   "reported_at": "reported", "position_at": "position",
                   "heading_deg": "heading", "watch_level": "watch_lvl",
                   "jurisdiction": "jurisdict", "description": "descriptn"}
DBF_TEXT_BYTES = 254
# The layers' times: UTC timestamps in GeoParquet whichever backend read them.
TIME_COLUMNS = ("valid_from", "valid_to", "reported_at", "due_at", "closed_at", "position_at")
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


class LayerFileError(ValueError):
    """A file name the export cannot write."""


def driver_for(path: Path) -> str:
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise LayerFileError(_("{path}: use a file name ending in {suffixes}").format(
            path=path, suffixes=", ".join(DRIVERS)))
    return driver


def _times_as_text(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for col in frame.columns:
        if str(frame[col].dtype).startswith("datetime64"):
            frame[col] = frame[col].map(lambda t: None if pd.isna(t) else t.isoformat())
    return frame


def _cut(text, limit: int = DBF_TEXT_BYTES):
    """Text that fits a dBASE field once encoded in UTF-8, never cut inside a character."""
    if not isinstance(text, str):
        return text
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _for_shapefile(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = _times_as_text(frame).rename(columns=SHAPEFILE_NAMES)
    long = [c for c in frame.columns if c != frame.geometry.name and len(c) > 10]
    if long:  # a new column must get its short name above
        raise LayerFileError(f"no Shapefile name for {', '.join(long)}")
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype) in ("str", "string"):
            frame[col] = frame[col].map(_cut)
    return frame


def _write_shapefile_zip(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{layer}.shp"
        _for_shapefile(frame).to_file(shp, driver="ESRI Shapefile", engine="pyogrio",
                                      encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for suffix in _SHAPEFILE_PARTS:
                part = shp.with_suffix(suffix)
                if part.exists():
                    z.write(part, part.name)


def write_layer(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """Write `frame` (WGS84) to `path` in the format its extension names, replacing it."""
    driver = driver_for(path)
    if path.exists():
        path.unlink()
    if driver == "GeoParquet":
        frame = frame.copy()
        for col in frame.columns.intersection(TIME_COLUMNS):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        frame.to_parquet(path, index=False, compression="zstd", schema_version="1.1.0")
    elif driver == "ESRI Shapefile":
        _write_shapefile_zip(frame, path, layer)
    else:
        _times_as_text(frame).to_file(path, driver=driver, engine="pyogrio", layer=layer)
