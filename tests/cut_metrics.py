"""Score detected shot cuts against known ones (precision, recall, F1 within a tolerance).

Shared by the accuracy tests and ``benchmarks/bench_analysis.py`` so both judge cuts the same
way: each true cut can be claimed by at most one detection, so a detector that fires twice
around one cut is charged a false positive instead of being rewarded twice.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CutScore:
    """Counts and rates of one comparison; rates are 1.0 when there was nothing to find."""

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict, for JSON reports."""
        return asdict(self)

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> CutScore:
        """Rates from counts; summing counts over many videos gives a micro-averaged score."""
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(tp, fp, fn, precision, recall, f1)

    def __add__(self, other: CutScore) -> CutScore:
        return CutScore.from_counts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )


def match_cuts(detected: Sequence[float], truth: Sequence[float], tolerance: float) -> CutScore:
    """Match detections to true cuts one to one, closest pairs first, within ``tolerance`` s.

    Greedy by distance: every (detection, truth) pair no farther apart than ``tolerance`` is
    considered in order of increasing distance and kept when neither side is taken yet.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    # A tiny slack so that a cut exactly ``tolerance`` away survives float rounding of times.
    limit = tolerance + 1e-9
    order = sorted(range(len(truth)), key=lambda j: truth[j])
    times = [truth[j] for j in order]
    pairs = []
    for i, d in enumerate(detected):  # only truths inside the window: no all-pairs blow-up
        for k in range(bisect_left(times, d - limit), bisect_right(times, d + limit)):
            pairs.append((abs(d - times[k]), i, order[k]))
    pairs.sort()
    used_detected: set[int] = set()
    used_truth: set[int] = set()
    for _, i, j in pairs:
        if i not in used_detected and j not in used_truth:
            used_detected.add(i)
            used_truth.add(j)
    tp = len(used_truth)
    return CutScore.from_counts(tp, len(detected) - tp, len(truth) - tp)
