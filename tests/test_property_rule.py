"""The red/black list's rule on hand-made figures, counted by hand: the score's parts, half
points for a rate that cannot be had, who is ranked, the lists' sizes, the talks proposed."""

from __future__ import annotations

import pytest

from geo.property.rule import Figures, rank


def company(cid, households, complaints, closed=0, on_time=0, reworked=0, rated=0, stars=0):
    return Figures(cid, cid, 1, households, complaints, closed, on_time, reworked, rated, stars)


def test_scores_by_hand():
    good = company("A", 1000, 5, closed=5, on_time=5, rated=5, stars=25)  # 5 per 1,000
    idle = company("B", 500, 10)  # 20 per 1,000, the worst; nothing closed or rated
    few = company("C", 1000, 4, closed=4, on_time=4)  # under the minimum of 5 complaints
    empty = company("D", 0, 9)  # no households
    out = {s.figures.company_id: s for s in rank([few, idle, good, empty])}
    # A: 30 * (1 - 5/20) + 30 * 1 + 15 * (1 - 0) + 25 * (5 - 1) / 4
    assert out["A"].score == pytest.approx(22.5 + 30 + 15 + 25)
    # B: no density points, and half of each rate it cannot have
    assert out["B"].score == pytest.approx(0 + 15 + 7.5 + 12.5)
    assert (out["A"].rank, out["B"].rank) == (1, 2)
    assert out["B"].talk and out["B"].talk_reasons == ("low_score",) and not out["A"].talk
    assert out["C"].standing == out["D"].standing == "unranked" and out["C"].rank is None
    assert {s.standing for s in out.values() if s.rank} == {"middle"}  # 20% of 2 is 0


def test_lists_and_a_second_black_period():
    figures = [company(f"P{i}", 1000, 5 + i, closed=5, on_time=5, rated=5, stars=20)
               for i in range(10)]  # more complaints, lower score: P0 best, P9 worst
    first = rank(figures)
    assert [s.figures.company_id for s in first] == [f"P{i}" for i in range(10)]
    assert [s.standing for s in first] == ["red"] * 2 + ["middle"] * 6 + ["black"] * 2
    assert not any(s.talk for s in first)  # the worst scores 63.75: none below 60
    again = rank(figures, black_before=frozenset({"P8", "P3"}))
    assert [s.figures.company_id for s in again if s.talk] == ["P8"]  # P3 is not black now
    assert again[8].talk_reasons == ("black_twice",)
