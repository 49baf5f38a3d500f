"""What a hotspot analysis will cost, estimated before it runs, and the limits it must keep.

The estimates come from the study's area, the settings and the count of its reports (counted
in the database; `Study` reads them only when an analysis first uses them), so a refusal takes
milliseconds instead of the minutes and gigabytes it spares. The repeat search alone is priced
on the reports' positions: after they are read (seconds), before it runs (up to hours). A
refusal is a `TooCostly` (an InvalidInput: 422 on the API and the map page, exit status 2 on
the command line) that names the setting to change and a value that fits. The limits are in
`Limits`; the defaults keep a whole hotspot map to about half a minute and half a gigabyte
on a 2-core machine, and admit a year of a million reports over 5,000 grids with monthly
slices (bench/bench_hotspots.py).

The seconds are bounded too, but only between steps: `time_limit` sets a deadline that the
per-slice loops and the map's steps check with `on_time`."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.casework.errors import InvalidInput
from geo.hotspots.bins import H3_RESOLUTIONS, expected_cells
from geo.hotspots.clusters import MAX_LATTICE_CELLS, SNAP_FRACTION
from geo.hotspots.clusters import part_gap as cluster_gap
from geo.hotspots.density import MAX_CELLS as HEAT_MAX_CELLS
from geo.hotspots.density import part_gap
from geo.hotspots.emerging import MIN_SLICES, SLICE_SECONDS, slice_edges
from geo.hotspots.parts import boxes
from geo.hotspots.reports import Reports, epoch
from geo.i18n import _, format_date, local

if TYPE_CHECKING:
    from geo.hotspots.analysis import Params
    from geo.hotspots.study import Study


@dataclass(frozen=True)
class Limits:
    """What one analysis may cost. Times are from this project's 2-core machine."""

    reports: int = 1_500_000  # read, clustered and searched: the bench's 1,000,000 take 19 s
    bins: int = 50_000  # grids or H3 cells: 40,000 hexagons take 3 s to build
    cube_cells: int = 4_000_000  # bins × slices of the space-time cube: about 3 s, 300 MB
    heat_cells: int = 100_000_000  # heat-map lattice cells × slices: about 6 s
    cluster_cells: int = 250_000_000  # DBSCAN lattice cells × clustered slices: about 7 s
    answer_bytes: int = 16 * 2**20  # one GeoJSON answer, before gzip
    # closures the repeat search compares, about 190 million a second: about 10 s (the bench's
    # 30 m and 30 days compare 54 million; 1,000 m and 365 days would compare 9 billion)
    repeat_checks: int = 2_000_000_000
    seconds: float = 60.0  # wall time of one analysis, checked between its steps


LIMITS = Limits()

# The answer estimate: bytes of one bin feature, and of each vertex of its outline (measured
# on Gi* answers: 346-352 bytes for grids of 5 and hexagons of 7 vertices).
FEATURE_BYTES = 200
VERTEX_BYTES = 25
HEAT_BANDWIDTHS_MARGIN = 3.0  # density.frame's margin around the reports
CLUSTER_REACH = math.ceil(1 / SNAP_FRACTION)  # clusters._may_cluster's margin, in cells
MAX_EPS_M = 2000  # the largest eps an analysis accepts (analysis.Params.check)

# What each analysis costs besides its reports (which every one of them reads).
COSTS = {
    "density": (),  # one surface, capped by density.MAX_CELLS; at most 5,000 points answered
    "clusters": (),  # one lattice, capped by clusters.MAX_LATTICE_CELLS
    "gistar": ("bins", "answer"),
    "emerging": ("bins", "cube"),
    "displacement": ("slice clusters",),
    "repeats": ("repeat checks",),  # grows with the radius², the days and the local density
    "map": ("bins", "cube", "heat", "slice clusters", "repeat checks"),
}


class TooCostly(InvalidInput):
    """An analysis that would cost more than a limit allows; the message says what to change."""

    code = "too_costly"


def _choose(options: list[str | None]) -> str:
    """The advice: the options that fit, each a whole phrase (a setting and its value, or a
    translated phrase), offered as alternatives."""
    options = [o for o in options if o]
    if len(options) == 1:
        return _("choose {option}").format(option=options[0])
    if len(options) == 2:
        return _("choose {first} or {last}").format(first=options[0], last=options[1])
    # TRANSLATORS: {options} are alternatives separated by the ", " below; {last} the last.
    return _("choose {options}, or {last}").format(options=_(", ").join(options[:-1]),
                                                  last=options[-1])


def _refusal(problem: str, limit: str, options: list[str | None]) -> TooCostly:
    """A refusal in one sentence: what the analysis would cost, the limit, what to change."""
    return TooCostly(_("{problem}: at most {limit}; {advice}").format(
        problem=problem, limit=limit, advice=_choose(options)))


def _since(t: datetime) -> str:
    """The advice of a later start, as the `since` parameter is written (ISO 8601)."""
    return _("since {date} or later").format(date=_day_after(t))


def _day_after(t: datetime) -> str:
    """`t` as a date in Asia/Shanghai (as `since` is read), rounded up to the next midnight
    (a window starting then is shorter)."""
    t = local(t)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight if midnight == t else midnight + timedelta(days=1)).date().isoformat()


def check_reports(count: int, since: datetime, until: datetime, where: str) -> None:
    """Refuse a window holding more reports than one analysis may read (counted first)."""
    limit = LIMITS.reports
    if count <= limit:
        return
    shorter = until - (until - since) * (limit / count)
    raise _refusal(_("{where} holds {count} reports from {since} to {until}").format(
        where=where, count=f"{count:,}", since=format_date(since), until=format_date(until)),
        _("{n} per analysis").format(n=f"{limit:,}"),
        [_since(shorter), _("fewer categories"), _("a smaller area")])


def slices(study: Study, step: str) -> int:
    """The number of `step` slices of the study's window (InvalidInput when too few or many)."""
    q = study.query
    try:
        return len(slice_edges(epoch(q.since), epoch(q.until), step)) - 1
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def bin_count(study: Study, kind: str, h3_resolution: int | None = None) -> int:
    """The bins an analysis would use: the study's grids, or about how many H3 cells."""
    if kind == "grid":
        return len(study.grids)
    return expected_cells(study.outline, study.resolution(h3_resolution))


def _fitting_resolution(study: Study, most: int, below: int | None = None) -> int | None:
    """The finest H3 resolution (coarser than `below`) of which the study holds at most `most`
    cells."""
    for res in reversed(H3_RESOLUTIONS):
        if (below is None or res < below) and expected_cells(study.outline, res) <= most:
            return res
    return None


def _where(study: Study) -> str:
    return _("{area} ({km2} km²)").format(area=_(study.label).format(area=study.query.area),
                                          km2=f"{study.area_m2 / 1e6:,.0f}")


def _check_bins(study: Study, kind: str, h3_resolution: int | None) -> int:
    n, limit = bin_count(study, kind, h3_resolution), LIMITS.bins
    if n <= limit:
        return n
    coarser = _fitting_resolution(study, limit)
    smaller = _("a smaller area")
    if kind == "grid":
        raise _refusal(_("{where} has {n} grids").format(where=_where(study), n=f"{n:,}"),
                       _("{n} bins").format(n=f"{limit:,}"),
                       [coarser and _h3(coarser), smaller])
    res = study.resolution(h3_resolution)
    problem = (_("h3_resolution {res} gives about {n} cells in {where}") if h3_resolution
               else _("bins h3 (resolution {res}) gives about {n} cells in {where}"))
    raise _refusal(problem.format(res=res, n=f"{n:,}", where=_where(study)), f"{limit:,}",
                   [coarser and f"h3_resolution {coarser}", smaller])


def _h3(resolution: int) -> str:
    return _("bins h3 with h3_resolution {res}").format(res=resolution)


@dataclass(frozen=True)
class PerSlice:
    """A cost that grows with the slices: `per` each, plus `fixed`, against `limit`."""

    per: float
    fixed: float
    limit: float

    def fits(self, n: int) -> bool:
        return n * self.per + self.fixed <= self.limit

    def most(self) -> float:
        return (self.limit - self.fixed) // self.per if self.per else math.inf


def _fewer_slices(study: Study, step: str, n: int, costs: list[PerSlice]) -> list[str]:
    """Monthly slices, or a later start, when either brings every cost of `costs` in."""
    out = []
    if step == "week":
        months = int((epoch(study.query.until) - epoch(study.query.since))
                     // SLICE_SECONDS["month"])
        if months >= MIN_SLICES and all(c.fits(months) for c in costs):
            out.append(_("slice month"))
    fit = min(c.most() for c in costs)
    if MIN_SLICES <= fit < n:
        start = study.query.until - timedelta(seconds=int(fit) * SLICE_SECONDS[step])
        out.append(_since(start))
    return out


Extents = list[tuple[float, float]]


def extents_m(study: Study, gap_m: float) -> Extents:
    """Width and height in EPSG:4551 metres of each detached part of the study area, as an
    analysis whose parts are `gap_m` apart lays its lattices (geo.hotspots.parts); parts up to
    twice that apart are taken as one, so that the estimate is never short."""
    return [(x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes(study.outline_metric(), 2 * gap_m)]


def heat_extents(study: Study, bandwidth_m: float) -> Extents:
    return extents_m(study, part_gap(bandwidth_m, bandwidth_m / 3, HEAT_BANDWIDTHS_MARGIN))


def cluster_extents(study: Study, eps_m: float) -> Extents:
    return extents_m(study, cluster_gap(eps_m))


def heat_lattice(extents: Extents, bandwidth_m: float) -> int:
    """Cells of one heat map (density.part_lattices: a third of the bandwidth, margins
    included, over each part)."""
    pad, cell = 2 * HEAT_BANDWIDTHS_MARGIN * bandwidth_m, bandwidth_m / 3
    cells = sum(math.ceil((w + pad) / cell) * math.ceil((h + pad) / cell) for w, h in extents)
    return min(cells, HEAT_MAX_CELLS)


def cluster_lattice(extents: Extents, eps_m: float) -> int:
    """Cells of the DBSCAN lattices (clusters._may_cluster: a quarter of eps, with its
    margin, over each part); a part beyond MAX_LATTICE_CELLS counts 0, as DBSCAN does
    without a lattice there at a cost that follows the reports (bounded by their limit)."""
    cell, margin = eps_m * SNAP_FRACTION, 2 + 2 * CLUSTER_REACH
    cells = [(int(w // cell) + margin) * (int(h // cell) + margin) for w, h in extents]
    return sum(c for c in cells if c <= MAX_LATTICE_CELLS)


def _wider_eps(study: Study, eps_m: float, runs: int, limit: float) -> str | None:
    """The advice of an eps (in steps of 5 m) whose lattices fit `limit`; the lattice shrinks
    with the square of eps, so the search starts near the answer."""
    cost = runs * cluster_lattice(cluster_extents(study, eps_m), eps_m)
    eps = math.ceil(eps_m * math.sqrt(cost / limit) / 5) * 5
    while eps <= MAX_EPS_M:
        if runs * cluster_lattice(cluster_extents(study, eps), eps) <= limit:
            return _("eps_m {eps} or more").format(eps=f"{eps:g}")
        eps += 5
    return None


def _slice_costs(study: Study, analysis: str, p: Params, bins: int) -> dict[str, PerSlice]:
    """The costs of `analysis` that grow with the slices, by the limit they answer to."""
    costs = {}
    if "cube" in COSTS[analysis]:
        costs["cube"] = PerSlice(bins, 0, LIMITS.cube_cells)
    if "heat" in COSTS[analysis]:
        costs["heat"] = PerSlice(heat_lattice(heat_extents(study, p.bandwidth_m), p.bandwidth_m),
                                 0, LIMITS.heat_cells)
    if "slice clusters" in COSTS[analysis]:  # the map clusters the whole window as well
        lattice = cluster_lattice(cluster_extents(study, p.eps_m), p.eps_m)
        costs["slice clusters"] = PerSlice(lattice, lattice if analysis == "map" else 0,
                                           LIMITS.cluster_cells)
    return costs


def _check_slices(study: Study, analysis: str, p: Params, h3_resolution: int | None,
                  bins: int) -> None:
    costs = _slice_costs(study, analysis, p, bins)
    if not costs:
        return
    n = slices(study, p.slice)
    for name, cost in costs.items():
        if cost.fits(n):
            continue
        total = int(n * cost.per + cost.fixed)
        options = _fewer_slices(study, p.slice, n, list(costs.values()))
        weekly = p.slice == "week"
        if name == "cube":
            most_bins = LIMITS.cube_cells // n
            if p.bins == "h3":
                coarser = _fitting_resolution(study, most_bins, study.resolution(h3_resolution))
                options.append(coarser and f"h3_resolution {coarser}")
            elif (res := _fitting_resolution(study, most_bins)) is not None:
                options.append(_h3(res))
            what = (_("{bins} bins × {n} weekly slices make {total} space-time cells") if weekly
                    else _("{bins} bins × {n} monthly slices make {total} space-time cells")
                    ).format(bins=f"{bins:,}", n=n, total=f"{total:,}")
        elif name == "heat":
            what = (_("{n} weekly heat maps of {per} cells each over {where} make {total} cells")
                    if weekly else
                    _("{n} monthly heat maps of {per} cells each over {where} make {total} cells")
                    ).format(n=n, per=f"{int(cost.per):,}", where=_where(study),
                             total=f"{total:,}")
        else:
            if analysis != "map":  # the map's eps is fixed
                options.append(_wider_eps(study, p.eps_m, n, cost.limit))
            what = (_("DBSCAN in {n} weekly slices on a lattice of {per} cells (eps_m {eps}) "
                      "over {where} makes {total} cells") if weekly else
                    _("DBSCAN in {n} monthly slices on a lattice of {per} cells (eps_m {eps}) "
                      "over {where} makes {total} cells")
                    ).format(n=n, per=f"{int(cost.per):,}", eps=f"{p.eps_m:g}",
                             where=_where(study), total=f"{total:,}")
        raise _refusal(what, f"{int(cost.limit):,}", [*options, _("a smaller area")])


def _check_answer(study: Study, kind: str, h3_resolution: int | None, bins: int) -> None:
    if kind == "grid":
        vertices = float(np.mean(shapely.get_num_coordinates(study.grids.geometry.values)))
    else:
        vertices = 7.0
    size, limit = bins * (FEATURE_BYTES + VERTEX_BYTES * vertices), LIMITS.answer_bytes
    if size <= limit:
        return
    options = ["significant_only true"]
    if kind == "h3":
        most = int(limit // (FEATURE_BYTES + VERTEX_BYTES * vertices))
        coarser = _fitting_resolution(study, most, below=study.resolution(h3_resolution))
        options.append(coarser and f"h3_resolution {coarser}")
    raise _refusal(_("all {bins} bins make an answer of about {size} MiB").format(
        bins=f"{bins:,}", size=f"{size / 2**20:,.0f}"),
        _("{size} MiB").format(size=f"{limit / 2**20:,.0f}"), [*options, _("a smaller area")])


def repeat_checks(reports: Reports, radius_m: float, days: float) -> float:
    """About how many closures the repeat search (`repeats.previous_report`) compares: it
    looks at each report's nine `radius_m` buckets for closures in the `days` before it.
    Counted on buckets of `radius_m` × `radius_m` × `days`: the closures in the nine around a
    report's own and in the same slot of days and the one before, half of which fall in the
    days before it (on average, when they are spread evenly within the slots), less its own
    closure, which comes after it."""
    closed = ~np.isnan(reports.closed)
    if not closed.any():
        return 0.0
    cells = np.floor(np.column_stack([
        np.concatenate([reports.x, reports.x[closed]]) / radius_m,
        np.concatenate([reports.y, reports.y[closed]]) / radius_m,
        # slots of at least a minute keep the keys within int64 (a larger slot counts more)
        np.concatenate([reports.reported, reports.closed[closed]]) / max(days * 86400.0, 60.0)]))
    cells = (cells - cells.min(axis=0) + 1).astype(np.int64)  # a margin of one for neighbours
    span = cells.max(axis=0) + 2
    keys = (cells[:, 0] * span[1] + cells[:, 1]) * span[2] + cells[:, 2]
    own, counted = np.unique(keys[:len(reports)], return_counts=True)
    closures, at_key = np.unique(keys[len(reports):], return_counts=True)
    around = np.zeros(len(own))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dt in (-1, 0):
                near = own + (dx * span[1] + dy) * span[2] + dt
                at = np.minimum(np.searchsorted(closures, near), len(closures) - 1)
                around += np.where(closures[at] == near, at_key[at], 0)
    own_slot = cells[:len(reports)][closed, 2] == cells[len(reports):, 2]
    return (float(counted @ around) - np.count_nonzero(own_slot)) / 2


def _smaller(setting: str, value: float, checks: float, limit: float, power: float,
             price) -> str | None:
    """The advice of a smaller `setting` (whole units, steps of 5 above 10) whose repeat search
    fits `limit`; the checks grow about as `value` ** `power`, so each guess starts near the
    answer, and `price` confirms it."""
    for _attempt in range(12):
        guess = value * (limit / checks) ** (1 / power)
        step = 5 if guess >= 10 else 1
        value = min(value - step, math.floor(guess / step) * step)
        if value < 1:
            return None
        checks = price(value)
        if checks <= limit:
            return _("{setting} {value} or less").format(setting=setting, value=f"{value:g}")
    return None


def _check_repeats(study: Study, analysis: str, p: Params) -> None:
    radius, days, limit = p.repeat_radius_m, p.repeat_days, LIMITS.repeat_checks
    checks = repeat_checks(study.reports, radius, days)
    if checks <= limit:
        return
    options = []
    if analysis == "repeats":  # the map's radius and days are fixed
        options += [_smaller("radius_m", radius, checks, limit, 2,
                             lambda r: repeat_checks(study.reports, r, days)),
                    _smaller("days", days, checks, limit, 1,
                             lambda d: repeat_checks(study.reports, radius, d))]
    raise _refusal(_("repeat spots within radius_m {radius} and days {days} make about {checks} "
                     "comparisons in {where}").format(
                         radius=f"{radius:g}", days=f"{days:g}", checks=f"{checks:,.0f}",
                         where=_where(study)),
                   f"{limit:,}", [*options, _("fewer categories"), _("a smaller area")])


def afford(study: Study, analysis: str, p: Params, h3_resolution: int | None = None,
           significant_only: bool = False) -> None:
    """Refuse (TooCostly) an analysis of the study with settings `p` (and the Gi* answer's
    `significant_only`) that would exceed a limit. Its report count was checked when it was
    opened; everything but the repeat search is priced before the reports are read."""
    bins = _check_bins(study, p.bins, h3_resolution) if "bins" in COSTS[analysis] else 0
    _check_slices(study, analysis, p, h3_resolution, bins)
    if "answer" in COSTS[analysis] and not significant_only:
        _check_answer(study, p.bins, h3_resolution, bins)
    if "repeat checks" in COSTS[analysis]:
        _check_repeats(study, analysis, p)


_deadline: ContextVar[tuple[float, float] | None] = ContextVar("hotspot_deadline", default=None)


@contextmanager
def time_limit(seconds: float | None = None):
    """Bound the wall time of the analysis run inside (LIMITS.seconds by default)."""
    seconds = LIMITS.seconds if seconds is None else seconds
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def on_time(step: str) -> None:
    """Refuse (TooCostly) when the analysis in progress has used up its time; outside
    `time_limit` (the benchmark, the tests of the statistics) it never does."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise TooCostly(_("the analysis took more than {seconds} s (stopped at {step}): "
                          "{advice}").format(
                              seconds=f"{deadline[1]:g}", step=step, advice=_choose([
                                  _("a shorter window (a later since)"), _("slice month"),
                                  _("fewer categories"), _("a smaller area")])))
