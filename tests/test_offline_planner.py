"""The offline planner is deterministic, describes what it measures, and follows the prompt."""

from __future__ import annotations

from lvas.tools.planning import offline as planner


def _scene(sid="scene-000", start=0.0, end=4.0, brightness=0.5, saturation=0.5, hue=120.0,
           motion=0.015):
    return {"id": sid, "index": 0, "start": start, "end": end, "brightness": brightness,
            "saturation": saturation, "hue": hue, "motion": motion, "shots": [0],
            "keyframes": [], "colour": ""}


def test_colour_and_light_alone_name_no_place():
    # Issue 14: the old rule read colour as a place (green -> birds in trees, grey -> city
    # traffic, dim blue -> an air conditioner) and gave confident wrong sources on real clips
    # (a cockatoo in a room, a night skyline). Colour alone now gives the neutral bed; places
    # come from visual evidence (tests/test_planner_evidence.py).
    for looks in (dict(brightness=0.05), dict(hue=120.0), dict(hue=210.0, brightness=0.7),
                  dict(hue=15.0, saturation=0.8), dict(saturation=0.05, brightness=0.4)):
        setting = planner.setting_for(_scene(**looks))
        assert setting is planner.UNCLEAR
        assert setting.background == planner.NEUTRAL.background


def test_prompt_clauses_split_bed_and_events():
    assert planner.prompt_clauses("rain on a tin roof, distant thunder; a dog barks") == [
        "rain on a tin roof", "distant thunder", "a dog barks"]
    assert planner.prompt_clauses("") == []


def test_design_has_a_bed_spanning_the_scene_and_events_on_onsets():
    # Events now need evidence of a source (here: an upright mover whose lower part moves);
    # motion alone no longer invents "footsteps on grass and twigs" (issue 14).
    scene = {**_scene(motion=0.02), "evidence": {
        "edge_density": 0.1, "green": 0.5, "straight_share": 0.01, "sky": 0.0, "walkers": 1.0,
        "object_motion_low": 0.05, "ground_green": 0.6}}
    script = planner.describe_scene(scene)
    design = planner.design_scene(scene, script, None, [1.0, 2.5], seed=3)
    bed, *events = design["sounds"]
    assert bed["layer"] == "background" and (bed["start"], bed["end"]) == (0.0, 4.0)
    assert bed["description"] == script["background"]
    assert events and events[0]["layer"] == "foreground" and events[0]["onsets"] == [1.0, 2.5]


def test_design_follows_the_prompt_and_is_deterministic():
    scene = _scene()
    script = planner.describe_scene(scene)
    first = planner.design_scene(scene, script, "heavy rain, thunder", [1.0], seed=1)
    again = planner.design_scene(scene, script, "heavy rain, thunder", [1.0], seed=1)
    other = planner.design_scene(scene, script, None, [1.0], seed=1)
    assert first == again
    assert first["sounds"][0]["description"] == "heavy rain"
    assert first["sounds"][1]["description"] == "thunder"
    assert other["sounds"][0]["description"] != "heavy rain"


def test_calm_scene_without_prompt_has_only_a_bed():
    scene = _scene(motion=0.0)
    design = planner.design_scene(scene, planner.describe_scene(scene), None, [], seed=0)
    assert [s["layer"] for s in design["sounds"]] == ["background"]


def test_review_merges_continuous_neighbours_and_corrects_captions():
    a, b = _scene("scene-000", 0, 3), _scene("scene-001", 3, 6)
    sa, sb = planner.describe_scene(a), planner.describe_scene(b)
    action, _, _ = planner.review_pair(a, sa, b, sb, "", None)
    assert action == "merge"
    # a different place is now one the evidence tells apart (colour alone names no place)
    c = {**_scene("scene-002", 6, 9), "evidence": {
        "edge_density": 0.1, "sky": 0.6, "sky_below": 0.0, "green": 0.4, "straight_share": 0.01}}
    action, _, corrected = planner.review_pair(b, sb, c, planner.describe_scene(c), "", "rain")
    assert action == "correct" and "rain" in corrected["caption"]
    action, _, _ = planner.review_pair(b, sb, c, planner.describe_scene(c), "", None)
    assert action == "keep"


def test_label_review_rejects_unwanted_voices_music_and_poor_fits():
    sound = {"description": "wind over a field"}
    assert planner.review_label(sound, {"label": "wind", "score": 0.8}, None)[0]
    assert not planner.review_label(sound, {"label": "man speaking", "score": 0.8,
                                            "speech": True}, None)[0]
    assert planner.review_label({"description": "people talking"},
                                {"label": "man speaking", "score": 0.8, "speech": True}, None)[0]
    assert not planner.review_label(sound, {"label": "piano", "score": 0.8, "music": True},
                                    None)[0]
    assert not planner.review_label(sound, {"label": "wind", "score": 0.1}, None)[0]
