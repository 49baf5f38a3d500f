"""The Mann-Kendall trend test, for every row of a matrix at once.

pymannkendall tests one series per call; a space-time cube has thousands of rows of a few
dozen slices, so the pairwise signs are summed column pair by column pair over all rows. The
variance has the usual correction for ties; the tests compare S, z and p with pymannkendall."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S, z and the two-sided p-value of each row's monotonic trend."""
    x = np.asarray(series, float)
    rows, n = x.shape
    s = np.zeros(rows)
    for k in range(n - 1):
        s += np.sign(x[:, k + 1:] - x[:, k:k + 1]).sum(axis=1)
    var = np.full(rows, n * (n - 1) * (2 * n + 5), float)
    ordered = np.sort(x, axis=1)
    run = np.ones(rows)
    for k in range(1, n + 1):
        same = ordered[:, k] == ordered[:, k - 1] if k < n else np.zeros(rows, bool)
        ended = ~same & (run > 1)
        var -= np.where(ended, run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(same, run + 1, 1)
    var /= 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.nan_to_num(z)
    return s, z, 2.0 * norm.sf(np.abs(z))
