"""The monthly assessment page (/maps/assessment, 考核评价): the ranking a supervisor prints.

One table per kind (teams, departments, streets, communities), written here from the same
answer as `GET /api/v1/assessment` (geo.assessment.monthly), in the reader's language with a
switch to the other; names that are data (Chinese) are marked as such on an English page.
The page needs no script: a month picker (a plain GET form), a print button, and print
styles (maps/static/assessment.css) that drop the controls and keep each table's head on
every printed page."""

from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import urlencode

from geo.assessment.period import recent_months
from geo.i18n import _, format_datetime, html_lang
from maps import messages
from maps.assets import url

DASH = "—"


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def _num(value) -> str:
    return DASH if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))


def _name(text: str) -> str:
    """A name that is data: marked Chinese, whatever the page's language."""
    return f'<span lang="zh-CN">{html.escape(text or "")}</span>'


def _table(key: str, title: str, rule: str, rows: dict, columns) -> str:
    """A ranked table; `columns` are (heading, cell(row) -> html, numeric?)."""
    head = "".join(f'<th{" class=num" if numeric else ""}>{html.escape(h)}</th>'
                   for h, _cell, numeric in columns)
    body = "".join(
        f'<tr data-code="{html.escape(r["code"])}">' + "".join(
            f'<td{" class=num" if numeric else ""}>{cell(r)}</td>' for _h, cell, numeric in columns)
        + "</tr>" for r in rows["items"])
    if not rows["items"]:
        empty = html.escape(_("Nothing to assess this month"))
        body = f'<tr><td colspan="{len(columns)}" class="gd-empty">{empty}</td></tr>'
    more = ""
    if rows["total"] > len(rows["items"]):
        more = ('<p class="gd-note">' + html.escape(_("The first {shown} of {total}").format(
            shown=len(rows["items"]), total=rows["total"])) + "</p>")
    return (f'<section class="gd-kind" id="kind-{key}"><h2>{html.escape(title)}</h2>'
            f'<p class="gd-rule">{html.escape(rule)}</p>'
            f'<table class="gd-rank" data-kind="{key}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{more}</section>")


def _casework_columns(label: str, extra=()):
    return [(_("Rank"), lambda r: str(r["rank"]), True),
            (label, lambda r: _name(r["name"]), False),
            (_("Cases closed"), lambda r: str(r["closed"]), True),
            (_("On-time closure rate"), lambda r: _pct(r["on_time_rate"]), True),
            (_("Rework rate"), lambda r: _pct(r["rework_rate"]), True),
            (_("Mean rating"), lambda r: _num(r["mean_rating"]), True),
            (_("Escalations received"), lambda r: str(r["escalations"]), True), *extra]


def _department_columns():
    return [(_("Rank"), lambda r: str(r["rank"]), True),
            (_("Department"), lambda r: _name(r["name"]), False),
            (_("Times called"), lambda r: str(r["called"]), True),
            (_("On-time report-in rate"), lambda r: _pct(r["on_time_report_in_rate"]), True),
            (_("Missed report-ins"), lambda r: str(r["missed_report_in"]), True),
            (_("Late report-ins"), lambda r: str(r["reported_in_late"]), True),
            (_("On-time part rate"), lambda r: _pct(r["on_time_part_rate"]), True),
            (_("Mean evaluation"), lambda r: _num(r["mean_rating"]), True),
            (_("Escalations received"), lambda r: str(r["escalations"]), True)]


def assessment_page(who: str, data: dict, now: datetime, path: str, lang_param: str) -> str:
    """The page for one reader: `data` is the assessment answer, `path` this page's path."""
    other, label = ("en", "English") if html_lang() == "zh-CN" else ("zh-CN", "中文")
    switch = html.escape(path + "?" + urlencode({"month": data["month"], lang_param: other}))
    title = _("Monthly assessment")
    whistles = (_("Whistles"), lambda r: str(r["whistles"]), True)
    tables = (
        _table("teams", _("Teams"), data["rules"]["casework"], data["teams"],
               _casework_columns(_("Team"))),
        _table("departments", _("Departments"), data["rules"]["departments"],
               data["departments"], _department_columns()),
        _table("streets", _("Streets"), data["rules"]["casework"], data["streets"],
               _casework_columns(_("Street"), (whistles,))),
        _table("communities", _("Communities"), data["rules"]["casework"], data["communities"],
               _casework_columns(_("Community"), (whistles,))),
    )
    period = _("Month {month} (Asia/Shanghai), issues closed and whistles called in it").format(
        month=data["month"])
    made = _("Printed for {who} at {time}").format(who=who, time=format_datetime(now))
    page_title = _("griddispatch: {title}").format(title=title)
    months = recent_months(now)
    if data["month"] not in months:
        months = [data["month"], *months]
    options = "".join(f'<option value="{m}"{" selected" if m == data["month"] else ""}>{m}'
                      "</option>" for m in months)
    say = {k: html.escape(v) for k, v in {
        "month": _("Month"), "show": _("Show"), "print": _("Print")}.items()}
    return f"""<!DOCTYPE html>
<html lang="{html_lang()}"><head><meta charset="utf-8">
<title>{html.escape(page_title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{url("app", "favicon.svg")}">
<link rel="stylesheet" href="{url("app", "assessment.css")}">
<script src="{messages.url()}"></script>
<script src="{url("app", "i18n.js")}"></script>
</head><body class="gd-assessment">
<header><h1>{html.escape(title)} {html.escape(data["month"])}</h1>
<p class="gd-period">{html.escape(period)}</p><p class="gd-made">{html.escape(made)}</p>
<form class="gd-controls" method="get"><label>{say["month"]}
<select name="month">{options}</select></label>
<input type="hidden" name="{lang_param}" value="{html_lang()}">
<button type="submit">{say["show"]}</button>
<button type="button" onclick="window.print()">{say["print"]}</button>
<a class="gd-lang" href="{switch}" hreflang="{other}" lang="{other}">{label}</a></form>
</header>
<main>{"".join(tables)}</main>
</body></html>"""
