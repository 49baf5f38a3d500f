"""Points files of the batch commands (`locate`, `nearest`): read `id, lon, lat` from CSV or
(Geo)Parquet, write a result table to CSV or Parquet: Parquet for a name ending in .parquet
(.pq, .geoparquet), CSV for any other.

Reading and writing go through pyarrow: its CSV reader and writer are multi-threaded and
build columns without Python objects per value (pandas' CSV writer formats each cell in
Python, and was the slowest part of a million-point run). A file pyarrow cannot read as
numbers is read again with pandas, only to name the line and value at fault."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
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
WRITE_BATCH = 1 << 16  # rows the CSV writer formats at once (its default of 1,024 is slower by a third)


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


class TableWriter:
    """A result table written chunk by chunk to CSV (text quoted, missing values empty) or
    Parquet, as a context manager.

    Each chunk is formatted in a thread of its own while the caller works on the next one
    (pyarrow lets go of the GIL), so writing a million rows costs about one chunk's time more
    than working them out. The rows go to a temporary file beside the target, renamed onto it
    when the last chunk is written: a command that fails half way leaves no half-written file,
    and an existing one as it was."""

    def __init__(self, path: str | Path, schema: pa.Schema):
        self.path = Path(path)
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            open(self._partial, "wb").close()  # a missing folder or no permission said plainly
            if _format(self.path) == ".parquet":
                self._writer = pq.ParquetWriter(self._partial, schema, compression="zstd")
            else:
                self._writer = pacsv.CSVWriter(self._partial, schema, write_options=(
                    pacsv.WriteOptions(quoting_style="needed", batch_size=WRITE_BATCH)))
        except OSError as exc:
            self._partial.unlink(missing_ok=True)
            raise PointsFileError(_("{path}: cannot be written ({problem})").format(
                path=self.path, problem=exc.strerror or exc)) from None
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None

    def write(self, table: pa.Table) -> None:
        """Queue a chunk; the previous one is finished first (chunks keep their order)."""
        self._finish_pending()
        self._pending = self._thread.submit(self._writer.write_table, table)

    def _finish_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        """Finish writing and put the file in place."""
        try:
            self._finish_pending()
            self._writer.close()
        finally:
            self._thread.shutdown()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        """Drop what was written: the target is left as it was."""
        try:
            self._finish_pending()
        except Exception:  # noqa: BLE001 - the error being handled is the caller's
            pass
        finally:
            self._writer.close()
            self._thread.shutdown()
            self._partial.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_table(table: pa.Table | pd.DataFrame, path: str | Path) -> None:
    """A whole table to CSV or Parquet (see TableWriter)."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with TableWriter(path, table.schema) as writer:
        writer.write(table)
