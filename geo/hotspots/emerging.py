"""Space-time hotspots: a cube of bins by equal time slices, Gi* in every slice, and each
bin's history classified as ArcGIS Pro's Emerging Hot Spot Analysis does (new, consecutive,
intensifying, persistent, diminishing, sporadic, oscillating, historical; hot and cold), with
the Mann-Kendall test on the bin's z-scores for the trend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.hotspots.bins import Bins, counts, pearson
from geo.hotspots.gistar import CONFIDENCE, confidence_bins, gi_star
from geo.hotspots.trend import mann_kendall
from geo.i18n import _, ngettext

SLICE_SECONDS = {"week": 7 * 86400.0, "month": 365.25 / 12 * 86400.0}
MIN_SLICES, MAX_SLICES = 4, 160
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
            "oscillating", "historical")
MOSTLY = 0.9  # "ninety percent of the time-step intervals"


@dataclass(frozen=True)
class Cube:
    """Reports per bin and slice, their Gi* z-scores and confidence bins
    (-3..3, FDR-corrected over the cube). `edges` are the slices' bounds, seconds since 1970."""

    bins: Bins
    edges: np.ndarray
    counts: np.ndarray
    z: np.ndarray
    gbin: np.ndarray

    @property
    def slices(self) -> int:
        return len(self.edges) - 1


def slice_edges(since: float, until: float, step: str) -> np.ndarray:
    """Equal slices ending at `until` (trend tests need equal steps); a remainder shorter
    than one step at the start is left out."""
    if step not in SLICE_SECONDS:
        raise ValueError(_("slice must be one of {slices}").format(
            slices=", ".join(SLICE_SECONDS)))
    length = SLICE_SECONDS[step]
    n = int((until - since) // length)
    if n < MIN_SLICES:
        raise ValueError((
            ngettext("the window holds {n} weekly slice; space-time patterns need at least "
                     "{min}: widen the window or use shorter slices",
                     "the window holds {n} weekly slices; space-time patterns need at least "
                     "{min}: widen the window or use shorter slices", n) if step == "week" else
            ngettext("the window holds {n} monthly slice; space-time patterns need at least "
                     "{min}: widen the window or use shorter slices",
                     "the window holds {n} monthly slices; space-time patterns need at least "
                     "{min}: widen the window or use shorter slices", n)
        ).format(n=n, min=MIN_SLICES))
    if n > MAX_SLICES:
        raise ValueError((
            _("the window holds {n} weekly slices; at most {max} slices") if step == "week"
            else _("the window holds {n} monthly slices; at most {max} slices")
        ).format(n=n, max=MAX_SLICES))
    return until - length * np.arange(n, -1, -1, dtype=float)


def space_time_cube(bins: Bins, where: np.ndarray, reported: np.ndarray, edges: np.ndarray,
                    time_lag: int = 1) -> Cube:
    """The cube of the reports (bin index `where`, time `reported`) over `edges`. A bin's
    neighbourhood spans its neighbours in this slice and the `time_lag` slices before."""
    slot = np.searchsorted(edges, reported, side="right") - 1
    inside = (slot >= 0) & (slot < len(edges) - 1) & (where >= 0)
    n = counts(bins, np.where(inside, where, -1), np.where(inside, slot, 0), len(edges) - 1)
    z = gi_star(bins.neighbours, pearson(n, bins.area_m2), time_lag)
    return Cube(bins, edges, n, z, confidence_bins(z))


def _final_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True that ends in the last slice, per row."""
    run = np.zeros(flags.shape[0], int)
    alive = np.ones(flags.shape[0], bool)
    for k in range(flags.shape[1] - 1, -1, -1):
        alive &= flags[:, k]
        run += alive
    return run


def _patterns(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
              alpha: float, rising: int) -> np.ndarray:
    """Pattern names for one side (hot, with cold as its opposite); '' for none. `rising` is
    +1 for hot spots (intensifying = z rising) and -1 for cold ones."""
    slices = hot.shape[1]
    final = hot[:, -1]
    n_hot = hot.sum(axis=1)
    mostly = n_hot >= MOSTLY * slices
    run = _final_run(hot)
    before_run_clear = n_hot == run
    trend = np.where(trend_p < alpha, np.sign(trend_z) * rising, 0)
    out = np.full(hot.shape[0], "", dtype=object)
    out[final & mostly & (trend == 0)] = "persistent"
    out[final & mostly & (trend > 0)] = "intensifying"
    out[final & mostly & (trend < 0)] = "diminishing"
    rest = final & ~mostly
    out[rest & cold.any(axis=1)] = "oscillating"
    out[rest & ~cold.any(axis=1)] = "sporadic"
    out[rest & (run >= 2) & before_run_clear] = "consecutive"
    out[final & (n_hot == 1)] = "new"
    out[~final & mostly] = "historical"
    return out


def classify(cube: Cube, confidence: float = 0.90, alpha: float = 0.05) -> tuple[np.ndarray, dict]:
    """Each bin's pattern ('new hot spot', ..., 'oscillating cold spot', or '' for none),
    and the Mann-Kendall z and p of its z-scores. Significant means the slice's confidence
    bin reaches `confidence` (90% by default, after the FDR correction)."""
    level = CONFIDENCE.index(confidence) + 1
    hot, cold = cube.gbin >= level, cube.gbin <= -level
    _statistic, trend_z, trend_p = mann_kendall(cube.z)
    hot_kind = _patterns(hot, cold, trend_z, trend_p, alpha, +1)
    cold_kind = _patterns(cold, hot, trend_z, trend_p, alpha, -1)
    names = np.where(hot_kind != "", hot_kind + " hot spot",
                     np.where(cold_kind != "", cold_kind + " cold spot", ""))
    return names.astype(object), {"trend_z": trend_z, "trend_p": trend_p}
