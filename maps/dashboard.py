"""The command centre's big screen (/maps/dashboard, 大屏), for a 1920×1080 wall.

The page is a frame: every figure comes from `GET /api/v1/dashboard` (the same numbers as the
API's lists and /stats), drawn by maps/static/dashboard.js with ECharts and refreshed every
`map_refresh_seconds` without reloading. The map beside the figures is a small Leaflet map of
its own (street outlines and open issues by light from the layers API) rather than an
<iframe> of /maps/live: the pages refuse to be framed (`frame-ancestors 'none'`), which
keeps them from being clickjacked, and a wall needs the lights more than the live map's
controls. The map draws at most `MAP_LIMIT` open issues and says so when there are more.
Alarm rings are alarms.js's (`gdAlarms.ring`), the live map's own (alarms.js needs the pages'
griddispatch.js, which does nothing until called). Labels are written here in
the reader's language; those the script builds come from the pages' message table."""

from __future__ import annotations

import html

from geo.escalation.levels import LEVELS, level_label
from geo.i18n import _, html_lang
from maps import messages
from maps.assets import url
from maps.base import js

MAP_LIMIT = 5000  # open issues drawn on the screen's map: enough dots for a wall to read


def _panel(key: str, title: str, body: str = "", extra: str = "") -> str:
    return (f'<section class="gd-panel gd-p-{key}" id="panel-{key}"{extra}>'
            f"<h2>{html.escape(title)}</h2>{body}</section>")


def _figure(key: str, label: str) -> str:
    """A big numeral; the script fills `data-figure` elements from the answer."""
    return (f'<div class="gd-tile"><div class="gd-num" data-figure="{key}">–</div>'
            f'<div class="gd-label">{html.escape(label)}</div></div>')


def _chart(key: str) -> str:
    return f'<div class="gd-chart" id="chart-{key}"></div>'


def dashboard_page(settings, who: str, bounds) -> str:
    """The page for one viewer: `bounds` (lon/lat box) is their jurisdiction's extent."""
    config = {"refreshMs": int(settings.map_refresh_seconds * 1000), "bounds": list(bounds),
              "dashboard": "/api/v1/dashboard", "alarms": "/api/v1/alarms?status=open",
              "mapLimit": MAP_LIMIT}
    today = "".join(_figure(k, label) for k, label in (
        ("today.reported", _("Reported today")), ("today.accepted", _("Accepted today")),
        ("today.dispatched", _("Dispatched today")), ("today.closed", _("Closed today"))))
    lights = ('<div class="gd-lights">' + "".join(
        f'<div class="gd-light gd-{k}"><span class="gd-dot"></span>'
        f'<div class="gd-num" data-figure="lights.{k}">–</div>'
        f'<div class="gd-label">{html.escape(label)}</div></div>'
        for k, label in (("green", _("Green: on time")), ("yellow", _("Yellow: due soon")),
                         ("red", _("Red: overdue")))) + "</div>" + _chart("lights"))
    rows = "".join(
        f'<tr><th>{html.escape(label)}</th>' + "".join(
            f'<td data-figure="indicators.{w}.{k}">–</td>' for w in ("today", "d7", "d30"))
        + "</tr>"
        for k, label in (("on_time_rate", _("On-time closure rate")),
                         ("closure_rate", _("Closure rate")),
                         ("rework_rate", _("Rework rate")),
                         ("satisfaction", _("Satisfaction"))))
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in (_("Today"), _("7 days"), _("30 days")))
    indicators = ('<table class="gd-indicators"><thead><tr><th></th>'
                  f"{heads}</tr></thead><tbody>{rows}</tbody></table>")
    overdue = ('<table class="gd-overdue"><thead><tr>'
               + "".join(f"<th>{html.escape(h)}</th>" for h in (
                   _("Issue"), _("Street / grid"), _("Category"), _("Waiting for"),
                   _("Overdue by")))
               + '</tr></thead><tbody id="overdue-rows"></tbody></table>')
    # 小事不出楼栋、大事不出社区: the cases closed while each level owned them
    levels = ('<div class="gd-levels">' + "".join(
        f'<div class="gd-level"><div class="gd-num" data-figure="solved_by_level.levels.{k}.solved">'
        f'–</div><div class="gd-label">{html.escape(level_label(lv))}</div></div>'
        for k, lv in enumerate(LEVELS)) + "</div>")
    open_alarms = html.escape(_("Open alarms"))
    alarms = (f'<div class="gd-alarms" id="alarms" hidden><h3>{open_alarms}'
              '</h3><ul id="alarm-rows"></ul></div>')
    left = (_panel("today", _("Today"), f'<div class="gd-tiles">{today}</div>')
            + _panel("lights", _("Open issues by light"), lights)
            + _panel("indicators", _("National indicators (GB/T 30428.4)"), indicators)
            + _panel("levels", _("Solved at each level, last 30 days"), levels)
            + _panel("networks", _("Four networks, last 30 days"), _chart("networks")))
    centre = (_panel("map", _("Live map"), '<div id="map" class="gd-mapview"></div>' + alarms
                     + '<div id="map-note" class="gd-map-note" hidden></div>')
              + '<div class="gd-centre-bottom">'
              + _panel("trend", _("Reported and closed per day, last 30 days"), _chart("trend"))
              + _panel("categories", _("Top categories, last 30 days"), _chart("categories"))
              + "</div>")
    right = (_panel("overdue", _("Most overdue"),
                    '<div class="gd-sub" data-figure="overdue.total" data-format="overdue">'
                    "</div>" + overdue)
             + _panel("ranking", _("Areas by overdue issues, last 30 days"), _chart("ranking"))
             + _panel("teams", _("Teams"), _chart("teams")))
    title = _("Command centre big screen")
    page_title = html.escape(_("griddispatch: {title}").format(title=title))
    return f"""<!DOCTYPE html>
<html lang="{html_lang()}"><head><meta charset="utf-8">
<title>{page_title}</title>
<meta name="viewport" content="width=1920, initial-scale=1">
<link rel="icon" href="{url("app", "favicon.svg")}">
<link rel="stylesheet" href="{url("leaflet", "leaflet.css")}">
<link rel="stylesheet" href="{url("app", "dashboard.css")}">
<script src="{messages.url()}"></script>
<script src="{url("app", "i18n.js")}"></script>
<script src="{url("leaflet", "leaflet.js")}"></script>
<script src="{url("echarts", "echarts.min.js")}"></script>
<script src="{url("app", "griddispatch.js")}"></script>
<script src="{url("app", "alarms.js")}"></script>
</head><body class="gd-screen">
<header class="gd-head">
<h1>{html.escape(title)}</h1>
<div id="mode" class="gd-mode" data-figure="mode.mode" data-format="mode">–</div>
<div class="gd-meta"><span id="clock" class="gd-clock"></span>
<span id="updated" class="gd-updated"></span>
<span class="gd-who">{html.escape(who)}</span><a id="lang-switch" class="gd-lang"></a></div>
</header>
<main class="gd-body">
<div class="gd-col gd-left">{left}</div>
<div class="gd-col gd-centre">{centre}</div>
<div class="gd-col gd-right">{right}</div>
</main>
<div id="failure" class="gd-failure" role="alert" hidden></div>
<script>window.GD_DASHBOARD = {js(config)};</script>
<script src="{url("app", "dashboard.js")}"></script>
</body></html>"""
