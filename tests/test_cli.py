"""The installed `griddispatch` command, run as a user would, on both backends. It speaks
Chinese unless the environment asks for English; most tests here read its English."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from fixtures import shulan

EXE = str(Path(sys.executable).with_name("griddispatch"))  # the installed console script
# The environment without a language of its own (the test runner's LANG may be anything).
BARE = {k: v for k, v in os.environ.items()
        if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "GRIDDISPATCH_LANG")}
ENGLISH = {**BARE, "GRIDDISPATCH_LANG": "en"}


def run(*args, ok=True, env=None, **kwargs):
    """The command with `args`, in English unless `env` says otherwise."""
    done = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600,
                          env=ENGLISH if env is None else env, **kwargs)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(params=["sqlite", "postgis"])
def url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgis": "pg_url"}[request.param])


def test_locate_and_nearest_csv(url, city, tmp_path):
    lon, lat = city.landmarks["电东胡同小学门口"]
    src = tmp_path / "in.csv"
    src.write_text(f"id,lon,lat\nschool,{lon},{lat}\nfar,100.0,30.0\n")
    out = tmp_path / "out.csv"
    done = run("--db", url, "locate", str(src), "-o", str(out))
    assert "1 inside a grid, 1 outside" in done.stdout
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns) == ["id", "grid_code", "community_code", "street_code",
                                 "district_code", "compound_code", "building_code"]
    assert got.street_code.tolist() == ["220204001", ""]
    assert got.grid_code[0].startswith(got.community_code[0])
    near = tmp_path / "near.csv"
    run("--db", url, "nearest", str(src), "-o", str(near), "-k", "2", "--kind", "enforcement")
    ranked = pd.read_csv(near)
    assert list(ranked.columns) == ["id", "rank", "team_id", "distance_m"]
    assert ranked.id.tolist() == ["school", "school"]  # no metres for a point at 100E
    assert ranked.team_id.str.startswith("T-ENF-").all()
    assert ranked.distance_m.is_monotonic_increasing


def test_locate_and_nearest_read_geoparquet_and_write_parquet(sqlite_url, sqlite_store, city,
                                                             tmp_path):
    """A GeoParquet file of points in (in EPSG:4551, its geometry column named geom: taken
    to WGS84 by its metadata), Parquet out: the same rows as the store answers."""
    import geopandas as gpd

    grids = city.grids.sample(50, random_state=1)
    inner = grids.geometry.representative_point()
    points = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(len(inner))]},
                              geometry=list(inner), crs=4326)
    src = tmp_path / "points.parquet"
    points.to_crs(4551).rename_geometry("geom").to_parquet(src)
    out = tmp_path / "located.parquet"
    done = run("--db", sqlite_url, "locate", str(src), "-o", str(out))
    assert "50 inside a grid, 0 outside" in done.stdout
    got = pd.read_parquet(out)
    assert got.id.tolist() == points.id.tolist()
    assert got.grid_code.tolist() == grids.code.tolist()
    want = sqlite_store.locate_many(inner.x.to_numpy(), inner.y.to_numpy())
    assert got.drop(columns="id").astype(object).where(got.notna(), None).to_dict("list") == (
        want.astype(object).where(want.notna(), None).to_dict("list"))
    near = tmp_path / "near.pq"
    run("--db", sqlite_url, "nearest", str(src), "-o", str(near), "-k", "2")
    ranked = pd.read_parquet(near)
    assert list(ranked.columns) == ["id", "rank", "team_id", "distance_m"]
    assert len(ranked) == 100 and ranked.groupby("id").distance_m.is_monotonic_increasing.all()


def test_gcj02_input_gives_the_same_grid(url, city, tmp_path):
    from geo.crs import from_storage

    lon, lat = city.landmarks["岭北胡同"]
    glon, glat = from_storage(lon, lat, "gcj02")
    for crs, (x, y) in (("wgs84", (lon, lat)), ("gcj02", (glon[0], glat[0]))):
        src = tmp_path / f"{crs}.csv"
        src.write_text(f"id,lon,lat\np,{x},{y}\n")
        run("--db", url, "locate", str(src), "-o", str(tmp_path / f"{crs}.out"), "--crs", crs)
    assert (tmp_path / "wgs84.out").read_text() == (tmp_path / "gcj02.out").read_text()


@pytest.mark.parametrize("content, words", [
    ("id,x,y\n1,126.5,43.8\n", "missing columns lon, lat"),
    ("id,lon,lat\n1,east,43.8\n", "line 2 (id 1) has lon east"),
    ("id,lon,lat\n1,126.5,\n", "line 2 (id 1) has an empty lat"),
    ("id,lon,lat\n1,126.5,inf\n", "not a finite number"),
])
def test_bad_csv_is_a_clear_error(sqlite_url, tmp_path, content, words):
    src = tmp_path / "bad.csv"
    src.write_text(content)
    done = run("--db", sqlite_url, "locate", str(src), "-o", str(tmp_path / "o.csv"), ok=False)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_an_output_that_cannot_be_written_is_a_clear_error_before_any_work(sqlite_url, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,lon,lat\n1,126.5,43.8\n")
    for out in (tmp_path / "no" / "such" / "folder.csv", tmp_path / "none" / "x.parquet"):
        done = run("--db", sqlite_url, "locate", str(src), "-o", str(out), ok=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"{out}: cannot be written (No such file or directory)" in done.stderr
        assert "located" not in done.stderr  # refused before locating anything
    assert not list(tmp_path.glob("no*")) and not list(tmp_path.glob(".*"))


def test_locate_writes_a_file_of_several_chunks_in_the_input_s_order(sqlite_url, sqlite_store,
                                                                     city, tmp_path):
    """More points than one chunk (200,000): every row in place, the same as the store's
    answer; CSV and Parquet alike."""
    import numpy as np

    rng = np.random.default_rng(2)
    x0, y0, x1, y1 = city.grids.total_bounds
    n = 200_003
    lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    src = tmp_path / "many.csv"
    pd.DataFrame({"id": [f"q{i}" for i in range(n)], "lon": lon, "lat": lat}).to_csv(
        src, index=False, float_format="%.17g")
    want = sqlite_store.locate_many(lon, lat).fillna("")
    for out in (tmp_path / "many.out.csv", tmp_path / "many.out.parquet"):
        done = run("--db", sqlite_url, "locate", str(src), "-o", str(out))
        assert "located 200,000/200,003" in done.stderr and "200,003/200,003" in done.stderr
        got = (pd.read_csv(out, dtype=str, keep_default_na=False) if out.suffix == ".csv"
               else pd.read_parquet(out).astype(object).fillna(""))
        assert got.id.tolist() == [f"q{i}" for i in range(n)]
        assert got.drop(columns="id").astype(str).to_dict("list") == want.astype(str).to_dict(
            "list")
        assert (got.grid_code != "").sum() > n // 10
    assert not list(tmp_path.glob(".*partial"))


def test_a_failed_write_leaves_the_file_that_was_there(tmp_path):
    """Rows go to a file beside the target, put in place only when every chunk is written."""
    import pyarrow as pa

    from geo.files.points import TableWriter

    out = tmp_path / "out.csv"
    out.write_text("the old file\n")
    table = pa.table({"id": ["a", "b"]})
    with pytest.raises(RuntimeError), TableWriter(out, table.schema) as writer:
        writer.write(table)
        raise RuntimeError("the command failed half way")
    assert out.read_text() == "the old file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    parquet = tmp_path / "out.parquet"
    with pytest.raises(ValueError, match="schema"), TableWriter(parquet, table.schema) as writer:
        writer.write(table)
        writer.write(pa.table({"other": [1]}))  # a chunk the writer itself refuses, in its thread
        writer.write(table)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with TableWriter(out, table.schema) as writer:
        writer.write(table)
        writer.write(table)
    assert out.read_text().splitlines() == ['"id"', '"a"', '"b"', '"a"', '"b"']


@pytest.mark.parametrize("layer, columns", [
    ("grids", {"code", "name", "community_code", "street_code", "district_code"}),
    ("teams", {"id", "name", "kind", "status"}),
    ("cameras", {"id", "kind", "range_m", "status"}),
    ("sites", {"id", "kind", "watch_level"}),
    ("issues", {"id", "category_code", "grid_code", "reported_at"}),
])
def test_export_layers(url, city, tmp_path, layer, columns):
    # Reading is the backend's, writing the file's format: one format per backend covers both.
    suffix = ".geojson" if url.startswith("sqlite") else ".gpkg"
    out = tmp_path / f"{layer}{suffix}"
    run("--db", url, "export", layer, "-o", str(out))
    frame = pyogrio.read_dataframe(out)
    assert columns <= set(frame.columns)
    assert len(frame) == len(getattr(city, layer))
    assert frame.crs.to_epsg() == 4326
    if suffix == ".geojson" and layer == "grids":
        doc = json.loads((tmp_path / "grids.geojson").read_text())
        props = doc["features"][0]["properties"]
        assert props["code"].startswith(props["community_code"])


@pytest.mark.parametrize("backend,suffix,layer", [
    ("sqlite", ".zip", "grids"), ("postgis", ".zip", "issues"), ("postgis", ".parquet", "issues"),
    ("sqlite", ".parquet", "grids"), ("sqlite", ".fgb", "compounds"),
])
def test_export_to_gis_formats_keeps_codes_names_and_geometry(backend, suffix, layer, city,
                                                              tmp_path, request):
    """A zipped Shapefile (UTF-8 .cpg, WGS84 .prj, short field names), GeoParquet (CRS in its
    metadata, times as UTC timestamps) and FlatGeobuf, read back with GDAL and pyarrow: the
    same rows, codes and Chinese names, and every vertex as stored."""
    import zipfile

    import geopandas as gpd
    import pyarrow.parquet as pq

    from geo.files.layers import SHAPEFILE_NAMES
    from geo.store import open_store

    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgis": "pg_url"}[backend])
    out = tmp_path / f"{layer}{suffix}"
    run("--db", url, "export", layer, "-o", str(out))
    with open_store(url) as store:
        stored = store.read_layer(layer)
    key = "id" if layer == "issues" else "code"
    if suffix == ".zip":
        with zipfile.ZipFile(out) as z:
            assert sorted(z.namelist()) == sorted(f"{layer}{p}" for p in
                                                  (".shp", ".shx", ".dbf", ".prj", ".cpg"))
            assert z.read(f"{layer}.cpg").decode() == "UTF-8"
        back = pyogrio.read_dataframe(f"/vsizip/{out}/{layer}.shp")
        stored = stored.rename(columns=SHAPEFILE_NAMES)
    elif suffix == ".parquet":
        assert json.loads(pq.read_metadata(out).metadata[b"geo"])["version"] == "1.1.0"
        back = gpd.read_parquet(out)
        if layer == "issues":
            assert str(back.reported_at.dtype) == "datetime64[us, UTC]"
            assert (back.reported_at == pd.to_datetime(stored.reported_at, utc=True,
                                                       format="ISO8601")).all()
    else:
        back = pyogrio.read_dataframe(out)
    assert back.crs.to_epsg() == 4326 and len(back) == len(stored) > 0
    back, stored = back.set_index(key).sort_index(), stored.set_index(key).sort_index()
    assert back.index.astype(str).tolist() == stored.index.astype(str).tolist()
    # every vertex as stored (a Shapefile turns rings to its own orientation and one-part
    # multipolygons into polygons: compared part by part, normalised)
    for a, b in zip(back.geometry, stored.geometry, strict=True):
        pa, pb = shapely.normalize(shapely.get_parts(a)), shapely.normalize(shapely.get_parts(b))
        assert len(pa) == len(pb) and all(shapely.equals_exact(pa, pb, 0))
    if "name" in stored:
        assert back.name.tolist() == stored.name.tolist()  # 天胜社区第1网格 ...


def test_export_rejects_unknown_formats(sqlite_url, tmp_path):
    done = run("--db", sqlite_url, "export", "grids", "-o", str(tmp_path / "g.shp"), ok=False)
    assert done.returncode == 2 and ".zip" in done.stderr and ".parquet" in done.stderr


def test_init_and_demo_data_from_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    assert "applied 001_core" in run("--db", url, "init").stdout
    assert "nothing to apply" in run("--db", url, "init").stdout
    done = run("--db", url, "demo-data", "--grids", "300", "--issues", "500", "--seed", "3")
    # 舒兰市, the detached part, adds its own grids and its story's report.
    grids = 300 + shulan.size(300)
    assert f"{grids} grids" in done.stdout and "501 issues" in done.stdout
    assert "stored issues" in done.stderr  # progress
    again = run("--db", url, "demo-data", "--grids", "300", ok=False)
    assert again.returncode == 2 and "--replace" in again.stderr
    done = run("--db", url, "demo-data", "--grids", "250", "--issues", "10", "--replace")
    assert f"{250 + shulan.size(250)} grids" in done.stdout and "11 issues" in done.stdout


def test_uninitialised_database_and_bad_url(tmp_path):
    done = run("--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "export", "grids", "-o",
               str(tmp_path / "g.geojson"), ok=False)
    assert done.returncode == 2 and "griddispatch init" in done.stderr
    done = run("--db", "mysql://h/db", "init", ok=False)
    assert done.returncode == 2 and "unsupported database URL" in done.stderr


def test_demo_answers_the_story_places(tmp_path):
    done = run("--db", f"sqlite:///{tmp_path / 'demo.sqlite'}", "demo")
    for words in ("电东社区", "长春路街道", "劳动社区", "山前街道", "华南社区", "综合执法队"):
        assert words in done.stdout


def test_users_and_api_keys(url):
    done = run("--db", url, "users", "add", "li.wei", "--role", "dispatcher",
               "--jurisdiction", "220204001", "--password-stdin", input="s3cret-pass\n")
    assert "created dispatcher li.wei for 220204001" in done.stdout
    again = run("--db", url, "users", "add", "li.wei", "--role", "dispatcher",
                "--password-stdin", input="x1234\n", ok=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = run("--db", url, "users", "add", "wang", "--role", "dispatcher",
              "--jurisdiction", "2202", "--password-stdin", input="x1234\n", ok=False)
    assert bad.returncode == 2 and "district (6 digits) or street (9 digits)" in bad.stderr
    key = run("--db", url, "api-keys", "add", "li.wei").stdout.strip()
    assert len(key) >= 30
    from geo.casework.users import actor_for_api_key, authenticate
    from geo.store import open_store

    with open_store(url) as store:
        assert authenticate(store, "li.wei", "s3cret-pass").jurisdiction == ("220204001",)
        assert authenticate(store, "li.wei", "wrong") is None
        assert actor_for_api_key(store, key).username == "li.wei"


def test_serve_refuses_production_with_demo_accounts(sqlite_url):
    env = {"GRIDDISPATCH_ENVIRONMENT": "production", "GRIDDISPATCH_LANG": "en",
           "GRIDDISPATCH_SECRET_KEY": "k" * 40, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([EXE, "--db", sqlite_url, "serve", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "refusing to start in production: demo credentials are present" in done.stderr
    assert "--workers > 1 needs PostgreSQL" in run("--db", sqlite_url, "serve", "--workers", "2",
                                                  ok=False).stderr


@pytest.mark.parametrize("environ, expected", [
    ({}, "zh_CN"), ({"LANG": "C.UTF-8"}, "zh_CN"), ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh_CN"), ({"LC_ALL": "en_GB", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LC_MESSAGES": "zh_TW.UTF-8@x", "LANG": "en_US.UTF-8"}, "zh_CN"),
    ({"LC_ALL": "", "LC_MESSAGES": "en_US", "LANG": "zh_CN"}, "en"),
    ({"GRIDDISPATCH_LANG": "zh-CN", "LC_ALL": "en_US.UTF-8"}, "zh_CN"),
    ({"GRIDDISPATCH_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "zh_CN"),
])
def test_the_command_line_language_comes_from_the_environment(environ, expected):
    from api.cli import cli_language

    assert cli_language(environ) == expected


def test_the_command_line_speaks_chinese_unless_asked_for_english(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    chinese = run("--db", url, "init", env={**BARE, "LANG": "C.UTF-8"})
    assert "数据库结构版本" in chinese.stdout and "已就绪" in chinese.stdout
    english = run("--db", url, "init", env={**BARE, "LANG": "en_US.UTF-8"})
    assert english.stdout.startswith("schema ") and "nothing to apply" in english.stdout
    refused = run("--db", "mysql://h/db", "init", ok=False, env=BARE)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "griddispatch：错误：不支持的数据库地址 mysql://h/db" in refused.stderr
    usage = run("--help", env=BARE)
    assert "网格化治理" in usage.stdout and "创建或升级数据库结构" in usage.stdout
    csv = tmp_path / "bad.csv"
    csv.write_text("id,x,y\n1,126.5,43.8\n")
    bad = run("--db", url, "locate", str(csv), "-o", str(tmp_path / "o.csv"), ok=False, env=BARE)
    assert bad.returncode == 2 and "缺少列 lon, lat" in bad.stderr
