"""Getis-Ord Gi* z-scores with the false-discovery-rate correction, for one map or for every
slice of a space-time cube in one sparse product.

The statistic is Getis and Ord's (1995) Gi* with binary weights that include the unit itself,
as in ArcGIS's Hot Spot Analysis and esda's ``G_Local(star=True, transform="B")``; the tests
check the z-scores against esda. esda computes one variable per call and carries a
permutation machinery we do not use; here a cube of thousands of bins by dozens of slices is
one product. Significance follows the Benjamini-Hochberg procedure at each confidence level,
so that among many bins the share of false hot or cold spots stays at the stated rate."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

CONFIDENCE = (0.90, 0.95, 0.99)  # bins ±1, ±2, ±3


def gi_star(neighbours: sp.csr_matrix, values: np.ndarray, time_lag: int = 0) -> np.ndarray:
    """z-scores of shape `values` (bins × slices). A bin's neighbourhood in slice t is its
    spatial neighbours (itself included) in slices t - time_lag .. t; the mean and spread are
    those of the whole cube, so a quiet month's bins are compared with the whole period."""
    x = np.asarray(values, float)
    one_map = x.ndim == 1
    if one_map:
        x = x[:, None]
    n_bins, n_slices = x.shape
    n = x.size
    spatial_sum = neighbours @ x
    spatial_count = np.asarray(neighbours.sum(axis=1)).ravel()[:, None] * np.ones((1, n_slices))
    local_sum, weight = spatial_sum.copy(), spatial_count.copy()
    for lag in range(1, time_lag + 1):
        local_sum[:, lag:] += spatial_sum[:, :-lag]
        weight[:, lag:] += spatial_count[:, :-lag]
    mean = x.mean()
    spread = np.sqrt(max((x * x).mean() - mean * mean, 0.0))
    if spread == 0 or n < 2:
        return np.zeros(n_bins) if one_map else np.zeros_like(x)
    # Binary weights: the sum of squared weights equals the sum of weights.
    denom = spread * np.sqrt(np.maximum(n * weight - weight * weight, 0.0) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(denom > 0, (local_sum - mean * weight) / denom, 0.0)
    return z[:, 0] if one_map else z


def p_values(z: np.ndarray) -> np.ndarray:
    """Two-sided p-values of standard-normal z-scores."""
    return 2.0 * norm.sf(np.abs(z))


def fdr_cutoff(p: np.ndarray, alpha: float) -> float:
    """Benjamini-Hochberg: the largest p-value still significant at false-discovery rate
    `alpha` (0 when none is)."""
    flat = np.sort(np.asarray(p, float).ravel())
    if flat.size == 0:
        return 0.0
    ok = flat <= alpha * np.arange(1, flat.size + 1) / flat.size
    return float(flat[np.flatnonzero(ok)[-1]]) if ok.any() else 0.0


def confidence_bins(z: np.ndarray, correct: bool = True) -> np.ndarray:
    """-3..3 like ArcGIS's Gi_Bin: ±3 hot/cold at 99% confidence, ±2 at 95%, ±1 at 90%, 0 not
    significant; with `correct`, each level after the FDR correction over all bins given."""
    p = p_values(z)
    out = np.zeros(np.shape(z), dtype=np.int8)
    for level, conf in enumerate(CONFIDENCE, start=1):
        alpha = 1.0 - conf
        if correct:
            cutoff = fdr_cutoff(p, alpha)
            sig = (p <= cutoff) if cutoff > 0 else np.zeros(np.shape(z), bool)
        else:
            sig = p <= alpha
        out = np.where(sig, np.sign(z).astype(np.int8) * level, out)
    return out
