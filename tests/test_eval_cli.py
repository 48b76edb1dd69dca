"""``lvas eval`` end to end: a video dubbed by ``lvas dub`` scored against its original audio,
folders and manifests, the outputs, ``--list``, and clear errors (exit 2) for bad input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from lvas.graph.cli import main
from lvas.tools.evaluation import registry
from lvas.tools.evaluation.metric import Metric
from tests.videos import make_cut_video

WEIGHT_FREE = ("sync", "seams", "dropouts", "fd-logmel", "loudness", "cost")


def _lvas_process(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory, label_cache_dir) -> dict[str, Path]:
    """An 8 s video with its own audio (a 440 Hz tone), dubbed by ``lvas dub`` (procedural)."""
    root = tmp_path_factory.mktemp("eval")
    originals = root / "originals"
    originals.mkdir()
    video = make_cut_video(originals / "clip.mp4", [2.0, 2.0, 2.0, 2.0], with_audio=True)
    out = root / "scored" / "clip.dubbed.mp4"
    out.parent.mkdir()
    result = _lvas_process("dub", str(video), "-o", str(out), "--seed", "3", "-q",
                           cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    return {"root": root, "video": video, "originals": originals, "output": out,
            "run_dir": out.with_name("clip.dubbed.lvas"), "cache": label_cache_dir}


@pytest.fixture
def lvas(monkeypatch, capsys, dubbed):
    """Run ``lvas`` in this process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("LVAS_CACHE_DIR", str(dubbed["cache"]))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _clear_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "lvas: error:" in err and "Traceback" not in err
    for word in words:
        assert word.lower() in err.lower(), err


def test_dubbed_video_against_its_original_audio(dubbed, lvas, tmp_path) -> None:
    out_dir = tmp_path / "results"
    code, out, err = lvas("eval", str(dubbed["output"]), "--reference", str(dubbed["video"]),
                          "-o", str(out_dir), "--json")
    assert code == 0, err
    doc = json.loads(out)
    [item] = doc["items"]
    assert {name: item["status"][name] for name in WEIGHT_FREE} == dict.fromkeys(WEIGHT_FREE,
                                                                              "ok")
    for metric in registry.MODEL_METRICS:  # asked by default: reported, never dropped
        assert item["status"][metric.name] == (metric.availability() or "ok")
    assert item["run_dir"] == str(dubbed["run_dir"].resolve())
    assert "motion envelope and scenes from the run's plan" in item["notes"]
    values = item["values"]
    assert values["integrated_lufs"] == pytest.approx(-23.0, abs=1.0)  # the mixer's target
    assert values["fd_logmel"] > 0  # effects against a 440 Hz tone
    assert values["dropout_share"] < 0.5 and values["gpu_seconds_per_min"] == 0.0
    assert doc["aggregate"]["fd_logmel"]["aggregation"].startswith("pooled over 1 of 1")
    # the same numbers in the files
    saved = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    assert saved["items"][0]["values"] == values
    with (out_dir / "metrics.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["id"] == "clip.dubbed.mp4"
    assert float(rows[0]["integrated_lufs"]) == pytest.approx(values["integrated_lufs"])
    assert rows[0]["status_cost"] == "ok"
    assert not [p for p in out_dir.iterdir() if p.name not in ("metrics.csv", "metrics.json")]


def test_the_terminal_table(dubbed, lvas) -> None:
    code, out, err = lvas("eval", str(dubbed["output"]), "--metrics", "loudness,FD,sync")
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:3] == ["item", "integrated_lufs", "lra_lu"] and "sync_lag_s" in header
    assert lines[1].startswith("clip.dubbed.mp4") and lines[3].startswith("set")
    assert "fd-logmel: needs reference: give --reference" in out  # asked, not dropped
    assert "lvas: [1/1] clip.dubbed.mp4: loudness ok" in err


def test_outputs_are_not_overwritten_without_overwrite(dubbed, lvas, tmp_path) -> None:
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    (out_dir / "metrics.csv").write_text("earlier results\n")
    code, _, err = lvas("eval", str(dubbed["output"]), "--metrics", "dropouts",
                        "-o", str(out_dir), "-q")
    _clear_error(code, err, "--overwrite")
    assert (out_dir / "metrics.csv").read_text() == "earlier results\n"
    assert not (out_dir / "metrics.json").exists()
    code, _, err = lvas("eval", str(dubbed["output"]), "--metrics", "dropouts",
                        "-o", str(out_dir), "-q", "--overwrite")
    assert code == 0, err
    assert (out_dir / "metrics.csv").read_text().startswith("id,video,reference")


def test_a_folder_with_references_paired_by_stem(dubbed, lvas, tmp_path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(dubbed["output"], folder / "clip.dubbed.mp4")
    shutil.copytree(dubbed["run_dir"], folder / "clip.dubbed.lvas")
    soundtrack, rate = sf.read(dubbed["run_dir"] / "soundtrack.wav")
    sf.write(folder / "clip.wav", soundtrack, rate)  # the master, scored as an audio file
    code, out, err = lvas("eval", str(folder), "--reference", str(dubbed["originals"]),
                          "--metrics", "FD,dropouts,sync", "--json", "-q")
    assert code == 0, err
    items = {i["id"]: i for i in json.loads(out)["items"]}
    assert set(items) == {"clip.dubbed.mp4", "clip.wav"}
    assert items["clip.dubbed.mp4"]["reference"] == str(dubbed["originals"] / "clip.mp4")
    assert items["clip.wav"]["reference"] == str(dubbed["originals"] / "clip.mp4")
    assert items["clip.dubbed.mp4"]["status"]["sync"] == "ok"
    assert items["clip.wav"]["status"]["sync"].startswith("not applicable:")
    # the master and its encoded copy sound alike: their FD to the reference is close
    fd = [items[k]["values"]["fd_logmel"] for k in ("clip.dubbed.mp4", "clip.wav")]
    assert fd[0] == pytest.approx(fd[1], rel=0.1)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_manifests(dubbed, lvas, tmp_path, kind) -> None:
    rows = [{"video": str(dubbed["output"]), "reference": str(dubbed["video"]),
             "category": "street", "text": "footsteps and wind"},
            {"video": str(dubbed["video"]), "category": "original"}]
    manifest = tmp_path / f"set.{kind}"
    if kind == "csv":
        with manifest.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["video", "reference", "category", "text"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = lvas("eval", str(manifest), "--metrics", "fd-logmel,seams,loudness",
                          "--json", "-q")
    assert code == 0, err
    dubbed_item, original = json.loads(out)["items"]
    assert dubbed_item["category"] == "street" and dubbed_item["text"] == "footsteps and wind"
    assert dubbed_item["status"] == {"fd-logmel": "ok", "seams": "ok", "loudness": "ok"}
    # the original video has no run directory: its scenes come from the Storyboarder's pass
    assert original["status"]["seams"] == "ok" and original["run_dir"] is None
    assert original["status"]["fd-logmel"].startswith("needs reference")


def test_list_is_honest_about_what_runs_here(lvas, monkeypatch) -> None:
    code, out, err = lvas("eval", "--list")
    assert code == 0, err
    for name in WEIGHT_FREE:
        assert f"ok {name}:" in out
    for metric in registry.MODEL_METRICS:  # with no weights here they say what they need
        reason = metric.availability()
        assert (f"-- {metric.name}:" in out) == (reason is not None)
        if reason is not None:
            assert reason.startswith(("needs weights", "needs package"))
            assert f"cannot run here: {reason}" in out
    # a model metric without its weights is listed as such, never dropped
    needy = Metric("fd-test", "-", "a test model metric", lambda _: {}, keys=("fd_test",),
                   availability=lambda: "needs weights: put test.pt in LVAS_EVAL_WEIGHTS",
                   family="model")
    monkeypatch.setattr(registry, "ALL_METRICS", (*registry.ALL_METRICS, needy))
    code, out, _ = lvas("eval", "--list")
    assert "-- fd-test: a test model metric" in out
    assert "cannot run here: needs weights: put test.pt in LVAS_EVAL_WEIGHTS" in out
    code, out, _ = lvas("eval", "--list", "--json")
    listed = {m["name"]: m for m in json.loads(out)["metrics"]}
    assert listed["fd-test"]["runs_here"] is False and listed["sync"]["runs_here"] is True


def test_unknown_metric_exits_2_with_nearest_names(dubbed, lvas) -> None:
    code, _, err = lvas("eval", str(dubbed["output"]), "--metrics", "loudnes,sync")
    _clear_error(code, err, "'loudnes'", "nearest: loudness")


def test_fid_is_not_applicable(dubbed, lvas) -> None:
    code, _, err = lvas("eval", str(dubbed["output"]), "--metrics", "FID")
    _clear_error(code, err, "FID is not applicable", "images")
    code, out, err = lvas("eval", str(dubbed["output"]), "--metrics", "FID,dropouts", "-q")
    assert code == 0, err
    assert "FID: not applicable:" in out and "dropout_share" in out


def test_bad_input_exits_2_and_writes_nothing(dubbed, lvas, tmp_path) -> None:
    out_dir = tmp_path / "never"
    silent = make_cut_video(tmp_path / "silent.mp4", [1.0])
    bad_manifest = tmp_path / "bad.csv"
    bad_manifest.write_text("file\nx.mp4\n")
    for args, words in (
        ((str(tmp_path / "missing.mp4"),), ("missing.mp4", "does not exist")),
        ((str(silent),), ("silent.mp4", "no audio stream")),
        ((str(bad_manifest),), ("'video' column",)),
        ((str(dubbed["output"]), "--reference", str(silent)), ("reference", "no audio")),
        ((str(dubbed["output"]), "--metrics", " , "), ("--metrics is empty",)),
        ((), ("give a dubbed video",)),
    ):
        code, _, err = lvas("eval", *args, "-o", str(out_dir))
        _clear_error(code, err, *words)
    assert not out_dir.exists()


def test_missing_file_in_a_fresh_process_has_no_traceback(dubbed, tmp_path) -> None:
    result = _lvas_process("eval", str(tmp_path / "nope.mp4"), cache_dir=dubbed["cache"])
    _clear_error(result.returncode, result.stderr, "nope.mp4")
