"""The monthly bulletin's export of the red/black list: CSV in UTF-8 with a byte-order mark
(so that Excel opens Chinese as Chinese), headed in the reader's language, one line per company
in rank order, rates in percent."""

from __future__ import annotations

import csv
import io

from geo.casework.scope import Actor
from geo.i18n import N_, _
from geo.property.period import Period
from geo.property.ranking import ranking

BOM = "\ufeff"
STANDINGS = {"red": N_("red list"), "black": N_("black list"), "middle": N_("on neither list"),
             "unranked": N_("not ranked")}


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.2f}"


def _plain(value) -> str:
    return "" if value is None else str(value)


def columns() -> list[str]:
    return [_("Rank"), _("Company ID"), _("Company"), _("Standing"), _("Score"),
            _("Compounds"), _("Households"), _("Complaints"),
            _("Complaints per 1,000 households"), _("On-time closure rate (%)"),
            _("Rework rate (%)"), _("Mean rating"), _("Ratings"), _("Previous rank"),
            _("Rank change"), _("Score change"), _("Talk proposed")]


def csv_text(store, actor: Actor, period: Period) -> tuple[str, str]:
    """(file name, text with its BOM) of `period`'s list as `actor` may see it."""
    answer = ranking(store, actor, period)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns())
    for c in answer["companies"]:
        writer.writerow([
            _plain(c["rank"]), c["company_id"], c["name"], _(STANDINGS[c["standing"]]),
            _plain(c["score"]), c["compounds"], c["households"], c["complaints"],
            _plain(c["per_1000"]), _percent(c["on_time_rate"]), _percent(c["rework_rate"]),
            _plain(c["rating"]), c["rated"], _plain(c["previous"]["rank"]),
            _plain(c["rank_change"]), _plain(c["score_change"]),
            _("yes") if c["talk_proposed"] else _("no")])
    return f"property-ranking-{period.label}.csv", BOM + out.getvalue()
