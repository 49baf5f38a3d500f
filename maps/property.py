"""The red/black list page (/maps/property, 红黑榜): the ranked property companies with their
red and black marks, trend arrows and proposed talks, the rule in words, and a Leaflet map of
their compounds coloured by their company's standing.

The page is a frame: the list, the rule and the compounds come from the API
(`/api/v1/property/ranking` and `/api/v1/property/compounds`, the same figures as the CSV
bulletin), drawn by maps/static/property.js. The standing colours are the categories' palette's
(maps/palette.py), so they stay apart for red-green colour-blind readers too."""

from __future__ import annotations

import html

from geo.i18n import _, html_lang
from maps import messages
from maps.assets import url
from maps.base import js
from maps.palette import PALETTE

# Red list 红榜 (the honour list), black list 黑榜, on neither list, not ranked.
STANDING_COLOURS = {"red": PALETTE[3], "black": PALETTE[14], "middle": PALETTE[4],
                    "unranked": PALETTE[8]}


def property_page(who: str, period: str, basemap: bool, can_talk: bool) -> str:
    """The page for one viewer: `period` the list's label ('2026-10' or
    '2026-10-01..2026-10-15'), `basemap` whether the viewer may read our
    roads and names, `can_talk` whether they may record talks."""
    since, _dots, until = period.partition("..")
    query = f"since={since}&until={until}" if until else f"period={period}"
    config = {"query": query, "ranking": "/api/v1/property/ranking",
              "compounds": "/api/v1/property/compounds", "csv": "/api/v1/property/ranking.csv",
              "companies": "/api/v1/property/companies/", "colours": STANDING_COLOURS,
              "basemap": basemap, "canTalk": can_talk}
    title = _("Property companies' red/black list")
    page_title = html.escape(_("griddispatch: {title}").format(title=title))
    say = {k: html.escape(v) for k, v in {
        "month": _("Month"), "show": _("Show"), "csv": _("Download the bulletin (CSV)"),
        "rule": _("The rule"), "talks": _("Talks proposed"), "map": _("Compounds by standing"),
        "list": _("Ranking")}.items()}
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in (
        _("Rank"), _("Trend"), _("Company"), _("Standing"), _("Score"),
        _("Complaints per 1,000 households"), _("On-time closure rate"), _("Rework rate"),
        _("Mean rating"), _("Talk")))
    return f"""<!DOCTYPE html>
<html lang="{html_lang()}"><head><meta charset="utf-8">
<title>{page_title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{url("app", "favicon.svg")}">
<link rel="stylesheet" href="{url("leaflet", "leaflet.css")}">
<link rel="stylesheet" href="{url("app", "griddispatch.css")}">
<link rel="stylesheet" href="{url("app", "property.css")}">
<script src="{messages.url()}"></script>
<script src="{url("app", "i18n.js")}"></script>
<script src="{url("leaflet", "leaflet.js")}"></script>
<script src="{url("app", "griddispatch.js")}"></script>
<script src="{url("app", "basemap.js")}"></script>
</head><body class="gd-property">
<header class="gd-property-head">
<h1>{html.escape(title)}</h1>
<form id="period" class="gd-period"><label>{say["month"]}
<select name="period" id="period-month"></select></label>
<button type="submit">{say["show"]}</button></form>
<span id="period-words" class="gd-period-words"></span>
<a id="csv" class="gd-csv" href="#">{say["csv"]}</a>
<span class="gd-who">{html.escape(who)}</span><a id="lang-switch" class="gd-lang"></a>
</header>
<main class="gd-property-body">
<section class="gd-property-list"><h2>{say["list"]}<span id="ranked-note" class="gd-note"></span></h2>
<table id="ranking"><thead><tr>{heads}</tr></thead><tbody id="ranking-rows"></tbody></table>
<h2>{say["talks"]}</h2><ul id="talk-rows"></ul>
<h2>{say["rule"]}</h2><ol id="rule-rows"></ol>
</section>
<section class="gd-property-map"><h2>{say["map"]}</h2><div id="map"></div>
<div id="map-legend" class="gd-property-legend"></div></section>
</main>
<div id="failure" class="gd-failure" role="alert" hidden></div>
<script>window.GD_PROPERTY = {js(config)};</script>
<script src="{url("app", "property.js")}"></script>
</body></html>"""
