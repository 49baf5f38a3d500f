"""Points files of the batch commands (`locate`, `nearest`): read `id, lon, lat` from CSV or
(Geo)Parquet, write a result table to CSV or Parquet: Parquet for a name ending in .parquet
(.pq, .geoparquet), CSV for any other.

Reading and writing go through pyarrow: its CSV reader and writer are multi-threaded and
build columns without Python objects per value (pandas' CSV writer formats each cell in
Python, and was the slowest part of a million-point run). A file pyarrow cannot read as
numbers is read again with pandas, only to name the line and value at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from geo.i18n import _, ngettext

COLUMNS = ("id", "lon", "lat")
PARQUET = (".parquet", ".pq", ".geoparquet")


class PointsFileError(ValueError):
    """A points file that cannot be read, or a name that cannot be written: the message
    names the file, and the line and value where one is at fault."""


def _format(path: Path) -> str:
    """Parquet by its extension; anything else is CSV, as the commands always wrote."""
    return ".parquet" if path.suffix.lower() in PARQUET else ".csv"


def _missing(path: Path, columns) -> None:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise PointsFileError(ngettext(
            "{path}: missing column {columns}; expected a header line id,lon,lat",
            "{path}: missing columns {columns}; expected a header line id,lon,lat",
            len(missing)).format(path=path, columns=", ".join(missing)))


def _bad_value(path: Path, frame: pd.DataFrame, first_line: int = 2) -> None:
    """PointsFileError naming the first line (a CSV's header is line 1, a Parquet file's first
    row line 1) whose lon or lat is not a finite number."""
    for col in ("lon", "lat"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(float))
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raw = frame[col].iloc[row]
            message = (_("{path}: line {line} (id {id}) has an empty {column}, which is not a "
                         "finite number") if pd.isna(raw) else
                       _("{path}: line {line} (id {id}) has {column} {value}, which is not a "
                         "finite number"))
            raise PointsFileError(message.format(path=path, line=row + first_line,
                                                 id=frame.id.iloc[row],
                                                 column=col, value=str(raw)))


def _read_csv(path: Path) -> pa.Table:
    try:
        names = pacsv.open_csv(path).schema.names  # the header and the first block only
    except FileNotFoundError:
        raise PointsFileError(_("{path}: no such file").format(path=path)) from None
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise PointsFileError(_("{path}: not a readable CSV file ({problem})").format(
            path=path, problem=exc)) from None
    _missing(path, names)
    try:
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"id": pa.string(), "lon": pa.float64(), "lat": pa.float64()},
            include_columns=list(COLUMNS), strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        try:
            frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise PointsFileError(_("{path}: not a readable CSV file ({problem})").format(
                path=path, problem=exc)) from None
        _bad_value(path, frame)
        raise PointsFileError(_("{path}: not a readable CSV file ({problem})").format(
            path=path, problem=exc)) from None


def _geoparquet_points(path: Path) -> pa.Table:
    """A GeoParquet file's ids and point coordinates, taken to WGS84 from the CRS its
    metadata declares."""
    import geopandas as gpd

    try:
        frame = gpd.read_parquet(path)
    except (ValueError, TypeError, pa.ArrowException, shapely.errors.GEOSException) as exc:
        raise PointsFileError(_("{path}: not a readable GeoParquet file ({problem})").format(
            path=path, problem=exc)) from None
    _missing(path, [*frame.columns, "lon", "lat"])
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    kinds = set(frame.geometry.geom_type.dropna())
    if kinds - {"Point"} or frame.geometry.isna().any():
        raise PointsFileError(_("{path}: every geometry must be a point (found {kinds})").format(
            path=path, kinds=", ".join(sorted(kinds - {"Point"}) or ["null"])))
    return pa.table({"id": pa.array(frame["id"].astype(str)),
                     "lon": pa.array(frame.geometry.x.to_numpy(float)),
                     "lat": pa.array(frame.geometry.y.to_numpy(float))})


def _read_parquet(path: Path) -> pa.Table:
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise PointsFileError(_("{path}: no such file").format(path=path)) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise PointsFileError(_("{path}: not a readable Parquet file ({problem})").format(
            path=path, problem=exc)) from None
    if not {"lon", "lat"} <= set(schema.names) and b"geo" in (schema.metadata or {}):
        return _geoparquet_points(path)
    _missing(path, schema.names)
    try:
        table = pq.read_table(path, columns=list(COLUMNS))
        return pa.table({"id": pc.cast(table.column("id"), pa.string()),
                         "lon": pc.cast(table.column("lon"), pa.float64()),
                         "lat": pc.cast(table.column("lat"), pa.float64())})
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise PointsFileError(_("{path}: the columns id, lon, lat cannot be read as text and "
                                "numbers ({problem})").format(path=path, problem=exc)) from None


@dataclass(frozen=True)
class Points:
    """A points file's columns: ids as Arrow text (never a Python string per point), lon
    and lat as finite floats."""

    ids: pa.ChunkedArray
    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return len(self.lon)


def read_points(path: str | Path) -> Points:
    """An `id, lon, lat` file, or PointsFileError naming the file, line and value at
    fault."""
    path = Path(path)
    csv = _format(path) == ".csv"
    table = _read_csv(path) if csv else _read_parquet(path)
    lon, lat = (table.column(c).to_numpy(zero_copy_only=False) for c in ("lon", "lat"))
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        _bad_value(path, pd.DataFrame({"id": table.column("id").to_numpy(zero_copy_only=False),
                                       "lon": lon, "lat": lat}), 2 if csv else 1)
    return Points(table.column("id"), lon, lat)


def factorised_column(table: np.ndarray, idx: np.ndarray) -> pa.DictionaryArray:
    """Per point `table[idx]` as Arrow text, null where idx is -1: a dictionary array, built
    without copying a string per point (the writers expand it)."""
    idx = np.asarray(idx)
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32), mask=idx < 0),
                                          pa.array(list(table), type=pa.string()))


def write_table(table: pa.Table | pd.DataFrame, path: str | Path) -> None:
    """A table to CSV (text quoted, missing values empty) or Parquet."""
    path = Path(path)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if _format(path) == ".parquet":
        pq.write_table(table, path, compression="zstd")
    else:
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
