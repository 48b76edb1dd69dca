"""The retrieval evaluation set is well formed and really avoids its labels' own words.

A description that repeats a word of its target label measures lexical matching, not
understanding, so such leaks would inflate the benchmark's figures.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from lvas.retrieval_index.text import stems

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = ROOT / "benchmarks" / "data" / "retrieval_eval.jsonl"
DATA = ROOT / "retrieval_index" / "data"


def _items() -> list[dict]:
    with EVAL_FILE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _vocabulary() -> set[str]:
    with (DATA / "vggsound_stat.csv").open(encoding="utf-8", newline="") as fh:
        vgg = {row[0] for row in csv.reader(fh) if row}
    with (DATA / "audioset_class_labels_indices_527.csv").open(encoding="utf-8", newline="") as fh:
        audioset = {row["display_name"] for row in csv.DictReader(fh)}
    assert len(vgg) == 309 and len(audioset) == 527
    return vgg | audioset


def _content_stems(text: str) -> set[str]:
    # Single letters are possessive "s" or initials ("a.m."), never a label's content word.
    return {s for s in stems(text, drop_stopwords=True) if len(s) > 1}


ITEMS = _items()


def test_every_line_has_the_expected_fields_and_types():
    assert len(ITEMS) >= 180
    for item in ITEMS:
        assert set(item) == {"id", "split", "description", "labels"}, item
        assert item["split"] in ("dev", "test"), item
        assert isinstance(item["description"], str) and item["description"].strip(), item
        assert 4 <= len(item["description"].split()) <= 16, item["description"]
        assert isinstance(item["labels"], list) and item["labels"], item
        assert len(set(item["labels"])) == len(item["labels"]), item


def test_ids_and_descriptions_are_unique():
    ids = Counter(item["id"] for item in ITEMS)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(item["description"].lower() for item in ITEMS)
    assert [t for t, n in texts.items() if n > 1] == []


def test_both_splits_are_large_enough_and_balanced():
    splits = Counter(item["split"] for item in ITEMS)
    assert splits["dev"] >= 80 and splits["test"] >= 80
    assert abs(splits["dev"] - splits["test"]) <= 0.1 * len(ITEMS)


def test_every_label_exists_exactly_in_the_vocabularies():
    vocabulary = _vocabulary()
    unknown = sorted({label for item in ITEMS for label in item["labels"]} - vocabulary)
    assert unknown == []


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_description_avoids_its_labels_content_words(item):
    words = _content_stems(item["description"])
    leaked = {label: sorted(words & _content_stems(label)) for label in item["labels"]}
    assert {label: w for label, w in leaked.items() if w} == {}


def test_leak_check_catches_inflections():
    # The check above must see "barking dogs" as a leak of "dog barking", or it proves nothing.
    assert _content_stems("two barking dogs") & _content_stems("dog barking") == {"dog", "bark"}
