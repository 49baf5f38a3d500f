"""OGC API - Features at /ogc, for GIS clients (QGIS, GDAL's OAPIF driver, OWSLib): the landing
page, conformance, the collections and their items (Part 1 Core, GeoJSON and HTML; Part 2
CRS); in HTML for a browser (api/ogchtml.py: f=html, or text/html asked for first). Same
bearer tokens and jurisdiction as the rest of the API: GDAL sends the token through
GDAL_HTTP_HEADERS="Authorization: Bearer ...". Geometry goes out at full precision, so a
client reads every vertex as stored."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from api import deps, ogchtml
from api.geojson import MEDIA_TYPE, collection, feature
from geo.casework.errors import Forbidden, InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.i18n import _
from geo.ogc import crs as ogc_crs
from geo.ogc import filters
from geo.ogc.collections import SCOPES, Collection, collections, find
from geo.ogc.items import DEFAULT_LIMIT, MAX_LIMIT, city_bbox, item, items, parse_when, queryable
from geo.store import Store


def _vary(response: Response) -> None:
    """The answers differ by Accept (a page for a browser): caches must keep them apart."""
    response.headers["Vary"] = "Accept"


router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], dependencies=[Depends(_vary)])
SCOPE = "layers:read"
CONFORMANCE = ("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
               "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
               # Part 3 and the CQL2 classes whose operators tests/test_ogc_filter.py checks
               "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
               "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
               "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
               "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
               "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
               "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
               "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
               "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
               "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
               "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus")
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA = "application/schema+json"
JSON, GEOJSON = "application/json", MEDIA_TYPE
CollectionId = Annotated[str, PathParam(pattern=r"^[a-z]{1,20}$")]
FeatureId = Annotated[str, PathParam(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9@_.-]+$")]
CrsUri = Annotated[str | None, Query(max_length=200, description="the CRS of the answer's "
                                     "coordinates (default CRS84, lon/lat)")]
Format = Annotated[Literal["json", "html"] | None, Query(description=(
    "json or html (default: html when text/html is asked for first, as a browser does)"))]
DOCUMENT = {200: {"content": {JSON: {}, ogchtml.HTML: {}},
                  "description": "JSON, or HTML for a browser"}}
FEATURES = {200: {"content": {GEOJSON: {}, ogchtml.HTML: {}},
                  "description": "GeoJSON, or HTML for a browser"},
            404: {"description": "no such collection or feature that you can see"}}


def _link(href: str, rel: str, kind: str = JSON, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": kind}
    return link | {"title": title} if title else link


def _collection(request: Request, c: Collection, store: Store) -> dict:
    url = f"{deps.public_base(request)}/ogc/collections/{c.id}"
    return {"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
            "links": [_link(url, "self", JSON, c.title), ogchtml.alternate(url),
                      _link(f"{url}/items", "items", GEOJSON, c.title),
                      _link(f"{url}/queryables", QUERYABLES_REL, SCHEMA)],
            "extent": {"spatial": {"bbox": [list(city_bbox(store))], "crs": ogc_crs.CRS84}},
            "crs": list(ogc_crs.SUPPORTED), "storageCrs": ogc_crs.CRS84}


def _readable(request: Request, store: Store, cid: str) -> Collection:
    scopes = deps.granted(request)
    found = find(store, scopes | {SCOPES.get(cid, SCOPE)}, cid)
    if found is None:
        raise NotFound(_("no collection {collection}").format(collection=cid))
    if SCOPES.get(cid, SCOPE) not in scopes:
        raise Forbidden(_("the collection {collection} needs scope {scope}").format(
            collection=cid, scope=SCOPES[cid]))
    return found


def _crs(uri: str | None, parameter: str) -> str:
    try:
        return ogc_crs.check(uri, parameter)
    except ogc_crs.UnknownCrs as exc:
        raise InvalidInput(str(exc), code="unknown_crs") from None


def _bbox(text: str | None, uri: str):
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    box = ogc_crs.bbox_to_storage(tuple(values), uri) if len(values) == 4 else ()
    if (len(values) != 4 or not all(map(math.isfinite, [*values, *box]))
            or not (values[0] <= values[2] and values[1] <= values[3])):
        raise InvalidInput(_("bbox must be four finite numbers, the lower corner then the upper "
                             "one, in the axis order of bbox-crs"), code="invalid_bbox")
    return box


@router.get("", summary="Landing page", responses=DOCUMENT)
def landing(request: Request, f: Format = None, actor: Actor = deps.actor(SCOPE)):
    """What this service offers, with links to its conformance, collections and OpenAPI."""
    base = deps.public_base(request)
    doc = {"title": _("griddispatch grid governance: OGC API - Features"),
           "description": _("The city's grids and areas, cameras, key sites, teams and issues "
                            "as OGC API - Features collections."),
           "links": [_link(f"{base}/ogc", "self"), ogchtml.alternate(f"{base}/ogc"),
                      _link(f"{base}/openapi.json", "service-desc",
                            "application/vnd.oai.openapi+json;version=3.1"),
                      _link(f"{base}/docs", "service-doc", "text/html"),
                      _link(f"{base}/ogc/conformance", "conformance"),
                      _link(f"{base}/ogc/collections", "data")]}
    return ogchtml.landing(request, base, doc) if ogchtml.wants_html(request, f) else doc


@router.get("/conformance", summary="Conformance classes", responses=DOCUMENT)
def conformance(request: Request, f: Format = None, actor: Actor = deps.actor(SCOPE)):
    """The conformance classes this service passes: Core, GeoJSON, HTML and CRS by reference."""
    base = deps.public_base(request)
    doc = {"conformsTo": list(CONFORMANCE),
           "links": [_link(f"{base}/ogc/conformance", "self"),
                     ogchtml.alternate(f"{base}/ogc/conformance")]}
    return ogchtml.conformance(request, base, doc) if ogchtml.wants_html(request, f) else doc


@router.get("/collections", summary="Collections", responses=DOCUMENT)
def list_collections(request: Request, f: Format = None, actor: Actor = deps.actor(SCOPE),
                     store: Store = Depends(deps.store)):
    """The collections you may read (issues need scope issues:read; roads, compounds and
    buildings appear once the database holds some)."""
    base = deps.public_base(request)
    doc = {"links": [_link(f"{base}/ogc/collections", "self"),
                     ogchtml.alternate(f"{base}/ogc/collections")],
           "collections": [_collection(request, c, store)
                           for c in collections(store, deps.granted(request))]}
    return ogchtml.collections(request, base, doc) if ogchtml.wants_html(request, f) else doc


@router.get("/collections/{collection_id}", summary="A collection",
            responses={**DOCUMENT, 404: {"description": "no such collection"}})
def one_collection(collection_id: CollectionId, request: Request, f: Format = None,
                   actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    doc = _collection(request, _readable(request, store, collection_id), store)
    if ogchtml.wants_html(request, f):
        return ogchtml.collection(request, deps.public_base(request), doc)
    return doc


@router.get("/collections/{collection_id}/queryables", summary="Queryables of a collection",
            responses={200: {"content": {SCHEMA: {}}, "description": "a JSON Schema"},
                       404: {"description": "no such collection"}})
def collection_queryables(collection_id: CollectionId, request: Request,
                          actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store)):
    """The properties a `filter` on the collection's items may name, with their types."""
    c = _readable(request, store, collection_id)
    url = f"{deps.public_base(request)}/ogc/collections/{c.id}/queryables"
    return JSONResponse(filters.queryables_schema(url, c.title, queryable(store, c.id)),
                        media_type=SCHEMA)


@router.get("/collections/{collection_id}/items", summary="Features of a collection",
            responses=FEATURES)
def collection_items(
        collection_id: CollectionId, request: Request,
        bbox: Annotated[str | None, Query(max_length=200, description=(
            "lower corner, upper corner in the axis order of bbox-crs (CRS84: "
            "minlon,minlat,maxlon,maxlat)"))] = None,
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
        datetime_: Annotated[str | None, Query(alias="datetime", max_length=100, description=(
            "an RFC 3339 instant or interval (A/B, ../B, A/..): grids valid then, issues "
            "reported then"))] = None,
        limit: Annotated[int, Query(ge=1, le=2**31, description=(
            f"features per page; more than {MAX_LIMIT} is taken as {MAX_LIMIT}"))] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        filter_: Annotated[str | None, Query(alias="filter", max_length=4000, description=(
            "a CQL2 expression on the collection's queryables, e.g. "
            "district_code = '220202' AND households > 100"))] = None,
        filter_lang: Annotated[Literal["cql2-text", "cql2-json"] | None, Query(
            alias="filter-lang", description="the filter's encoding (default cql2-text)")] = None,
        filter_crs: Annotated[str | None, Query(alias="filter-crs", max_length=200, description=(
            "the CRS of the filter's geometries (default CRS84)"))] = None,
        crs: CrsUri = None, f: Format = None,
        actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
        now: datetime = Depends(deps.now)):
    """A page of features with numberMatched, numberReturned and `prev`/`next` links where
    there are pages before and after; coordinates in `crs` (header Content-Crs). A `filter`
    is matched against every feature the other parameters leave (at most 100,000)."""
    c = _readable(request, store, collection_id)
    out_crs, box_crs = _crs(crs, "crs"), _crs(bbox_crs, "bbox-crs")
    flt = filters.parse(filter_, filter_lang, _crs(filter_crs, "filter-crs"),
                        set(queryable(store, c.id)))
    limit = min(limit, MAX_LIMIT)
    page = items(store, actor, c.id, c.key, _bbox(bbox, box_crs), parse_when(datetime_), limit,
                 offset, now, flt)
    url = f"{deps.public_base(request)}/ogc/collections/{c.id}/items"
    asked = {k: v for k, v in request.query_params.items() if k not in ("offset", "f")}
    here = f"{url}?{urlencode({**asked, 'offset': offset})}"
    links = [_link(here, "self", GEOJSON), ogchtml.alternate(here),
             _link(f"{deps.public_base(request)}/ogc/collections/{c.id}", "collection")]
    if offset > 0:
        links.append(_link(f"{url}?{urlencode({**asked, 'offset': max(offset - limit, 0)})}",
                           "prev", GEOJSON))
    if offset + len(page.ids) < page.matched:
        links.append(_link(f"{url}?{urlencode({**asked, 'offset': offset + len(page.ids)})}",
                           "next", GEOJSON))
    if ogchtml.wants_html(request, f):
        return ogchtml.items(request, deps.public_base(request), c, page.ids, page.geoms,
                             page.props, page.matched, offset, links)
    response = collection(page.ids, ogc_crs.geometries_in(page.geoms, out_crs), page.props,
                          live=True, decimals=None, links=links,
                          timeStamp=datetime.now(UTC).isoformat(timespec="seconds"),
                          numberMatched=page.matched, numberReturned=len(page.ids))
    response.headers["Content-Crs"] = f"<{out_crs}>"
    response.headers["Vary"] = "Accept"
    return response


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature",
            responses=FEATURES)
def collection_item(collection_id: CollectionId, feature_id: FeatureId, request: Request,
                    crs: CrsUri = None, f: Format = None, actor: Actor = deps.actor(SCOPE),
                    store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """One feature by its id (a grid's code, or CODE@ROW for one of its past versions)."""
    c = _readable(request, store, collection_id)
    out_crs = _crs(crs, "crs")
    page = item(store, actor, c.id, c.key, feature_id, now)
    base = deps.public_base(request)
    if ogchtml.wants_html(request, f):
        return ogchtml.item(request, base, c, feature_id, page.geoms[0], page.props[0])
    here = f"{base}/ogc/collections/{c.id}/items/{feature_id}"
    response = feature(page.ids[0], ogc_crs.geometries_in(page.geoms, out_crs)[0], page.props[0],
                       decimals=None, links=[
                           _link(here, "self", GEOJSON), ogchtml.alternate(here),
                           _link(f"{base}/ogc/collections/{c.id}", "collection")])
    response.headers["Content-Crs"] = f"<{out_crs}>"
    response.headers["Vary"] = "Accept"
    return response
