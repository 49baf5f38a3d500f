"""The OGC API's HTML encoding (Part 1, requirements class HTML): each resource of /ogc as a page
in the reader's language, for a planner who opens the service in a browser after logging in to
the maps. The landing page, conformance and collections as lists with links; a page of items
as a table of its features' properties with a map of them and the links to the pages before
and after; one feature as its properties and its shape. Every page links to its JSON, and
every JSON answer to its page (rel "alternate").

A browser asks for text/html first; GIS clients ask for JSON or anything (GDAL, OWSLib, curl):
those get JSON unless they say f=html."""

from __future__ import annotations

import html
import json
from datetime import datetime
from urllib.parse import urlencode

import numpy as np
import shapely
from fastapi import Request
from fastapi.responses import HTMLResponse

from api.pages import language_switch, page_head, page_headers
from geo.i18n import N_, _, format_datetime
from geo.taxonomy import team_kind_label, team_status_label
from geo.workflow import labels, state_label
from maps import assets

HTML = "text/html"
MAX_COLUMNS = 10  # property columns of an items table; the feature's page has them all
MAP_DECIMALS = 7  # the pages' map draws to about a centimetre; the JSON has every digit
# The collections' properties as a reader names them (the JSON keeps the field names).
FIELD_LABELS = {
    "id": N_("Id"), "code": N_("Code"), "name": N_("Name"), "kind": N_("Kind"),
    "status": N_("Status"), "community_code": N_("Community code"),
    "street_code": N_("Street code"), "district_code": N_("District code"),
    "grid_code": N_("Grid code"), "compound_code": N_("Compound code"),
    "households": N_("Households"), "valid_from": N_("Valid from"), "valid_to": N_("Valid to"),
    "heading_deg": N_("Heading (°)"), "fov_deg": N_("Field of view (°)"),
    "range_m": N_("Range (m)"), "watch_level": N_("Watch level"),
    "department": N_("Department"), "roster": N_("Roster"),
    "position_at": N_("Position reported at"), "category_code": N_("Category code"),
    "category_name": N_("Category"), "state": N_("State"), "light": N_("Light"),
    "overdue": N_("Overdue"), "reported_at": N_("Reported at"), "due_at": N_("Due at"),
    "description": N_("Description"), "rating": N_("Rating"), "class": N_("Road class"),
    "oneway": N_("One way"), "speed_kmh": N_("Speed (km/h)"),
    "property_company_id": N_("Property company"), "built_year": N_("Built in"),
    "floors": N_("Floors"), "workers": N_("Grid workers"), "title": N_("Title")}
TIMES = {"valid_from", "valid_to", "position_at", "reported_at", "due_at"}
# Values that are codes for a word, by collection and property.
WORDS = {("issues", "state"): state_label, ("teams", "status"): team_status_label,
         ("teams", "kind"): team_kind_label}


def wants_html(request: Request, f: str | None) -> bool:
    """Whether to answer in HTML: `f=html`, or no `f` and text/html asked for first."""
    if f is not None:
        return f == "html"
    first = request.headers.get("accept", "").split(",")[0].strip().lower()
    return first.startswith(HTML)


def with_format(url: str, f: str) -> str:
    """`url` with its `f` parameter set to `f`."""
    base, _sep, query = url.partition("?")
    pairs = [p for p in query.split("&") if p and not p.startswith("f=")]
    return f"{base}?{'&'.join([*pairs, urlencode({'f': f})])}"


def alternate(url: str) -> dict:
    return {"href": with_format(url, "html"), "rel": "alternate", "type": HTML,
            "title": _("this document as HTML")}


def _e(value) -> str:
    return html.escape(str(value))


def _label(field: str) -> str:
    return _(FIELD_LABELS[field]) if field in FIELD_LABELS else field


def _cell(value, field: str = "", collection: str = "") -> str:
    """A property as a reader reads it: times in Asia/Shanghai, codes in words, yes or no,
    lists joined."""
    if value is None or value == "":
        return ""
    if (collection, field) in WORDS and isinstance(value, str):
        return _e(WORDS[collection, field](value))
    if field in TIMES and isinstance(value, str | datetime):
        try:
            return _e(format_datetime(value))
        except ValueError:
            return _e(value)
    if isinstance(value, bool):
        return _e(_("yes") if value else _("no"))
    if isinstance(value, list | tuple):
        return _e(labels(value, str))
    if isinstance(value, dict):
        return _e(json.dumps(value, ensure_ascii=False))
    return _e(value)


def _page(request: Request, title: str, crumbs: list[tuple[str, str | None]], body: str,
          json_url: str, map_data: dict | None = None, intro: str = "") -> HTMLResponse:
    """A page: its trail of links, title, `intro`, the map of `map_data`, `body`, and the
    link to its JSON."""
    trail = " / ".join(f'<a href="{_e(href)}">{_e(label)}</a>' if href else _e(label)
                       for label, href in crumbs)
    scripts = ""
    if map_data is not None:
        body = ('<div id="gd-ogc-map" class="gd-ogc-map"></div>'
                '<script type="application/json" id="gd-ogc-features">'
                + json.dumps(map_data, ensure_ascii=False).replace("<", "\\u003c") + "</script>"
                + body)
        scripts = (f'<link rel="stylesheet" href="{assets.url("leaflet", "leaflet.css")}">'
                   f'<script src="{assets.url("leaflet", "leaflet.js")}"></script>'
                   f'<script src="{assets.url("app", "ogc.js")}"></script>')
    other = _e(_("Other formats:"))
    text = (page_head(title) + f'<body><main class="gd-ogc">{language_switch(request)}'
            f'<nav class="gd-ogc-trail">{trail}</nav><h1>{_e(title)}</h1>{intro}{body}'
            f'<p class="gd-ogc-formats">{other} '
            f'<a href="{_e(with_format(json_url, "json"))}" type="application/json">JSON</a>'
            f"</p></main>{scripts}</body></html>")
    return HTMLResponse(text, headers={**page_headers(request.app.state.settings),
                                       "Vary": "Accept"})


def _home(base: str) -> tuple[str, str]:
    return _("OGC API - Features"), with_format(f"{base}/ogc", "html")


def _collections_crumb(base: str) -> tuple[str, str]:
    return _("Collections"), with_format(f"{base}/ogc/collections", "html")


def landing(request: Request, base: str, doc: dict) -> HTMLResponse:
    names = {"conformance": _("Conformance classes"), "data": _("Collections"),
             "service-desc": _("The API's description (OpenAPI)"),
             "service-doc": _("The API's reference")}
    ours = ("conformance", "data")  # the others are pages of their own

    def href(link: dict) -> str:
        return with_format(link["href"], "html") if link["rel"] in ours else link["href"]
    items = "".join(f'<li><a href="{_e(href(link))}">{_e(names[link["rel"]])}</a></li>'
                    for link in doc["links"] if link["rel"] in names)
    return _page(request, doc["title"], [(_("OGC API - Features"), None)],
                 f"<p>{_e(doc['description'])}</p><ul>{items}</ul>", f"{base}/ogc")


def conformance(request: Request, base: str, doc: dict) -> HTMLResponse:
    items = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in doc["conformsTo"])
    intro = _e(_("The conformance classes this service passes."))
    return _page(request, _("Conformance classes"), [_home(base), (_("Conformance"), None)],
                 f"<p>{intro}</p><ul>{items}</ul>", f"{base}/ogc/conformance")


def _collection_row(c: dict) -> str:
    items = next(link["href"] for link in c["links"] if link["rel"] == "items")
    here = next(link["href"] for link in c["links"] if link["rel"] == "self")
    word = _e(_("features"))
    return (f'<tr><td><a href="{_e(with_format(here, "html"))}">{_e(c["title"])}</a></td>'
            f"<td><code>{_e(c['id'])}</code></td><td>{_e(c['description'])}</td>"
            f'<td><a href="{_e(with_format(items, "html"))}">{word}</a></td></tr>')


def collections(request: Request, base: str, doc: dict) -> HTMLResponse:
    head = "".join(f"<th>{_e(h)}</th>" for h in (_("Title"), _("Id"), _("Description"), ""))
    rows = "".join(_collection_row(c) for c in doc["collections"])
    return _page(request, _("Collections"), [_home(base), (_("Collections"), None)],
                 f'<table class="gd-ogc-table"><thead><tr>{head}</tr></thead>'
                 f"<tbody>{rows}</tbody></table>", f"{base}/ogc/collections")


def collection(request: Request, base: str, doc: dict) -> HTMLResponse:
    items = next(link["href"] for link in doc["links"] if link["rel"] == "items")
    west, south, east, north = doc["extent"]["spatial"]["bbox"][0]
    crs = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in doc["crs"])
    say = {k: _e(v) for k, v in {"id": _("Id"), "extent": _("Extent (lon/lat)"),
                                 "crs": _("Coordinate reference systems"),
                                 "browse": _("Browse the features")}.items()}
    body = (f"<p>{_e(doc['description'])}</p><dl class='gd-ogc-facts'>"
            f"<dt>{say['id']}</dt><dd><code>{_e(doc['id'])}</code></dd>"
            f"<dt>{say['extent']}</dt>"
            f"<dd>{west:.5f}, {south:.5f} — {east:.5f}, {north:.5f}</dd>"
            f"<dt>{say['crs']}</dt><dd><ul>{crs}</ul></dd></dl>"
            f'<p><a href="{_e(with_format(items, "html"))}">{say["browse"]}</a></p>')
    return _page(request, doc["title"], [_home(base), _collections_crumb(base),
                                         (doc["title"], None)],
                 body, f"{base}/ogc/collections/{doc['id']}")


def _map_data(ids, geoms, props: list[dict]) -> dict:
    rounded = shapely.transform(np.asarray(geoms, dtype=object),
                                lambda xy: np.round(xy, MAP_DECIMALS))
    features = [{"type": "Feature", "id": i,
                 "geometry": None if g is None else json.loads(shapely.to_geojson(g)),
                 "properties": {"name": p.get("name") or p.get("code") or str(i)}}
                for i, g, p in zip(ids, rounded, props, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def items(request: Request, base: str, c, ids, geoms, props: list[dict], matched: int,
          offset: int, links: list[dict]) -> HTMLResponse:
    """A page of a collection's features: the table, the map, the pages before and after."""
    here = f"{base}/ogc/collections/{c.id}"
    columns = [k for k in dict.fromkeys(k for p in props[:50] for k in p) if k != "id"]
    columns = columns[:MAX_COLUMNS]
    head = "".join(f"<th>{_e(_label(k))}</th>" for k in ["id", *columns])
    rows = "".join(
        f'<tr><td><a href="{_e(with_format(f"{here}/items/{i}", "html"))}">{_e(i)}</a></td>'
        + "".join(f"<td>{_cell(p.get(k), k, c.id)}</td>" for k in columns) + "</tr>"
        for i, p in zip(ids, props, strict=True))
    count = (_("features {first} to {last} of {matched}").format(
        first=offset + 1, last=offset + len(ids), matched=matched) if ids else
        _("no features here ({matched} in all)").format(matched=matched))
    words = {"prev": _("previous page"), "next": _("next page")}
    pager = [f'<a rel="{link["rel"]}" href="{_e(with_format(link["href"], "html"))}">'
             f'{_e(words[link["rel"]])}</a>' for link in links if link["rel"] in words]
    self_url = next(link["href"] for link in links if link["rel"] == "self")
    intro = (f'<p class="gd-ogc-count">{_e(count)}</p>'
             f'<p class="gd-ogc-pager">{" · ".join(pager)}</p>')
    table = (f'<table class="gd-ogc-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
             "</table>")
    return _page(request, _("{collection}: features").format(collection=c.title),
                 [_home(base), _collections_crumb(base),
                  (c.title, with_format(here, "html")), (_("Features"), None)],
                 table, self_url, _map_data(ids, geoms, props), intro)


def item(request: Request, base: str, c, fid: str, geom, props: dict) -> HTMLResponse:
    here = f"{base}/ogc/collections/{c.id}"
    rows = "".join(f'<tr><th>{_e(_label(k))}</th><td data-field="{_e(k)}">'
                   f"{_cell(v, k, c.id)}</td></tr>" for k, v in props.items())
    return _page(request, f"{c.title} {fid}",
                 [_home(base), _collections_crumb(base), (c.title, with_format(here, "html")),
                  (_("Features"), with_format(f"{here}/items", "html")), (fid, None)],
                 f'<table class="gd-ogc-table gd-ogc-properties"><tbody>{rows}</tbody></table>',
                 f"{here}/items/{fid}", _map_data([fid], [geom], [props]))
