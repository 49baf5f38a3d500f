"""Planners' drafts of grid boundaries: open, edit (redraw, split, merge, move a boundary,
import a file), validate, preview and publish. Every change sends If-Match with the ETags of
what it changes (428 without, 412 when someone else changed it first)."""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import shapely
from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import Field
from shapely.geometry import mapping, shape

from api import deps
from api.errors import error_body
from api.geojson import MEDIA_TYPE, collection
from api.schemas import Strict
from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.i18n import _
from geo.planning import drafts
from geo.planning.impact import impact
from geo.planning.importing import BoundaryFileError, BoundaryFileTooLarge, read_boundaries
from geo.planning.publish import publish
from geo.planning.rawgeojson import finite_number
from geo.planning.validate import raw_ring_problems
from geo.store import Store

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])
SCOPE = "grids:plan"
DraftId = Annotated[int, PathParam(ge=1, le=2**62)]
Key = Annotated[str, PathParam(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=4000,
                                       description="the ETags of what the change is based on")]
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"}}
MAX_FILE_BYTES = 20 * 1024 * 1024
# The code of an area a draft may redraw: a district, a street or a community.
AREA_CODE = "^(" + "|".join(f"[0-9]{{{LENGTHS[level]}}}" for level in drafts.AREA_LEVELS) + ")$"


class Geometry(Strict):
    type: Literal["Polygon", "MultiPolygon", "LineString"]
    coordinates: list = Field(max_length=100_000)


class OpenIn(Strict):
    area_code: Annotated[str, Field(pattern=AREA_CODE)]
    title: Annotated[str, Field(max_length=200)] = ""


class RedrawIn(Strict):
    geometry: Geometry
    name: Annotated[str, Field(max_length=100)] | None = None


class SplitIn(Strict):
    key: Annotated[str, Field(min_length=1, max_length=40)]
    line: Geometry


class MergeIn(Strict):
    keys: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]],
                    Field(min_length=2, max_length=50)]


class BoundaryIn(Strict):
    a: Annotated[str, Field(min_length=1, max_length=40)]
    b: Annotated[str, Field(min_length=1, max_length=40)]
    line: Geometry


def etags(header: str | None) -> list[str] | None:
    """If-Match as a list of ETags (None when absent)."""
    if not header:
        return None
    return [t.strip() for t in header.split(",") if t.strip()]


def _position(p) -> bool:
    return isinstance(p, list) and len(p) in (2, 3) and all(finite_number(v) for v in p)


def _shaped(kind: str, coords) -> bool:
    """Whether GeoJSON coordinates are nested as `kind` needs, down to finite numbers."""
    def line(c):
        return isinstance(c, list) and len(c) >= 2 and all(_position(p) for p in c)

    def polygon(c):
        return isinstance(c, list) and len(c) >= 1 and all(line(r) for r in c)
    if kind == "LineString":
        return line(coords)
    if kind == "Polygon":
        return polygon(coords)
    return isinstance(coords, list) and len(coords) >= 1 and all(polygon(c) for c in coords)


def _geometry(g: Geometry, what: str, kind: tuple[str, ...]):
    if g.type not in kind:
        raise InvalidInput(_("{what} must be a GeoJSON {types}").format(
            what=what, types="/".join(kind)), code="invalid_geometry")
    if not _shaped(g.type, g.coordinates):
        raise InvalidInput(_("{what}: the coordinates of a GeoJSON {type} are lists of "
                             "[lon, lat] pairs of finite numbers").format(what=what, type=g.type),
                           code="invalid_geometry")
    raw = g.model_dump()
    unclosed = raw_ring_problems(what, raw)
    if unclosed:
        raise InvalidInput(unclosed[0].message, code="invalid_geometry")
    try:
        geom = shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InvalidInput(_("{what} is not a readable GeoJSON {type}: {problem}").format(
            what=what, type=g.type, problem=exc), code="invalid_geometry") from None
    if shapely.get_num_coordinates(geom) > 20_000:
        raise InvalidInput(_("{what} has more than 20,000 vertices").format(what=what),
                           code="invalid_geometry")
    return geom


def _upload_name(filename: str | None) -> str:
    """The uploaded file's own name, made safe for a temporary directory (messages quote it)."""
    name = Path(filename or "")
    stem = re.sub(r"[^\w-]", "_", name.stem)[:80] or "upload"
    return stem + re.sub(r"[^\w.]", "_", name.suffix.lower())[:12]


def draft_response(draft: drafts.Draft, status: int = 200):
    """The draft's grids as GeoJSON, each with its ETag; the draft's ETag in the header.
    Coordinates at full precision: a grid PUT back unchanged is unchanged, vertex for vertex."""
    props = [{"key": g.key, "code": g.code, "community_code": g.community_code, "name": g.name,
              "households": g.households, "version": g.version, "etag": g.etag(draft.id)}
             for g in draft.grids]
    about = {"id": draft.id, "area_code": draft.area_code, "title": draft.title,
             "state": draft.state, "version": draft.version, "etag": draft.etag,
             "created_by": draft.created_by, "created_at": draft.created_at,
             "published_at": draft.published_at}
    response = collection([g.key for g in draft.grids], [g.geom for g in draft.grids], props,
                          live=True, decimals=None, draft=about)
    response.status_code = status
    response.headers["ETag"] = draft.etag
    return response


@router.post("", status_code=201,
             responses={201: GEOJSON[200], 404: {"description": "no such area in your jurisdiction"}})
def open_draft(body: OpenIn, actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
               now: datetime = Depends(deps.now)):
    """Open a draft of a district's, street's or community's grids (a copy of the current
    ones)."""
    return draft_response(drafts.open_draft(store, actor, body.area_code, body.title, now), 201)


@router.get("/{draft_id}", responses=GEOJSON)
def get_draft(draft_id: DraftId, actor: Actor = deps.actor(SCOPE),
              store: Store = Depends(deps.store)):
    return draft_response(drafts.get_draft(store, actor, draft_id))


@router.put("/{draft_id}/grids/{key}", responses=GEOJSON)
def redraw(draft_id: DraftId, key: Key, body: RedrawIn, if_match: IfMatch = None,
           actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    """Redraw one grid (If-Match: that grid's ETag)."""
    geom = _geometry(body.geometry, _("grid {key}").format(key=key), ("Polygon", "MultiPolygon"))
    return draft_response(drafts.redraw(store, actor, draft_id, key, geom, body.name,
                                        etags(if_match)))


@router.post("/{draft_id}/split", responses=GEOJSON)
def split(draft_id: DraftId, body: SplitIn, if_match: IfMatch = None,
          actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    """Cut a grid along a line drawn across it (If-Match: the grid's ETag)."""
    line = _geometry(body.line, _("the cut"), ("LineString",))
    return draft_response(drafts.split(store, actor, draft_id, body.key, line, etags(if_match)))


@router.post("/{draft_id}/merge", responses=GEOJSON)
def merge(draft_id: DraftId, body: MergeIn, if_match: IfMatch = None,
          actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    """Merge neighbouring grids into the first (If-Match: every grid's ETag)."""
    return draft_response(drafts.merge(store, actor, draft_id, body.keys, etags(if_match)))


@router.post("/{draft_id}/boundary", responses=GEOJSON)
def move_boundary(draft_id: DraftId, body: BoundaryIn, if_match: IfMatch = None,
                  actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    """Move the boundary between two grids to a new line (If-Match: both grids' ETags)."""
    line = _geometry(body.line, _("the new boundary"), ("LineString",))
    return draft_response(drafts.move_boundary(store, actor, draft_id, body.a, body.b, line,
                                               etags(if_match)))


@router.post("/{draft_id}/import", responses=GEOJSON)
def import_file(draft_id: DraftId, file: Annotated[UploadFile, File()],
                shifted: Annotated[Literal["gcj02", "bd09"] | None, Form()] = None,
                code_field: Annotated[str, Form(max_length=64)] = "code",
                name_field: Annotated[str, Form(max_length=64)] = "name",
                if_match: IfMatch = None, actor: Actor = deps.actor(SCOPE),
                store: Store = Depends(deps.store)):
    """Replace the draft's grids by a file's polygons (GeoJSON, GeoPackage or a zipped
    Shapefile, in the CRS the file declares; If-Match: the draft's ETag). A plain `def`:
    reading and checking the file runs in the thread pool, off the event loop."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return JSONResponse(error_body("file_too_large", _(
            "the file is larger than {size} MiB").format(size=MAX_FILE_BYTES // 2**20)),
            status_code=413)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _upload_name(file.filename)
        path.write_bytes(data)
        try:
            imported = read_boundaries(path, code_field, shifted, name_field=name_field)
        except BoundaryFileTooLarge as exc:
            return JSONResponse(error_body("file_too_large", str(exc)), status_code=413)
        except BoundaryFileError as exc:
            raise InvalidInput(str(exc), code="unreadable_file") from None
    frame = imported.frame
    if frame.empty:
        raise InvalidInput(_("the file holds no features"), code="unreadable_file")
    codes = [str(c) if c is not None else None for c in
             (frame[code_field] if code_field in frame else [None] * len(frame))]
    names = [str(n) for n in (frame[name_field] if name_field in frame else [""] * len(frame))]
    draft = drafts.replace_all(store, actor, draft_id, codes, names, list(frame.geometry.values),
                               etags(if_match))
    return draft_response(draft)


@router.get("/{draft_id}/validation", responses=GEOJSON)
def validation(draft_id: DraftId, actor: Actor = deps.actor(SCOPE),
               store: Store = Depends(deps.store)):
    """Every problem of the draft, located: a feature per problem (no geometry when it has no
    place, such as a duplicate code)."""
    draft, problems = drafts.check_draft(store, actor, draft_id)
    return collection(list(range(len(problems))), [p.location for p in problems],
                      [p.as_dict() for p in problems], live=True, valid=not problems,
                      draft_etag=draft.etag)


@router.get("/{draft_id}/impact")
def preview(draft_id: DraftId, actor: Actor = deps.actor(SCOPE),
            store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """What publishing would change: grids added, removed and changed; open issues, cameras,
    key sites and teams changing grid; per grid before and after (area, households, issues
    of the last 90 days, compactness); the workload spread; suggested cuts for overloaded
    grids (a line to send to /split)."""
    result = impact(store, actor, draft_id, now)
    for cut in result["suggested_cuts"]:
        cut["line"] = mapping(cut["line"])
    return JSONResponse(result)


@router.post("/{draft_id}/publish")
def publish_draft(draft_id: DraftId, if_match: IfMatch = None, actor: Actor = deps.actor(SCOPE),
                  store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Publish the draft in one transaction (If-Match: the draft's ETag)."""
    result = publish(store, actor, draft_id, etags(if_match), now)
    return JSONResponse({**result, "published_at": result["published_at"].isoformat()})
