"""The categories' colours stay apart for everyone: every pair at least MIN_DE00 apart
(CIEDE2000) for normal vision and for simulated deuteranopia and protanopia (Machado et al.
2009); and the colour maths is checked against published values first."""

from __future__ import annotations

from itertools import combinations

import pytest

from geo.taxonomy import CATEGORIES
from maps.base import category_colours
from maps.palette import (
    PALETTE,
    VISIONS,
    ciede2000,
    closest_pair,
    difference,
    lab,
    linear_rgb,
    simulate,
)

# ΔE00 ≈ 10 is a difference seen at a glance; 2.3 is a just-noticeable one.
MIN_DE00 = 9.0

# Sharma, Wu & Dalal (2005), table 1: Lab pairs and their ΔE00.
SHARMA = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
          ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
          ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
          ((50.0, 2.5, 0.0), (50.0, 1.8634, 0.5757), 1.0000),
          ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644)]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)


def test_lab_and_the_simulation_behave_as_known():
    assert lab(linear_rgb("#ffffff")) == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert lab(linear_rgb("#ff0000")) == pytest.approx((53.24, 80.09, 67.20), abs=0.05)
    # Red and green, far apart for most viewers, come close for a dichromat; greys do not
    # change at all.
    for vision in ("deuteranopia", "protanopia"):
        assert difference("#d62728", "#2ca02c", vision) < 0.5 * difference("#d62728", "#2ca02c")
        grey = linear_rgb("#808080")
        assert simulate(grey, vision) == pytest.approx(grey, abs=2e-3)


def test_the_old_palette_would_fail():
    """The check catches what issue 14 saw: L01/E02 blues, L06/P01 oranges."""
    old = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#000000", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22", "#9467bd", "#1f77b4",
           "#ff7f0e")
    assert closest_pair(old)[0] < MIN_DE00
    assert difference(old[0], old[13]) < MIN_DE00  # L01 and E02


def test_every_category_has_its_own_distinguishable_colour():
    assert len(PALETTE) >= len(CATEGORIES) == len(set(PALETTE[:len(CATEGORIES)]))
    colours = [c["colour"] for c in category_colours().values()]
    assert len(set(colours)) == len(CATEGORIES)
    worst = min((difference(a, b, v), a, b, v) for a, b in combinations(colours, 2)
                for v in VISIONS)
    assert worst[0] >= MIN_DE00, worst
    # none so pale that it vanishes on the map's light background
    assert all(lab(linear_rgb(c))[0] < 90 for c in colours)
