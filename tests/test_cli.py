"""The command line: clear errors with exit code 2 for bad input, and ``doctor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.videos import make_audio_only, make_cut_video, make_text_file


def _lvas(*args: str, cache_dir: Path | None = None, **variables: str | None
          ) -> subprocess.CompletedProcess:
    """Run ``lvas`` in a fresh process; ``variables`` set (or, when None, unset) environment
    variables."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["LVAS_CACHE_DIR"] = str(cache_dir)
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _assert_clear_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "lvas: error:" in result.stderr
    for word in words:
        assert word.lower() in result.stderr.lower()


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return make_cut_video(tmp_path_factory.mktemp("cli") / "small.mp4", [1.5, 1.5])


def test_missing_file(tmp_path):
    _assert_clear_error(_lvas("dub", str(tmp_path / "nope.mp4")), "nope.mp4")


def test_directory(tmp_path):
    _assert_clear_error(_lvas("dub", str(tmp_path)), "directory")


def test_not_a_video(tmp_path):
    _assert_clear_error(_lvas("dub", str(make_text_file(tmp_path / "notes.mp4"))))


def test_audio_only(tmp_path):
    _assert_clear_error(_lvas("dub", str(make_audio_only(tmp_path / "song.m4a"))), "video")


def test_existing_output_is_not_overwritten(small_video, tmp_path):
    out = tmp_path / "mine.mp4"
    out.write_bytes(b"user's own file")
    _assert_clear_error(_lvas("dub", str(small_video), "-o", str(out)), "--overwrite")
    assert out.read_bytes() == b"user's own file"


def test_output_folder_missing(small_video, tmp_path):
    _assert_clear_error(_lvas("dub", str(small_video), "-o", str(tmp_path / "no" / "o.mp4")),
                        "does not exist")


def test_output_folder_not_writable(small_video, tmp_path, monkeypatch, capsys):
    # In-process with file creation refused in the folder: chmod alone proves nothing when
    # the tests run as root (as CI does), since root writes into read-only folders.
    import os

    from lvas.graph.cli import main

    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if Path(path).parent == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setenv("LVAS_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["dub", str(small_video), "-o", str(locked / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and "Traceback" not in err
    assert not (locked / "o.mp4").exists()


def test_usage_errors_exit_2():
    assert _lvas().returncode == 2
    assert _lvas("dub").returncode == 2


def test_doctor_reports_what_is_available(label_cache_dir):
    result = _lvas("doctor", "--json", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = {c["name"] for c in report["checks"]}
    assert {"ffmpeg", "GPU", "MMAudio", "Ray", "LLM endpoint", "label index"} <= names
    ffmpeg = next(c for c in report["checks"] if c["name"] == "ffmpeg")
    assert ffmpeg["ok"]
    assert report["auto_profile"]["generator"] == "procedural"
    index = next(c for c in report["checks"] if c["name"] == "label index")
    assert index["ok"] and str(label_cache_dir) in index["detail"]


def test_doctor_shows_the_configuration_a_run_would_use(label_cache_dir, tmp_path):
    result = _lvas("doctor", "--json", cache_dir=label_cache_dir, LVAS_LLM_MODEL="gpt-test",
                   LVAS_LLM_BASE_URL=None, OPENAI_API_KEY=None,
                   LVAS_ESPEAK=str(tmp_path / "my-espeak"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    llm = checks["LLM endpoint"]
    assert not llm["ok"] and "gpt-test" in llm["detail"] and "missing" in llm["detail"]
    assert "gpt-test" in report["auto_profile"]["chat"]
    espeak = checks["backend espeak"]
    assert not espeak["ok"] and str(tmp_path / "my-espeak") in espeak["detail"]


def test_scenes_json_lists_cuts_and_tiling_scenes(cut_video, tmp_path, label_cache_dir):
    result = _lvas("scenes", str(cut_video), "--json", "--work-dir", str(tmp_path),
                   "--min-scene-seconds", "1", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [round(c) for c in report["cuts"]] == [2, 4, 6]
    scenes = report["scenes"]
    assert scenes[0]["start"] == 0.0 and scenes[-1]["end"] == pytest.approx(report["duration"])
    assert all(a["end"] == b["start"] for a, b in zip(scenes, scenes[1:], strict=False))
    assert all(Path(k).exists() for s in scenes for k in s["keyframes"])


def test_scenes_in_fixed_chunks(cut_video, tmp_path, label_cache_dir):
    result = _lvas("scenes", str(cut_video), "--json", "--work-dir", str(tmp_path),
                   "--segmentation", "fixed", "--segment-seconds", "3", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    spans = [(s["start"], s["end"]) for s in json.loads(result.stdout)["scenes"]]
    assert spans[:2] == [(0.0, 3.0), (3.0, 6.0)] and spans[-1][1] == pytest.approx(8.0)


def test_set_selects_any_run_setting_and_refuses_bad_ones(cut_video, tmp_path,
                                                          label_cache_dir):
    from lvas.graph.cli import context_setting

    assert context_setting("segmentation=single") == ("segmentation", "single")
    assert context_setting("segment-seconds=5") == ("segment_seconds", 5.0)
    assert context_setting("review_scripts=off") == ("review_scripts", False)
    result = _lvas("plan", str(cut_video), "-o", str(tmp_path / "plan.json"), "--set",
                   "segmentation=single", "--set", "review_scripts=false",
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(plan["scenes"]) == 1 and not plan.get("review_notes")
    for bad, words in (("segmentation=chunks", "choose one of semantic, fixed"),
                       ("colour=red", "NAME=VALUE"), ("duck_beds=maybe", "true or false")):
        refused = _lvas("plan", str(cut_video), "-o", str(tmp_path / "x.json"), "--set", bad,
                        cache_dir=label_cache_dir)
        _assert_clear_error(refused, words)
        assert not (tmp_path / "x.json").exists()


def test_labels_search_json_one_list_per_query(label_cache_dir):
    result = _lvas("labels", "search", "dog barking", "heavy rain", "--k", "3", "--json",
                   cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and all(len(h) == 3 for h in hits)
    assert set(hits[0][0]) == {"label", "source", "score", "category"}
    assert "dog" in hits[0][0]["label"].lower() and "rain" in hits[1][0]["label"].lower()


def test_labels_search_reads_queries_from_stdin(label_cache_dir):
    env = {**os.environ, "LVAS_CACHE_DIR": str(label_cache_dir)}
    result = subprocess.run([sys.executable, "-m", "lvas.graph.cli", "labels", "search", "-",
                             "--json"], input="church bells\nwind\n", capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_index_build_reuses_a_current_index(label_cache_dir):
    result = _lvas("index", "build", "--json", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["rebuilt"] is False and info["count"] > 800


@pytest.mark.parametrize(("name", "words"), [("o.webm", "re-encoding"), ("o.xyz", "Use one of")])
def test_output_container_is_checked_before_any_work(small_video, tmp_path, name, words):
    result = _lvas("dub", str(small_video), "-o", str(tmp_path / name),
                   "--work-dir", str(tmp_path / "run"))
    _assert_clear_error(result, words)
    assert not (tmp_path / "run" / "analysis").exists()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
def test_an_unwritable_output_is_refused_before_any_work(cut_video, tmp_path, label_cache_dir):
    # As root every permission check passes; /proc still refuses new files.
    refused = _lvas("dub", str(cut_video), "-o", "/proc/x.mp4", "--work-dir",
                    str(tmp_path / "run"), cache_dir=label_cache_dir)
    _assert_clear_error(refused, "/proc", "not writable")
    assert not (tmp_path / "run").exists()
    refused = _lvas("dub", str(cut_video), "-o", str(tmp_path / "out.mp4"), "--work-dir",
                    "/proc/lvas-run", cache_dir=label_cache_dir)
    _assert_clear_error(refused, "/proc/lvas-run", "--work-dir")


def test_refused_narration_or_plan_leaves_no_run_folder(cut_video, tmp_path, label_cache_dir):
    lines = tmp_path / "lines.txt"
    lines.write_text("99-100 far past the end of the video\n")
    refused = _lvas("dub", str(cut_video), "-o", str(tmp_path / "a.mp4"), "--narration",
                    str(lines), cache_dir=label_cache_dir)
    assert refused.returncode == 2
    assert not (tmp_path / "a.lvas").exists()
    made = _lvas("plan", str(cut_video), "-o", str(tmp_path / "plan.json"),
                 cache_dir=label_cache_dir)
    assert made.returncode == 0, made.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    first = next(iter(plan["label_choices"]))
    plan["label_choices"][first]["label"] = "no such label anywhere"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    refused = _lvas("render", str(tmp_path / "plan.json"), "-o", str(tmp_path / "b.mp4"),
                    cache_dir=label_cache_dir)
    _assert_clear_error(refused, "not in the label index")
    assert not (tmp_path / "b.lvas").exists()


def test_a_renamed_default_output_is_announced(cut_video, tmp_path, label_cache_dir):
    import shutil

    video = tmp_path / "clip.mp4"
    shutil.copy(cut_video, video)
    (tmp_path / "clip.dubbed.mp4").write_bytes(b"made by the user")
    result = _lvas("dub", str(video), cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("clip.dubbed-2.mp4")
    assert "clip.dubbed.mp4 already exists" in result.stderr and "clip.dubbed-2.mp4" in \
        result.stderr
    assert (tmp_path / "clip.dubbed.mp4").read_bytes() == b"made by the user"


@pytest.mark.slow  # builds a label index of its own: about a minute
def test_the_first_run_announces_the_index_build(cut_video, tmp_path):
    result = _lvas("plan", str(cut_video), "-o", str(tmp_path / "plan.json"),
                   cache_dir=tmp_path / "fresh-cache")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "building the sound-label index" in line)
    ready = next(i for i, line in enumerate(lines) if "label index ready:" in line)
    steps = [i for i, line in enumerate(lines) if line.startswith("[")]
    assert "probe:" in lines[steps[0]]  # the inputs are checked first: a refusal never waits
    assert steps[0] < start < ready < steps[1]  # said before the silence, not after
    again = _lvas("plan", str(cut_video), "-o", str(tmp_path / "plan2.json"),
                  cache_dir=tmp_path / "fresh-cache")
    assert "building the sound-label index" not in again.stderr
