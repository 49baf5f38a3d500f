"""The `griddispatch` command line: set up a database, load the demo city and road networks,
locate, rank, export.

It speaks Chinese unless the environment asks for English: GRIDDISPATCH_LANG, else the POSIX
locale (LC_ALL, LC_MESSAGES, LANG, in that order). Its CSV files keep their English headers,
which programs read."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fixtures.defaults import DEFAULT_GRIDS, DEFAULT_ISSUES, DEFAULT_SEED
from geo.crs import SOURCE_CRS, CoordinateError
from geo.i18n import _, format_date, negotiate, ngettext, using
from geo.model import TeamFilter
from geo.roads.classes import ROAD_COLUMNS
from geo.store import LAYERS, Store, StoreError, default_url, open_store
from geo.taxonomy import TEAM_KINDS, TEAM_STATUSES
from geo.workflow import ROLES

_CHUNK = 200_000


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit status 2."""


def cli_language(environ=os.environ) -> str:
    """The language of the command line: GRIDDISPATCH_LANG if set, else the first of LC_ALL,
    LC_MESSAGES and LANG that is set (POSIX's order; `en_US.UTF-8` means English), else
    Chinese. A locale that names no language we carry (C, POSIX) is Chinese too."""
    chosen = environ.get("GRIDDISPATCH_LANG")
    if not chosen:
        chosen = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)),
                      None)
    tag = (chosen or "").split(".")[0].split("@")[0]
    return negotiate(None if tag in ("", "C", "POSIX") else tag)  # Babel reads C as en_US


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read_points(path: str):
    """An `id,lon,lat` CSV or (Geo)Parquet file (geo.files.points.Points); bad input is a
    UsageError naming the line."""
    from geo.files.points import PointsFileError, read_points

    try:
        return read_points(path)
    except PointsFileError as exc:
        raise UsageError(str(exc)) from None


def _moment(text: str | None, option: str):
    """A date or time typed by a person (YYYY-MM-DD[THH:MM], on the command centre's clock
    unless it carries an offset) as aware UTC; None when not given."""
    from datetime import UTC, datetime

    from geo.i18n.formats import TIMEZONE
    from geo.store.base import EARLIEST, LATEST

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        moment = (moment.replace(tzinfo=TIMEZONE) if moment.tzinfo is None else moment
                  ).astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise UsageError(_("{option} must be a date or a time from 1900 to 2199 (YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM), not {text}").format(option=option, text=text))
    return moment


def _chunks(n: int):
    for start in range(0, n, _CHUNK):
        yield slice(start, min(start + _CHUNK, n))


def cmd_init(store: Store, args) -> int:
    applied = store.migrate()
    print(_("schema {version} ready (applied {migrations})").format(
        version=store.schema_version(), migrations=", ".join(applied)) if applied else
        _("schema {version} ready (nothing to apply)").format(version=store.schema_version()))
    return 0


def cmd_demo_data(store: Store, args) -> int:
    from fixtures.jilin import generate

    store.migrate()
    if store.counts()["grids"] and not args.replace:
        raise UsageError(_("the database already holds grids; pass --replace to delete every "
                           "layer and load the demo city instead"))
    started = time.perf_counter()
    city = generate(args.grids, args.issues, args.seed, progress=_say)
    if args.replace:
        store.clear()
    _load_demo(store, city)
    counts = store.counts()
    print(_("demo city loaded in {seconds} s: {counts}").format(
        seconds=f"{time.perf_counter() - started:.1f}", counts=_layer_counts(counts)))
    return 0


def _layer_counts(counts: dict[str, int]) -> str:
    """Rows per layer in words: 4 个区县、27 个街道 …; 4 districts, 27 streets …"""
    words = {"districts": lambda n: ngettext("{n} district", "{n} districts", n),
             "streets": lambda n: ngettext("{n} street", "{n} streets", n),
             "communities": lambda n: ngettext("{n} community", "{n} communities", n),
             "grids": lambda n: ngettext("{n} grid", "{n} grids", n),
             "cameras": lambda n: ngettext("{n} camera", "{n} cameras", n),
             "sites": lambda n: ngettext("{n} key site", "{n} key sites", n),
             "teams": lambda n: ngettext("{n} team", "{n} teams", n),
             "issues": lambda n: ngettext("{n} issue", "{n} issues", n),
             "roads": lambda n: ngettext("{n} road", "{n} roads", n)}
    return _(", ").join(words[k](v).format(n=f"{v:,}") for k, v in counts.items())


def _build_demo_if_empty(store: Store):
    """The default demo city, built and loaded when the database holds no grids; else None."""
    from fixtures.jilin import generate

    store.migrate()
    if store.counts()["grids"]:
        return None
    _say(_("building the demo city ({grids} grids, {issues} issues)…").format(
        grids=f"{DEFAULT_GRIDS:,}", issues=f"{DEFAULT_ISSUES:,}"))
    city = generate(progress=_say)
    _load_demo(store, city)
    return city


def _load_demo(store: Store, city) -> None:
    """Store a generated city and its demo-only accounts."""
    from fixtures import accounts

    store.load_city(city, progress=_say)
    names = accounts.install(store, city.landmarks)
    _say(_("demo-only accounts (password {password}): {names}; Open311 api_key {key}").format(
        password=accounts.DEMO_PASSWORD, names=", ".join(names),
        key=accounts.DEMO_API_KEY))


def cmd_serve(store: Store, args) -> int:
    """Run the HTTP service (and the maps) until interrupted."""
    import os

    import uvicorn

    store.migrate()
    if args.demo:
        _build_demo_if_empty(store)
    from api.app import ProductionRefused, check_production
    from api.settings import Settings

    try:
        check_production(Settings(), store)
    except ProductionRefused as exc:
        raise UsageError(str(exc)) from None
    os.environ["GRIDDISPATCH_DATABASE_URL"] = args.url
    # Worker processes must sign and check tokens with one key: share this process's.
    os.environ.setdefault("GRIDDISPATCH_SECRET_KEY", Settings().secret_key)
    store.close()
    _say(_("serving on http://{host}:{port} (API docs at /docs)").format(host=args.host,
                                                                        port=args.port))
    simulator = None
    if args.simulate:  # the living demo beside the server, stopped with it
        from fixtures.simulation.run import start_beside
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        simulator = start_beside(f"http://{host}:{args.port}")
    try:
        uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="warning", access_log=False)
    finally:
        if simulator is not None:
            from fixtures.simulation.run import stop_beside
            stop_beside(simulator)
    return 0


def cmd_simulate(store: None, args) -> int:
    """Keep the demo city alive through a server's API (no database of its own)."""
    from fixtures.simulation.run import run_args

    return run_args(args)


def cmd_users_add(store: Store, args) -> int:
    import getpass

    from geo.casework.errors import CaseError
    from geo.casework.users import add_user

    store.migrate()
    password = (sys.stdin.readline().rstrip("\n") if args.password_stdin
                else getpass.getpass(_("password for {username}: ").format(
                    username=args.username)))
    try:
        add_user(store, args.username, password, args.role, args.jurisdiction or [], args.team,
                 args.name or "", company_id=args.company, department_id=args.department)
    except CaseError as exc:
        raise UsageError(str(exc)) from None
    print(_("created {role} {username} for {jurisdiction}").format(
        role=args.role, username=args.username, jurisdiction=", ".join(args.jurisdiction))
        if args.jurisdiction else
        _("created {role} {username}").format(role=args.role, username=args.username))
    return 0


def _account_change(store: Store, change):
    """Run a change to an account; a CaseError becomes a usage error."""
    from geo.casework.errors import CaseError

    store.migrate()
    try:
        return change()
    except CaseError as exc:
        raise UsageError(str(exc)) from None


def cmd_users_disable(store: Store, args) -> int:
    from geo.casework.users import set_active

    _account_change(store, lambda: set_active(store, args.username, False))
    print(_("disabled {username}; its sessions have ended").format(username=args.username))
    return 0


def cmd_users_enable(store: Store, args) -> int:
    from geo.casework.users import set_active

    _account_change(store, lambda: set_active(store, args.username, True))
    print(_("enabled {username}").format(username=args.username))
    return 0


def cmd_users_delete(store: Store, args) -> int:
    from geo.casework.users import delete_user

    _account_change(store, lambda: delete_user(store, args.username))
    print(_("deleted {username} with its API keys and sessions").format(username=args.username))
    return 0


def cmd_users_set_role(store: Store, args) -> int:
    from geo.casework.users import set_role

    _account_change(store, lambda: set_role(store, args.username, args.role,
                                            args.jurisdiction or [], args.team, args.company,
                                            args.department))
    print(_("{username} now has role {role} for {jurisdiction}; its sessions have ended").format(
        username=args.username, role=args.role, jurisdiction=", ".join(args.jurisdiction))
        if args.jurisdiction else
        _("{username} now has role {role}; its sessions have ended").format(
            username=args.username, role=args.role))
    return 0


def cmd_users_end_sessions(store: Store, args) -> int:
    from geo.casework import sessions

    ended = _account_change(store, lambda: sessions.end_all(store, args.username))
    print(ngettext("ended {n} session of {username}", "ended {n} sessions of {username}",
                   ended).format(n=ended, username=args.username))
    return 0


def cmd_api_key_add(store: Store, args) -> int:
    import secrets

    from geo.casework.errors import CaseError
    from geo.casework.users import add_api_key

    key = secrets.token_urlsafe(24)
    try:
        add_api_key(store, args.username, key, args.label or "")
    except CaseError as exc:
        raise UsageError(str(exc)) from None
    print(key)
    return 0


def cmd_api_keys_revoke(store: Store, args) -> int:
    from geo.casework.users import revoke_api_keys

    revoked = _account_change(store, lambda: revoke_api_keys(store, args.username))
    print(ngettext("revoked {n} API key of {username}", "revoked {n} API keys of {username}",
                   revoked).format(n=revoked, username=args.username))
    return 0


def cmd_export(store: Store, args) -> int:
    from geo.files.layers import LayerFileError, driver_for, write_layer

    out = Path(args.output)
    try:
        driver_for(out)
    except LayerFileError as exc:
        raise UsageError(str(exc)) from None
    frame = store.read_layer(args.layer)
    if args.layer == "roads":  # the exchange columns only, as import-roads reads them back
        frame = frame[[*ROAD_COLUMNS, frame.geometry.name]]
    write_layer(frame, out, args.layer)
    print(_("wrote {n} {layer} to {path}").format(n=f"{len(frame):,}", layer=args.layer,
                                                  path=out))
    return 0


def cmd_import_roads(store: Store, args) -> int:
    """Store the road network of a file (OpenStreetMap .osm.pbf or a line file), checked
    whole before anything is written."""
    from geo.roads.importing import read_roads

    store.migrate()
    held = store.counts(("roads",))["roads"]
    if held and not args.replace:
        raise UsageError(_("the database already holds {n} roads; pass --replace to put the "
                           "network of {file} in their place").format(n=f"{held:,}",
                                                                      file=args.file))
    started = time.perf_counter()
    roads = read_roads(args.file)
    stored = store.add_roads(roads, replace=args.replace)
    network = store.road_network()
    junctions = network.n_nodes if network is not None else 0
    facts = {"n": f"{stored:,}", "junctions": f"{junctions:,}", "file": args.file,
             "seconds": f"{time.perf_counter() - started:.1f}", "held": f"{held:,}"}
    print(_("stored {n} roads with {junctions} junctions from {file} in {seconds} s, replacing "
            "{held} roads").format(**facts) if held else
          _("stored {n} roads with {junctions} junctions from {file} in {seconds} s").format(
              **facts))
    return 0


def cmd_import_compounds(store: Store, args) -> int:
    """Store the compounds (and buildings) of files, checked whole before anything is
    written."""
    from geo.compounds.importing import import_compounds

    store.migrate()
    counts = import_compounds(store, args.file, args.buildings, replace=args.replace)
    print(_("stored {compounds} compounds and {buildings} buildings from {file}; {issues} "
            "issues located anew").format(compounds=f"{counts['compound']:,}",
                                          buildings=f"{counts['building']:,}", file=args.file,
                                          issues=f"{counts['issues_relocated']:,}"))
    return 0


def cmd_hotspots(store: Store, args) -> int:
    """The hotspot map of the whole city (or --area) for the filters, as one HTML file that
    needs neither the server nor the network."""
    from datetime import UTC, datetime

    from api.settings import Settings
    from geo.casework.errors import InvalidInput, NotFound
    from geo.casework.scope import Actor
    from geo.hotspots.analysis import Params
    from geo.hotspots.reports import HotspotQuery, day
    from geo.hotspots.study import open_study
    from maps import assets
    from maps.hotspots import hotspot_page, whole_slices
    from maps.standalone import inline

    if assets.missing():
        raise UsageError(_("map assets are not installed: run {command}").format(
            command=assets.INSTALL_HINT))
    out = Path(args.output)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(_("{path}: use an .html file name").format(path=out))
    try:
        q = HotspotQuery.build(datetime.now(UTC), day(args.since, "--since"),
                               day(args.until, "--until"), args.category or (), args.area)
        params = Params(slice=args.slice, bins=args.bins).check()
        q = whole_slices(q, params.slice)  # the time slider starts at --since, as on the page
        study = open_study(store, Actor("griddispatch-cli", "admin"), q)
        started = time.perf_counter()
        text = hotspot_page(Settings(), study, params, store.read_layer("streets"), form=False)
    except (InvalidInput, NotFound, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out.write_text(inline(text), encoding="utf-8")
    print(ngettext("wrote {path}: {n} report from {since} to {until} analysed in {seconds} s",
                   "wrote {path}: {n} reports from {since} to {until} analysed in {seconds} s",
                   len(study.reports)).format(
        path=out, n=f"{len(study.reports):,}", since=format_date(q.since),
        until=format_date(q.until), seconds=f"{time.perf_counter() - started:.1f}"))
    return 0


def cmd_locate(store: Store, args) -> int:
    import pyarrow as pa

    from geo.files.points import TableWriter, factorised_column
    from geo.store.base import LOCATED_COLUMNS

    at = _moment(args.at, "--at")
    points = _read_points(args.input)
    started = time.perf_counter()
    text = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema([("id", pa.string()), *((c, text) for c in LOCATED_COLUMNS)])
    inside = 0
    chunk = (_in_process(store, points, args.crs, at) if not args.scheduler else
             _on_cluster(args.scheduler, store, points, args.crs, at, args.partition))
    with TableWriter(args.output, schema) as writer:
        for sl in _chunks(len(points)):
            located = chunk(sl)
            columns = {c: factorised_column(*located[c]) for c in LOCATED_COLUMNS}
            inside += len(columns["grid_code"]) - columns["grid_code"].null_count
            writer.write(pa.table({"id": points.ids[sl], **columns}, schema=schema))
            _say(_("located {done}/{total}").format(done=f"{sl.stop:,}",
                                                     total=f"{len(points):,}"))
    print(_("located {n} points in {seconds} s: {inside} inside a grid, {outside} outside; "
            "wrote {path}").format(n=f"{len(points):,}",
                                   seconds=f"{time.perf_counter() - started:.2f}",
                                   inside=f"{inside:,}", outside=f"{len(points) - inside:,}",
                                   path=args.output))
    return 0


def _in_process(store: Store, points, crs: str, at):
    """Each chunk located as it is written."""
    return lambda sl: store.locate_factorised(points.lon[sl], points.lat[sl], crs=crs, at=at)


def _on_cluster(scheduler: str, store: Store, points, crs: str, at, partition: int):
    """Every point located on the cluster first (geo.cluster.locate), then cut into chunks."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(_("--scheduler needs Dask: pip install 'griddispatch[cluster]'")) from None
    from geo.cluster import locate as cluster

    if partition < 1:
        raise UsageError(_("--partition must be a positive number of points"))
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(_("cannot reach the Dask scheduler at {url} ({problem})").format(
            url=scheduler, problem=exc)) from None
    with client:
        workers = len(client.scheduler_info()["workers"])
        if not workers:
            raise UsageError(_("the Dask scheduler at {url} has no workers").format(url=scheduler))
        run = cluster.locate(client, store, points.lon, points.lat, crs=crs, at=at,
                             partition=partition)
    _say(ngettext("located on {workers} worker: {spread}",
                  "located on {workers} workers: {spread}", len(run.partitions_by_worker)).format(
        workers=len(run.partitions_by_worker),
        spread=", ".join(ngettext("{address} {n} partition", "{address} {n} partitions", n).format(
            address=a, n=n) for a, n in sorted(run.partitions_by_worker.items()))))
    return lambda sl: {c: (table, idx[sl]) for c, (table, idx) in run.located.items()}


_NEAREST_COLUMNS = {"distance": ["point", "rank", "team_id", "distance_m"],
                    "eta": ["point", "rank", "team_id", "distance_m", "eta_s", "road_m", "basis"]}


def cmd_nearest(store: Store, args) -> int:
    points = _read_points(args.input)
    team_filter = TeamFilter(kind=args.kind, statuses=tuple(args.status) if args.status else None,
                             category=args.category, street_code=args.street)
    by_eta = args.by == "eta"
    if by_eta and not store.counts(("roads",))["roads"]:
        _say(_("the database holds no roads (see griddispatch import-roads): every ETA is by "
               "straight line"))
    rank = store.nearest_by_eta_many if by_eta else store.nearest_teams_many
    started = time.perf_counter()
    parts = []
    for sl in _chunks(len(points)):
        part = rank(points.lon[sl], points.lat[sl], k=args.k,
                    team_filter=team_filter, crs=args.crs)
        part["point"] += sl.start
        parts.append(part)
        _say(_("ranked teams for {done}/{total}").format(done=f"{sl.stop:,}",
                                                        total=f"{len(points):,}"))
    ranked = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=_NEAREST_COLUMNS[args.by])
    ids = points.ids.take(ranked.pop("point").to_numpy(int)).to_numpy(zero_copy_only=False)
    ranked.insert(0, "id", ids)
    for col in ("distance_m", "eta_s", "road_m"):
        if col in ranked:
            ranked[col] = ranked[col].astype(float).round(2)
    from geo.files.points import write_table

    write_table(ranked, args.output)
    facts = {"k": args.k, "filter": team_filter.describe(), "n": f"{len(points):,}",
             "seconds": f"{time.perf_counter() - started:.2f}", "path": args.output}
    print((_("ranked the {k} quickest teams by road ({filter}) for {n} points in {seconds} s; "
             "wrote {path}") if by_eta else
           _("ranked the {k} nearest teams ({filter}) for {n} points in {seconds} s; wrote "
             "{path}")).format(**facts))
    if by_eta and len(ranked):
        straight = int((ranked.basis == "straight_line").sum())
        print(_("{straight} of {n} rankings are by straight line (the point or the team off the "
                "roads, or no route)").format(straight=f"{straight:,}", n=f"{len(ranked):,}"))
    return 0


def cmd_demo(store: Store, args) -> int:
    """Build the demo city if the database is empty, then answer sample questions about it."""
    from fixtures.jilin import generate

    city = _build_demo_if_empty(store)
    # The story places are the generator's; regenerate them (without issues) if needed.
    city_landmarks = (city or generate(n_issues=0)).landmarks
    for place, (lon, lat) in city_landmarks.items():
        where = store.locate(lon, lat)
        print(f"\n{place} ({lon:.5f}, {lat:.5f})")
        if where is None:
            print("  " + _("outside every grid"))
            continue
        print("  " + _("grid {code} {name} · {community} · {street} · {district}").format(
            code=where.grid_code, name=where.grid_name, community=where.community_name,
            street=where.street_name, district=where.district_name))
        # As a dispatch ranks them: enforcement teams on duty for the place's street.
        serving = TeamFilter(kind="enforcement", statuses=("available",), category="L01",
                             street_code=where.street_code, rosters=("A",))
        print("  " + _("nearest in a straight line:"))
        for t in store.nearest_teams(lon, lat, k=3, team_filter=serving):
            print(f"    {t.rank}. " + _("{name} ({team}), {distance} m").format(
                name=t.name, team=t.team_id, distance=f"{t.distance_m:,.0f}"))
        print("  " + _("first to arrive by road:"))
        for t in store.nearest_by_eta(lon, lat, k=3, team_filter=serving, geometry=False):
            facts = {"name": t.name, "team": t.team_id, "minutes": f"{t.eta_s / 60:.1f}",
                     "road": f"{t.road_m or 0:,.0f}", "bridges": ", ".join(t.via),
                     "straight": f"{t.distance_m:,.0f}"}
            if t.road_m is None:
                line = _("{name} ({team}), {minutes} min, by straight line: off the roads "
                         "({straight} m straight)")
            elif t.via:
                line = _("{name} ({team}), {minutes} min, {road} m by road, across the river via "
                         "{bridges} ({straight} m straight)")
            else:
                line = _("{name} ({team}), {minutes} min, {road} m by road ({straight} m "
                         "straight)")
            print(f"    {t.rank}. " + line.format(**facts))
        cams = store.cameras_seeing(lon, lat)
        seen = ", ".join(_("{camera} ({kind}, {distance} m)").format(
            camera=c.camera_id, kind=c.kind, distance=f"{c.distance_m:.0f}") for c in cams)
        print("  " + (_("cameras that see it: {cameras}").format(cameras=seen) if cams
                      else _("cameras that see it: none")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="griddispatch",
        description=_("Grid governance: locate issues to grids and rank the nearest teams."))
    parser.add_argument("--db", metavar="URL",
                        help=_("postgresql://... or sqlite:///path (default: "
                             "$GRIDDISPATCH_DATABASE_URL, else ./griddispatch.sqlite)"))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", help=_("create or upgrade the schema")).set_defaults(run=cmd_init)

    p = sub.add_parser("demo-data", help=_("load the generated demo Jilin City"))
    p.add_argument("--grids", type=int, default=DEFAULT_GRIDS,
                   help=_("grids of the four urban districts; 舒兰市, the detached county-level "
                          "city, adds about 5%% more"))
    p.add_argument("--issues", type=int, default=DEFAULT_ISSUES,
                   help=_("issues of the year's history; 舒兰市's story adds one"))
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--replace", action="store_true",
                   help=_("delete every layer first if the database already holds data"))
    p.set_defaults(run=cmd_demo_data)

    p = sub.add_parser("import-roads", help=_("store the road network of an OpenStreetMap .osm.pbf "
                                            "or a line file (.geojson, .gpkg, .shp, .zip, .fgb)"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("--replace", action="store_true",
                   help=_("replace the road network the database holds"))
    p.set_defaults(run=cmd_import_roads)

    p = sub.add_parser("import-compounds", help=_("store the compounds (and buildings) of "
                                                "polygon files (.geojson, .gpkg)"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("--buildings", metavar="FILE", help=_("the compounds' buildings"))
    p.add_argument("--replace", action="store_true",
                   help=_("replace the compounds the database holds, with their buildings, "
                          "units and heads"))
    p.set_defaults(run=cmd_import_compounds)

    p = sub.add_parser("export", help=_("write a layer to a file: .geojson, .gpkg, .fgb, .zip "
                                        "(a Shapefile) or .parquet (GeoParquet)"))
    p.add_argument("layer", choices=LAYERS)
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.set_defaults(run=cmd_export)

    for name, helptext, run in (("locate", _("the grid of each point in a file"), cmd_locate),
                                ("nearest", _("the nearest teams to each point in a file"),
                                 cmd_nearest)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("input", metavar="IN.csv|IN.parquet",
                       help=_("columns id,lon,lat (or a GeoParquet file of points with an id)"))
        p.add_argument("-o", "--output", required=True, metavar="OUT.csv|OUT.parquet")
        p.add_argument("--crs", choices=SOURCE_CRS, default="wgs84",
                       help=_("the CRS the coordinates were taken in (default wgs84)"))
        p.set_defaults(run=run)
        if name == "locate":
            p.add_argument("--at", metavar="YYYY-MM-DD[THH:MM]",
                           help=_("the grids valid at that moment (Beijing time unless an offset "
                                  "is given; default: now)"))
            p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                           default=os.environ.get("GRIDDISPATCH_SCHEDULER"),
                           help=_("locate on the Dask cluster of that scheduler (default: in "
                                  "this process, or $GRIDDISPATCH_SCHEDULER)"))
            p.add_argument("--partition", type=int, default=250_000, metavar="N",
                           help=_("points a cluster task locates (default 250,000)"))
        if name == "nearest":
            p.add_argument("-k", type=int, default=3, help=_("teams per point (default 3)"))
            p.add_argument("--by", choices=("distance", "eta"), default="distance",
                           help=_("straight-line distance (default), or travel time along the "
                                "roads (adds eta_s, road_m, basis)"))
            p.add_argument("--kind", choices=tuple(TEAM_KINDS))
            p.add_argument("--status", choices=TEAM_STATUSES, action="append",
                           help=_("repeat to allow several statuses"))
            p.add_argument("--category", help=_("issue category the team must handle, e.g. L01"))
            p.add_argument("--street", help=_("street code the team's jurisdiction must cover"))

    p = sub.add_parser("hotspots", help=_("write the hotspot map to a self-contained HTML file"))
    p.add_argument("-o", "--output", required=True, metavar="FILE.html")
    p.add_argument("--category", action="append", metavar="CODE",
                   help=_("repeat for several (default: all), e.g. L01 for street vendors"))
    p.add_argument("--area", metavar="CODE", help=_("district, street, community or grid code"))
    p.add_argument("--since", metavar="YYYY-MM-DD", help=_("default: a year before --until"))
    p.add_argument("--until", metavar="YYYY-MM-DD", help=_("exclusive; default: now"))
    p.add_argument("--slice", choices=("month", "week"), default="month")
    p.add_argument("--bins", choices=("grid", "h3"), default="grid")
    p.set_defaults(run=cmd_hotspots)

    sub.add_parser("demo", help=_("build the demo city if needed and answer sample questions")
                   ).set_defaults(run=cmd_demo)

    p = sub.add_parser("serve", help=_("run the HTTP API and maps"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help=_("worker processes (PostgreSQL only; SQLite serves from one)"))
    p.add_argument("--demo", action="store_true",
                   help=_("build the demo city and its demo accounts first if the database is empty"))
    p.add_argument("--simulate", action="store_true",
                   help=_("run `simulate` beside the server until it stops (a demo database "
                          "only)"))
    p.set_defaults(run=cmd_serve)

    from fixtures.simulation.arguments import add_arguments as simulate_arguments
    p = sub.add_parser("simulate", help=_("keep the demo city alive through a demo server's "
                                          "API: reports, dispatches, teams on the move"))
    simulate_arguments(p)
    p.set_defaults(run=cmd_simulate, no_store=True)

    users = sub.add_parser("users", help=_("manage user accounts")).add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    p = users.add_parser("add", help=_("create a user (asks for the password)"))
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--jurisdiction", action="append", metavar="CODE",
                   help=_("district (6-digit) or street (9-digit) code, or for roles below the "
                          "street a community (12-digit) code; repeat for several"))
    p.add_argument("--team", metavar="TEAM_ID", help=_("the team of a 'team' user"))
    p.add_argument("--company", metavar="COMPANY_ID",
                   help=_("the property company of a 'property' user"))
    p.add_argument("--department", metavar="DEPARTMENT_ID",
                   help=_("the department of a 'department' user"))
    p.add_argument("--name", help=_("display name"))
    p.add_argument("--password-stdin", action="store_true",
                   help=_("read the password from the first line of standard input"))
    p.set_defaults(run=cmd_users_add)
    for name, helptext, run in (
            ("disable", _("disable an account and end its sessions"), cmd_users_disable),
            ("enable", _("enable a disabled account"), cmd_users_enable),
            ("delete", _("delete an account, its API keys and its sessions"), cmd_users_delete),
            ("end-sessions", _("end every session of an account (log it out everywhere)"),
             cmd_users_end_sessions)):
        p = users.add_parser(name, help=helptext)
        p.add_argument("username")
        p.set_defaults(run=run)
    p = users.add_parser("set-role", help=_("change an account's role and jurisdiction (ends its "
                                          "sessions)"))
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--jurisdiction", action="append", metavar="CODE",
                   help=_("district (6-digit) or street (9-digit) code, or for roles below the "
                          "street a community (12-digit) code; repeat for several"))
    p.add_argument("--team", metavar="TEAM_ID", help=_("the team of a 'team' user"))
    p.add_argument("--company", metavar="COMPANY_ID",
                   help=_("the property company of a 'property' user"))
    p.add_argument("--department", metavar="DEPARTMENT_ID",
                   help=_("the department of a 'department' user"))
    p.set_defaults(run=cmd_users_set_role)

    keys = sub.add_parser("api-keys", help=_("manage Open311 API keys")).add_subparsers(
        dest="keys_command", required=True, metavar="ACTION")
    p = keys.add_parser("add", help=_("issue a new key for a user and print it once"))
    p.add_argument("username")
    p.add_argument("--label")
    p.set_defaults(run=cmd_api_key_add)
    p = keys.add_parser("revoke", help=_("revoke every key of a user (its sessions are separate: "
                                       "see users end-sessions)"))
    p.add_argument("username")
    p.set_defaults(run=cmd_api_keys_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with using(cli_language()):
        return _main(argv)


def _error(message) -> None:
    print(_("griddispatch: error: {message}").format(message=message), file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    url = args.url = args.db or default_url()
    if args.command == "serve" and args.workers > 1 and url.startswith("sqlite"):
        _error(_("--workers > 1 needs PostgreSQL; SQLite serves from one process"))
        return 2
    try:
        if getattr(args, "no_store", False):  # talks to a server, never to a database
            return args.run(None, args)
        with open_store(url) as store:
            return args.run(store, args)
    except (UsageError, StoreError, CoordinateError, ValueError, KeyError) as exc:
        _error(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())



