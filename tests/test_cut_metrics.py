"""Cut scoring: one-to-one matching within a tolerance, and the edge cases of empty lists."""

from __future__ import annotations

import pytest

from tests.cut_eval import FPS, evaluation_set, make_evaluation_set
from tests.cut_metrics import CutScore, match_cuts


def test_exact_match_is_perfect() -> None:
    score = match_cuts([1.0, 2.5, 4.0], [1.0, 2.5, 4.0], 0.08)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (3, 0, 0)
    assert score.precision == score.recall == score.f1 == 1.0


def test_two_detections_near_one_truth_count_once() -> None:
    score = match_cuts([1.98, 2.03], [2.0], 0.08)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 1, 0)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(1.0)
    assert score.f1 == pytest.approx(2 / 3)


def test_closest_pair_wins_so_both_truths_are_found() -> None:
    # 1.05 is within tolerance of both truths; greedy-by-distance gives it to 1.0 (0.05 away)
    # and leaves 1.14 for 1.2, instead of wasting 1.05 on 1.2 and losing 1.0.
    score = match_cuts([1.05, 1.14], [1.0, 1.2], 0.15)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 0, 0)


def test_tolerance_edge_is_inclusive() -> None:
    tol = 2 / 25
    assert match_cuts([2.0 + tol], [2.0], tol).true_positives == 1
    assert match_cuts([2.0 - tol], [2.0], tol).true_positives == 1
    just_out = match_cuts([2.0 + tol + 0.001], [2.0], tol)
    assert (just_out.true_positives, just_out.false_positives, just_out.false_negatives) == (
        0, 1, 1)
    assert just_out.f1 == 0.0


def test_unsorted_inputs() -> None:
    score = match_cuts([5.0, 1.01, 3.0], [3.02, 0.99, 7.0], 0.05)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 1, 1)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)


def test_both_empty_is_perfect() -> None:
    score = match_cuts([], [], 0.08)
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (0, 0, 0)


def test_detections_without_truth() -> None:
    score = match_cuts([1.0, 2.0], [], 0.08)
    assert score.false_positives == 2
    assert score.precision == 0.0
    assert score.recall == 1.0
    assert score.f1 == 0.0


def test_truth_without_detections() -> None:
    score = match_cuts([], [1.0, 2.0], 0.08)
    assert score.false_negatives == 2
    assert score.precision == 1.0
    assert score.recall == 0.0
    assert score.f1 == 0.0


def test_negative_tolerance_rejected() -> None:
    with pytest.raises(ValueError):
        match_cuts([1.0], [1.0], -0.1)


def test_scores_add_up_as_counts() -> None:
    total = match_cuts([1.0], [1.0], 0.1) + match_cuts([], [2.0, 3.0], 0.1)
    assert total == CutScore.from_counts(1, 0, 2)
    assert total.recall == pytest.approx(1 / 3)
    assert total.to_dict() == {
        "true_positives": 1, "false_positives": 0, "false_negatives": 2,
        "precision": 1.0, "recall": pytest.approx(1 / 3), "f1": pytest.approx(0.5),
    }


def test_evaluation_set_is_well_formed() -> None:
    videos = evaluation_set()
    assert {v.category for v in videos} == {"hard", "crossfade", "light"}
    assert {v.fade for v in videos if v.category == "crossfade"} == {0.4, 0.8, 1.2}
    for v in videos:
        assert (v.fade == 0) == (v.category != "crossfade")
        assert bool(v.light) == (v.category == "light")
        assert all(1.3 <= d <= 4.0 for d in v.durations), v.name
        # every segment shows alone long enough to be a shot of its own
        assert min(v.durations) - 2 * v.fade >= 0.5, v.name


def test_make_evaluation_set_truth_matches_the_files(tmp_path) -> None:
    import av

    built = make_evaluation_set(tmp_path)
    specs = evaluation_set()
    assert len(built) == len(specs)
    for (path, truth, category), spec in zip(built, specs, strict=True):
        assert category == spec.category and path.is_file()
        assert truth == sorted(truth) and len(truth) == len(spec.frames) - 1
        with av.open(str(path)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        # each cross-fade overlaps its two segments by ``fade``
        assert frames == round(sum(spec.frames) - (len(spec.frames) - 1) * spec.fade * FPS)
    mtimes = [p.stat().st_mtime_ns for p, _, _ in built]
    again = make_evaluation_set(tmp_path)  # reused, same truth
    assert [t for _, t, _ in again] == [t for _, t, _ in built]
    assert [p.stat().st_mtime_ns for p, _, _ in again] == mtimes
