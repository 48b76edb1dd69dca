"""lvas batch's inputs: folders, files and manifests become items with absolute paths and
outputs, and everything a user must fix is refused before anything starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lvas.graph.batch_manifest import BatchItem, collect_items
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import MAX_PROMPT_CHARS
from lvas.tools.delivery.muxing import default_output_path
from lvas.tools.video.probe import probe_video
from tests import videos


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Half-second videos of several containers, made once and copied into each catalogue."""
    root = tmp_path_factory.mktemp("batch-sources")
    return {
        "mp4": videos.make_cut_video(root / "clip.mp4", [0.5]),
        "webm": videos.make_webm(root / "clip.webm", [0.5]),
        "mpg": videos.make_mpeg_ps(root / "clip.mpg", [0.5]),
        "h264": videos.make_raw_h264(root / "clip.h264", [0.5]),
    }


def _put(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def _refused(excinfo: pytest.ExceptionInfo[LVASInputError], *fragments: str) -> None:
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, message


# ---- folders and files --------------------------------------------------------------------


def test_folder_is_searched_recursively_sorted_and_hidden_entries_skipped(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    _put(sources["mp4"], lib / "b" / "clip.mp4")
    _put(sources["mp4"], lib / "a" / "clip.mp4")  # the same name in two folders: no clash
    _put(sources["webm"], lib / "x.webm")
    _put(sources["mpg"], lib / "Y.MPG")
    _put(sources["h264"], lib / "raw.h264")
    _put(sources["mp4"], lib / ".secret.mp4")
    _put(sources["mp4"], lib / ".cache" / "inside.mp4")
    (lib / "notes.txt").write_text("not a video")
    (lib / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    out = tmp_path / "out"

    items = collect_items([str(lib)], None, out, seed=5)

    assert [Path(i.video).relative_to(lib).as_posix() for i in items] == [
        "Y.MPG",
        "a/clip.mp4",
        "b/clip.mp4",
        "raw.h264",
        "x.webm",
    ]
    assert [Path(i.output).relative_to(out).as_posix() for i in items] == [
        "Y.dubbed.mkv",
        "a/clip.dubbed.mp4",
        "b/clip.dubbed.mp4",
        "raw.dubbed.mkv",
        "x.dubbed.webm",
    ]
    for item in items:
        assert Path(item.video).is_absolute() and Path(item.output).is_absolute()
        assert (item.prompt, item.narration, dict(item.options), item.seed) == (None, None, {}, 5)
        # The extension is the one `lvas dub` would give this video's output.
        assert (
            Path(item.output).suffix
            == default_output_path(item.video, probe_video(item.video)).suffix
        )


def test_file_arguments_relative_to_the_working_folder(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(sources["webm"], tmp_path / "in" / "deep" / "talk.webm")
    _put(sources["mp4"], tmp_path / "in" / "walk.mp4")
    monkeypatch.chdir(tmp_path)

    items = collect_items(["in/walk.mp4", "in/deep/talk.webm"], None, "out")

    assert [(i.video, i.output) for i in items] == [
        (str(tmp_path / "in" / "walk.mp4"), str(tmp_path / "out" / "walk.dubbed.mp4")),
        (str(tmp_path / "in" / "deep" / "talk.webm"), str(tmp_path / "out" / "talk.dubbed.webm")),
    ]
    assert items[0].seed == 0


def test_a_file_that_is_not_a_video_is_collected_for_the_batch_to_record(
    tmp_path: Path,
) -> None:
    (tmp_path / "lib").mkdir()
    broken = videos.make_text_file(tmp_path / "lib" / "broken.mp4")
    empty = tmp_path / "lib" / "empty.mov"
    empty.write_bytes(b"")

    items = collect_items([str(tmp_path / "lib")], None, tmp_path / "out")

    assert [Path(i.video) for i in items] == [broken, empty]
    # Neither opens: no container to keep, so the output is Matroska, which holds any video.
    assert [Path(i.output).name for i in items] == ["broken.dubbed.mkv", "empty.dubbed.mkv"]


def test_outputs_of_an_earlier_run_are_not_taken_for_inputs(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    _put(sources["mp4"], lib / "clip.mp4")
    _put(sources["mp4"], lib / "dubbed" / "clip.dubbed.mp4")  # OUTDIR inside the folder
    first = collect_items([str(lib)], None, lib / "dubbed")
    assert [Path(i.video).name for i in first] == ["clip.mp4"]

    same = tmp_path / "same"
    _put(sources["mp4"], same / "clip.mp4")
    _put(sources["mp4"], same / "clip.dubbed.mp4")  # OUTDIR is the folder itself
    again = collect_items([str(same)], None, same)
    assert [(Path(i.video).name, Path(i.output).name) for i in again] == [
        ("clip.mp4", "clip.dubbed.mp4")
    ]


def test_a_video_named_twice_runs_once(sources: dict[str, Path], tmp_path: Path) -> None:
    clip = _put(sources["mp4"], tmp_path / "lib" / "clip.mp4")
    items = collect_items([str(clip), str(tmp_path / "lib"), str(clip)], None, tmp_path / "o")
    assert [i.video for i in items] == [str(clip)]


def test_refusals_of_cli_inputs(sources: dict[str, Path], tmp_path: Path) -> None:
    one = _put(sources["mp4"], tmp_path / "a" / "clip.mp4")
    two = _put(sources["mp4"], tmp_path / "b" / "clip.mp4")
    out = tmp_path / "out"
    with pytest.raises(LVASInputError) as exc:
        collect_items([str(one), str(two)], None, out)
    _refused(exc, str(one), str(two), str(out / "clip.dubbed.mp4"), "different outputs")

    with pytest.raises(LVASInputError) as exc:
        collect_items([str(tmp_path / "missing.mp4")], None, out)
    _refused(exc, "missing.mp4", "no such file or folder")

    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    _put(sources["mp4"], empty / ".hidden" / "x.mp4")
    (empty / "readme.txt").write_text("x")
    with pytest.raises(LVASInputError) as exc:
        collect_items([str(empty)], None, out)
    _refused(exc, str(empty), "no video files", ".mp4")

    with pytest.raises(LVASInputError) as exc:
        collect_items([], None, out)
    _refused(exc, "Nothing to dub", "--manifest")

    manifest = tmp_path / "m.csv"
    manifest.write_text(f"video\n{one}\n")
    with pytest.raises(LVASInputError) as exc:
        collect_items([str(one)], str(manifest), out)
    _refused(exc, "not both")

    (tmp_path / "afile").write_text("x")
    with pytest.raises(LVASInputError) as exc:
        collect_items([str(one)], None, tmp_path / "afile")
    _refused(exc, "is a file")


# ---- manifests ----------------------------------------------------------------------------


def test_csv_manifest(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    _put(sources["mp4"], data / "shots" / "one.mp4")
    _put(sources["webm"], data / "two.webm")
    _put(sources["mpg"], tmp_path / "elsewhere" / "three.mpg")
    (data / "lines.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHello.\n")
    manifest = data / "batch.csv"
    manifest.write_text(
        "\ufeffVideo,output,prompt,narration,options,seed\n"  # Excel's BOM, a capital
        'shots/one.mp4,,"rain, then thunder",lines.srt,'
        '"segmentation=fixed; segment-seconds=10;review_scripts=no",3\n'
        "two.webm,mine/two-final.mkv,,,,\n"
        f"../elsewhere/three.mpg,{tmp_path / 'far' / 'three.mkv'},,,,\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path / "elsewhere")  # paths are read from the manifest's folder

    items = collect_items([], str(manifest), tmp_path / "out", seed=9)

    assert items == [
        BatchItem(
            video=str(data / "shots" / "one.mp4"),
            output=str(tmp_path / "out" / "shots" / "one.dubbed.mp4"),
            prompt="rain, then thunder",
            narration=str(data / "lines.srt"),
            options={"review_scripts": False, "segment_seconds": 10.0, "segmentation": "fixed"},
            seed=3,
        ),
        # A relative output is inside OUTDIR; an absolute one may be anywhere.
        BatchItem(
            video=str(data / "two.webm"),
            output=str(tmp_path / "out" / "mine" / "two-final.mkv"),
            seed=9,
        ),
        BatchItem(
            video=str(tmp_path / "elsewhere" / "three.mpg"),
            output=str(tmp_path / "far" / "three.mkv"),
            seed=9,
        ),
    ]
    assert list(items[0].options) == sorted(items[0].options)


def test_jsonl_manifest(sources: dict[str, Path], tmp_path: Path) -> None:
    _put(sources["mp4"], tmp_path / "a.mp4")
    _put(sources["mpg"], tmp_path / "sub" / "b.mpg")
    rows = [
        {
            "video": "a.mp4",
            "prompt": "birdsong",
            "seed": 11,
            "options": {
                "detect_gradual": True,
                "label_candidates": 4,
                "channels": "mono",
                "cut_threshold": 0.4,
            },
        },
        {},  # written below as a blank line
        {"video": "sub/b.mpg", "output": None, "options": "carry_beds=off", "seed": "12"},
    ]
    text = "\n".join("" if not row else json.dumps(row) for row in rows) + "\n\n"
    (tmp_path / "m.jsonl").write_text(text)

    items = collect_items([], str(tmp_path / "m.jsonl"), tmp_path / "out")

    assert [
        (Path(i.video).name, Path(i.output).relative_to(tmp_path / "out").as_posix()) for i in items
    ] == [("a.mp4", "a.dubbed.mp4"), ("b.mpg", "sub/b.dubbed.mkv")]
    assert items[0].options == {
        "channels": "mono",
        "cut_threshold": 0.4,
        "detect_gradual": True,
        "label_candidates": 4,
    }
    assert (items[0].prompt, items[0].seed) == ("birdsong", 11)
    assert (items[1].options, items[1].seed) == ({"carry_beds": False}, 12)


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        (
            "m.jsonl",
            '{"video": "a.mp4"}\n\n{"video": "a.mp4", "seed": 1\n',
            ["m.jsonl line 3", "not valid JSON"],
        ),
        ("m.jsonl", '["a.mp4"]\n', ["line 1", "JSON object"]),
        ("m.jsonl", '{"video": "a.mp4"}\n{"prompt": "rain"}\n', ["line 2", "no video"]),
        ("m.csv", "video,prompt\na.mp4,rain\n,wind\n", ["m.csv line 3", "no video"]),
        ("m.csv", "prompt\nrain\n", ["header", "'video' column"]),
        ("m.csv", "video,vidoe\na.mp4,x\n", ["'vidoe'", "video, output, prompt"]),
        ("m.jsonl", '{"video": "a.mp4", "tempo": 3}\n', ["line 1", "'tempo'"]),
        ("m.csv", "video\nmissing.mp4\n", ["line 2", "missing.mp4", "does not exist"]),
        ("m.csv", "video,narration\na.mp4,nope.srt\n", ["line 2", "narration file", "nope.srt"]),
        (
            "m.csv",
            "video,options\na.mp4,segmentaton=fixed\n",
            ["line 2", "unknown setting 'segmentaton'", "did you mean segmentation?"],
        ),
        (
            "m.csv",
            "video,options\na.mp4,segment_seconds=ten\n",
            ["line 2", "segment_seconds", "expected a number"],
        ),
        ("m.csv", "video,options\na.mp4,segmentation=wavy\n", ["line 2", "choose one of"]),
        (
            "m.jsonl",
            '{"video": "a.mp4", "options": {"review_scripts": "perhaps"}}\n',
            ["line 1", "true or false"],
        ),
        (
            "m.jsonl",
            '{"video": "a.mp4", "options": {"label_candidates": [1]}}\n',
            ["line 1", "label_candidates"],
        ),
        ("m.jsonl", '{"video": "a.mp4", "options": ["x=1"]}\n', ["line 1", "options must be"]),
        ("m.csv", "video,options\na.mp4,segmentation\n", ["line 2", "name=value"]),
        ("m.csv", "video,options\na.mp4,seed=4\n", ["line 2", "seed column"]),
        (
            "m.jsonl",
            '{"video": "a.mp4", "options": {"generator_backend": "procedural"}}\n',
            ["line 1", "generator_backend", "whole batch"],
        ),
        (
            "m.csv",
            "video,options\na.mp4,segment_seconds=4;segment-seconds=5\n",
            ["line 2", "given twice"],
        ),
        ("m.csv", "video,seed\na.mp4,1.5\n", ["line 2", "seed", "whole number"]),
        ("m.jsonl", '{"video": "a.mp4", "seed": true}\n', ["line 1", "whole number"]),
        ("m.jsonl", '{"video": 3}\n', ["line 1", "video must be text"]),
        ("m.csv", "video,prompt\na.mp4,x,y\n", ["line 2", "more cells"]),
        ("m.csv", "video\n", ["holds no videos"]),
        ("m.jsonl", "\n\n", ["holds no videos"]),
        ("m.txt", "video\na.mp4\n", ["CSV", ".jsonl"]),
        ("m.csv", "video,output\na.mp4,../a.mp4\n", ["line 2", "the video itself"]),
        (
            "m.csv",
            "video,output\na.mp4,x.mp4\nb.mp4,x.mp4\n",
            ["m.csv line 2 and m.csv line 3", "both write", "x.mp4"],
        ),
        ("m.csv", "video,output\na.mp4,../b.mp4\nb.mp4,\n", ["line 2", "input video of", "line 3"]),
        ("m.csv", "video,output\na.mp4,..\n", ["line 2", "is a folder"]),
    ],
)
def test_manifest_refusals(
    sources: dict[str, Path], tmp_path: Path, name: str, text: str, fragments: list[str]
) -> None:
    _put(sources["mp4"], tmp_path / "a.mp4")
    _put(sources["mp4"], tmp_path / "b.mp4")
    (tmp_path / name).write_text(text)
    # OUTDIR is a folder inside the manifest's, so '../a.mp4' is the input itself.
    with pytest.raises(LVASInputError) as exc:
        collect_items([], str(tmp_path / name), tmp_path / "out")
    _refused(exc, *fragments)


def test_manifest_file_refusals(tmp_path: Path) -> None:
    with pytest.raises(LVASInputError) as exc:
        collect_items([], str(tmp_path / "nope.csv"), tmp_path / "out")
    _refused(exc, "nope.csv", "no such file")
    with pytest.raises(LVASInputError) as exc:
        collect_items([], str(tmp_path), tmp_path / "out")
    _refused(exc, "is a folder")
    (tmp_path / "latin.csv").write_bytes("video\ncaf\xe9.mp4\n".encode("latin-1"))
    with pytest.raises(LVASInputError) as exc:
        collect_items([], str(tmp_path / "latin.csv"), tmp_path / "out")
    _refused(exc, "UTF-8")


def test_too_long_a_prompt_is_refused_with_its_line(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    _put(sources["mp4"], tmp_path / "a.mp4")
    row = {"video": "a.mp4", "prompt": "x" * (MAX_PROMPT_CHARS + 1)}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(LVASInputError) as exc:
        collect_items([], str(tmp_path / "m.jsonl"), tmp_path / "out")
    _refused(exc, "m.jsonl line 1", f"{MAX_PROMPT_CHARS:,}")


# ---- items --------------------------------------------------------------------------------


def test_item_key_is_stable_and_covers_every_field() -> None:
    item = BatchItem(
        video="/data/clips/a.mp4",
        output="/out/a.dubbed.mp4",
        prompt="rain on a tin roof",
        narration=None,
        options={"segmentation": "fixed", "segment_seconds": 10.0},
        seed=7,
    )
    # Pinned: a new LVAS reading an old ledger must still recognise its finished videos.
    assert item.key() == "56f3d6beb60676ab"
    reordered = BatchItem(
        video=item.video,
        output=item.output,
        prompt=item.prompt,
        options={"segment_seconds": 10.0, "segmentation": "fixed"},
        seed=7,
    )
    assert reordered.key() == item.key()
    assert BatchItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    changes = [
        {"video": "/data/clips/b.mp4"},
        {"output": "/out/b.mp4"},
        {"prompt": "rain"},
        {"prompt": None},
        {"narration": "/data/a.srt"},
        {"seed": 8},
        {"options": {"segmentation": "fixed", "segment_seconds": 12.0}},
        {"options": {"segmentation": "fixed"}},
    ]
    keys = {BatchItem(**{**item.to_dict(), **change}).key() for change in changes}
    assert len(keys) == len(changes) and item.key() not in keys
    assert all(len(k) == 16 and int(k, 16) >= 0 for k in keys)


def test_to_dict_is_json(sources: dict[str, Path], tmp_path: Path) -> None:
    _put(sources["mp4"], tmp_path / "a.mp4")
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"video": "a.mp4", "options": {"segment_seconds": 4, "vision_input": False}})
        + "\n"
    )
    (item,) = collect_items([], str(tmp_path / "m.jsonl"), tmp_path / "out", seed=2)
    assert json.loads(json.dumps(item.to_dict())) == {
        "video": str(tmp_path / "a.mp4"),
        "output": str(tmp_path / "out" / "a.dubbed.mp4"),
        "prompt": None,
        "narration": None,
        "options": {"segment_seconds": 4.0, "vision_input": False},
        "seed": 2,
    }
