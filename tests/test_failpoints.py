"""Fault injection rules: which node fails, for which video, how, and only once when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lvas.nodes import failpoints
from lvas.nodes.common import timed
from lvas.nodes.failpoints import FailRule, InjectedFault, parse_rules


def test_rules_parse_node_match_and_action() -> None:
    assert parse_rules("mixer@clip3=raise, *=exit") == [
        FailRule("mixer", "clip3", "raise"), FailRule("*", "", "exit")]


@pytest.mark.parametrize("bad", ["mixer", "mixer=explode", "=raise", "@x=raise"])
def test_a_malformed_rule_is_an_error(bad: str) -> None:
    with pytest.raises(ValueError, match="NODE"):
        parse_rules(bad)


def test_a_timed_node_fails_only_for_the_named_video(monkeypatch: pytest.MonkeyPatch) -> None:
    @timed("mixer")
    def mixer(state: dict) -> dict:
        return {"done": True}

    monkeypatch.setenv(failpoints.ENV, "mixer@broken=raise")
    assert mixer({"video": "/v/fine.mp4"})["done"]
    with pytest.raises(InjectedFault, match="mixer"):
        mixer({"video": "/v/broken.mp4"})
    monkeypatch.setenv(failpoints.ENV, "storyboarder=raise")
    assert mixer({"video": "/v/broken.mp4"})["done"]


def test_once_fires_a_single_time_per_video(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(failpoints.ENV, "probe=raise")
    monkeypatch.setenv(failpoints.ONCE_ENV, str(tmp_path / "fired"))
    with pytest.raises(InjectedFault):
        failpoints.check("probe", "/v/a.mp4")
    failpoints.check("probe", "/v/a.mp4")  # fired before: goes through
    with pytest.raises(InjectedFault):
        failpoints.check("probe", "/v/b.mp4")


def test_exit_kills_the_process_at_once() -> None:
    code = ("from lvas.nodes import failpoints; failpoints.check('mixer', 'x.mp4'); "
            "print('survived')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, failpoints.ENV: "mixer=exit"})
    assert done.returncode == 137
    assert "survived" not in done.stdout
