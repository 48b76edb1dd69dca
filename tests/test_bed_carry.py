"""A bed that keeps its label across a cut is rendered once, continuously."""

from __future__ import annotations

from lvas.tools.planning.bed_carry import carry_beds


def _sound(sid, layer, start, end, volume=-20.0):
    return {"id": sid, "layer": layer, "start": start, "end": end, "volume_db": volume}


def test_same_label_beds_merge_across_cuts_and_events_stay():
    sounds = [
        _sound("s0-bed0", "background", 0.0, 4.0),
        _sound("s0-fx0", "foreground", 1.0, 2.0),
        _sound("s1-bed0", "background", 4.0, 9.0),
        _sound("s2-bed0", "background", 9.0, 12.0),
    ]
    labels = {"s0-bed0": "raining", "s0-fx0": "thunder", "s1-bed0": "raining",
              "s2-bed0": "raining"}
    out, covers = carry_beds(sounds, labels)
    beds = [s for s in out if s["layer"] == "background"]
    assert [(b["id"], b["start"], b["end"]) for b in beds] == [("s0-bed0", 0.0, 12.0)]
    assert covers["s0-bed0"] == ["s0-bed0", "s1-bed0", "s2-bed0"]
    assert any(s["id"] == "s0-fx0" for s in out)
    assert sounds[0]["end"] == 4.0  # the plan's own sounds are not changed


def test_a_new_label_gap_or_level_jump_starts_a_new_bed():
    sounds = [
        _sound("a", "background", 0.0, 4.0),
        _sound("b", "background", 4.0, 8.0),  # other label
        _sound("c", "background", 8.0, 10.0),  # same label as a, but not adjacent to a
        _sound("d", "background", 10.0, 12.0, volume=-5.0),  # 15 dB louder: a new bed
    ]
    labels = {"a": "raining", "b": "wind noise", "c": "raining", "d": "raining"}
    out, covers = carry_beds(sounds, labels)
    assert [s["id"] for s in out] == ["a", "b", "c", "d"]
    assert all(len(v) == 1 for v in covers.values())


def test_two_beds_in_each_scene_carry_by_label():
    sounds = [
        _sound("s0-bed0", "background", 0.0, 3.0),
        _sound("s0-bed1", "background", 0.0, 3.0),
        _sound("s1-bed0", "background", 3.0, 6.0),
        _sound("s1-bed1", "background", 3.0, 6.0),
    ]
    labels = {"s0-bed0": "wind", "s0-bed1": "birds", "s1-bed0": "birds", "s1-bed1": "wind"}
    out, covers = carry_beds(sounds, labels)
    assert sorted((s["id"], s["end"]) for s in out) == [("s0-bed0", 6.0), ("s0-bed1", 6.0)]
    assert covers["s0-bed0"] == ["s0-bed0", "s1-bed1"]
