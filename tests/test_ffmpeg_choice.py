"""Which ffmpeg LVAS runs: an old system ffmpeg on PATH (Debian 12's 5.1 lacks
``-display_rotation``) is passed over for the bundled one, a capable one is used, and
``LVAS_FFMPEG`` overrides both. The stand-in for the old build is the real bundled ffmpeg behind
a script that prints Debian's banner and refuses what 5.1 does not know."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lvas.graph.doctor import check_ffmpeg
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import ffmpeg_exe, reset_ffmpeg_exe, run_ffmpeg
from lvas.tools.common.ffmpeg_choice import (
    choose_ffmpeg,
    ffmpeg_choice,
    inspect_ffmpeg,
    missing_features,
    parse_release,
)

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_12 = "5.1.6-0+deb12u1"
GIT_BUILD = "N-113245-g4a38a7a5b4"


def _bundled() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch: pytest.MonkeyPatch):
    """Each test chooses afresh, and the tests after it choose again with the real PATH."""
    monkeypatch.delenv("LVAS_FFMPEG", raising=False)
    reset_ffmpeg_exe()
    yield
    reset_ffmpeg_exe()


def _fake_ffmpeg(
    folder: Path, *, version: str = DEBIAN_12, has_rotation: bool = False, name: str = "ffmpeg"
) -> Path:
    """An executable ``folder/name``: the bundled ffmpeg with ``version``'s banner; unless
    ``has_rotation``, it knows no ``-display_rotation`` (as FFmpeg 5.1). Every call is logged
    in ``folder/calls.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    refuse = (
        ""
        if has_rotation
        else (
            "    -display_rotation*) echo \"Unrecognized option 'display_rotation'.\" >&2\n"
            "        echo 'Error splitting the argument list: Option not found' >&2; exit 1;;\n"
            '    -h) "$REAL" "$@" | grep -v \'^-display_rotation\'; exit 0;;\n'
        )
    )
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f"REAL='{_bundled()}'\n"
        f"echo \"$*\" >> '{folder / 'calls.log'}'\n"
        'for a in "$@"; do\n'
        '  case "$a" in\n'
        f"{refuse}"
        f"    -version) echo 'ffmpeg version {version} Copyright (c) 2000-2024 the FFmpeg "
        "developers'\n"
        "        echo 'built with gcc 12 (Debian 12.2.0-14)'\n"
        "        echo 'libavutil      57. 28.100 / 57. 28.100'\n"
        "        echo 'libavcodec     59. 37.100 / 59. 37.100'\n"
        "        echo 'libavformat    59. 27.100 / 59. 27.100'; exit 0;;\n"
        "  esac\n"
        "done\n"
        'exec "$REAL" "$@"\n'
    )
    script.chmod(0o755)
    return script


def _first_on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.parametrize(
    ("version", "release"),
    [
        (DEBIAN_12, (5, 1)),
        ("n7.1", (7, 1)),
        ("7.0.2-static", (7, 0)),
        ("4.4.2-0ubuntu0.22.04.1", (4, 4)),
        ("n9.0.2-17-g2a571b6068-20260930", (9, 0)),
        ("6.1.1-3ubuntu5", (6, 1)),
        (GIT_BUILD, None),
        ("git-2024-01-02-abcdef0", None),
        ("2024-03-01", None),
    ],
)
def test_release_numbers_of_distro_and_git_builds(version, release):
    assert parse_release(version) == release


# Excerpts of what Debian 12's FFmpeg 5.1.9 and imageio-ffmpeg's 9.0.2 print: 5.1's -filters has
# no "---" rule and its -formats no device column; 9.0 has both.
_LISTS_5_1 = (
    "Filters:\n  T.. = Timeline support\n  .S. = Slice threading\n  ..C = Command support\n"
    "  | = Source or sink filter\n"
    " ... abench            A->A       Benchmark part of a filtergraph.\n"
    " T.. apad              A->A       Pad audio with silence.\n"
    " ..C color             |->V       Provide an uniformly colored input.\n",
    "Encoders:\n V..... = Video\n ------\n A..... libopus              libopus Opus (codec opus)\n",
    "File formats:\n D. = Demuxing supported\n .E = Muxing supported\n --\n"
    " D  lavfi           Libavfilter virtual input device\n"
    " D  matroska,webm   Matroska / WebM\n  E mp4             MP4 (MPEG-4 Part 14)\n",
    "-fps_mode           set framerate mode for matching video streams; overrides vsync\n"
    "apad AVOptions:\n   whole_dur         <duration>   ..F.A...... set minimum target "
    "duration in the audio stream (default -0.000001)\n",
)
_LISTS_9_0 = (
    "Filters:\n  T.. = Timeline support\n  | = Source or sink filter\n  ------\n"
    " TS aap               AA->A      Apply Affine Projection algorithm.\n"
    " T. apad              A->A       Pad audio with silence.\n"
    " .. color             |->V       Provide an uniformly colored input.\n",
    "Encoders:\n V..... = Video\n ------\n A....D libopus              libopus Opus (codec opus)\n",
    "Formats:\n D.. = Demuxing supported\n .E. = Muxing supported\n ..d = Is a device\n ---\n"
    " D d lavfi           Libavfilter virtual input device\n"
    " D   matroska,webm   Matroska / WebM\n  E  mp4             MP4 (MPEG-4 Part 14)\n",
    "-display_rotation[:<stream_spec>] <angle>  set pure counter-clockwise rotation in degrees\n"
    "-fps_mode[:<stream_spec>]  set framerate mode for matching video streams\n"
    "apad AVOptions:\n   whole_dur         <duration>   ..F.A...... set minimum target "
    "duration in the audio stream (default -0.000001)\n",
)


@pytest.mark.parametrize("lists", [_LISTS_5_1, _LISTS_9_0], ids=["5.1", "9.0"])
def test_the_lists_of_old_and_new_releases_are_read(lists):
    missing = set(missing_features(*lists))
    found = {
        "filter apad",
        "filter color",
        "encoder libopus",
        "muxer mp4",
        "input lavfi",
        "-fps_mode (needs FFmpeg >= 5.1)",
        "the apad filter's whole_dur option (needs FFmpeg >= 4.2)",
    }
    assert not found & missing
    assert "muxer matroska" in missing  # matroska,webm is the demuxer; the muxer line is absent
    assert "filter atrim" in missing  # not in these excerpts
    assert ("-display_rotation (needs FFmpeg >= 6.0)" in missing) == (lists is _LISTS_5_1)


def test_the_fake_old_ffmpeg_fails_as_debian_12_does(tmp_path):
    fake = _fake_ffmpeg(tmp_path / "bin")
    done = subprocess.run(
        [str(fake), "-y", "-display_rotation", "90", "-i", "x.mp4", "y.mp4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "Unrecognized option 'display_rotation'" in done.stderr


def test_an_old_system_ffmpeg_is_passed_over_for_the_bundled_one(tmp_path, monkeypatch):
    fake = _fake_ffmpeg(tmp_path / "bin")
    _first_on_path(monkeypatch, tmp_path / "bin")
    choice = ffmpeg_choice()
    assert choice.origin == "bundled" and choice.capable
    assert os.path.samefile(ffmpeg_exe(), _bundled())
    assert f"system ffmpeg {DEBIAN_12} at {fake}" in choice.reason
    assert "lacks -display_rotation (needs FFmpeg >= 6.0)" in choice.reason
    assert f"using the bundled ffmpeg {choice.version} at {choice.path}" in choice.reason
    assert choice.rejected and str(fake) in choice.rejected[0]
    # and what the old one refused now works
    src = tmp_path / "src.mp4"
    run_ffmpeg(
        [
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x48:r=25:d=0.4",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(src),
        ]
    )
    run_ffmpeg(
        ["-y", "-display_rotation", "90", "-i", str(src), "-c", "copy", str(tmp_path / "rot.mp4")]
    )


def test_a_capable_system_ffmpeg_is_used(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ffmpeg").symlink_to(_bundled())
    _first_on_path(monkeypatch, folder)
    choice = ffmpeg_choice()
    assert choice.origin == "system" and choice.capable and not choice.rejected
    assert ffmpeg_exe() == str(folder / "ffmpeg")
    assert "has what LVAS needs" in choice.reason


def test_a_git_build_is_judged_by_its_features(tmp_path, monkeypatch):
    """``N-...`` names no release: the features decide, either way."""
    good = _fake_ffmpeg(tmp_path / "good", version=GIT_BUILD, has_rotation=True)
    _first_on_path(monkeypatch, tmp_path / "good")
    choice = choose_ffmpeg()
    assert (choice.origin, choice.path, choice.version) == ("system", str(good), GIT_BUILD)

    old = _fake_ffmpeg(tmp_path / "old", version=GIT_BUILD)
    _first_on_path(monkeypatch, tmp_path / "old")
    choice = choose_ffmpeg()
    assert choice.origin == "bundled"
    assert f"system ffmpeg {GIT_BUILD} at {old} lacks -display_rotation" in choice.reason


def test_each_binary_is_inspected_once_per_process(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path / "bin", has_rotation=True, version="6.1.1-3ubuntu5")
    _first_on_path(monkeypatch, tmp_path / "bin")
    for _ in range(3):
        ffmpeg_exe()
        choose_ffmpeg()
        check_ffmpeg()
    calls = (tmp_path / "bin" / "calls.log").read_text().splitlines()
    assert sorted(calls) == sorted(
        [
            "-version",
            "-hide_banner -filters",
            "-hide_banner -encoders",
            "-hide_banner -formats",
            "-hide_banner -h full",
        ]
    )


def test_lvas_ffmpeg_overrides_path(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path / "bin")
    _first_on_path(monkeypatch, tmp_path / "bin")
    monkeypatch.setenv("LVAS_FFMPEG", _bundled())
    choice = ffmpeg_choice()
    assert (choice.origin, choice.path) == ("LVAS_FFMPEG", _bundled()) and choice.capable
    assert choice.reason.startswith("LVAS_FFMPEG chose ffmpeg")


def test_lvas_ffmpeg_may_name_a_program_on_path(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ffmpeg-9").symlink_to(_bundled())
    _first_on_path(monkeypatch, folder)
    monkeypatch.setenv("LVAS_FFMPEG", "ffmpeg-9")
    assert ffmpeg_exe() == str(folder / "ffmpeg-9")


def test_lvas_ffmpeg_is_honoured_even_when_it_lacks_something(tmp_path, monkeypatch):
    fake = _fake_ffmpeg(tmp_path / "bin", name="ffmpeg-old")
    monkeypatch.setenv("LVAS_FFMPEG", str(fake))
    with pytest.warns(RuntimeWarning, match="lacks -display_rotation"):
        choice = ffmpeg_choice()
    assert (choice.origin, choice.path) == ("LVAS_FFMPEG", str(fake))
    assert not choice.capable and "-display_rotation (needs FFmpeg >= 6.0)" in choice.missing
    assert "unset LVAS_FFMPEG" in choice.reason
    check = check_ffmpeg()
    assert not check["ok"] and "lacks -display_rotation" in check["detail"]


@pytest.mark.parametrize("broken", ["missing", "not-ffmpeg", "not-executable"])
def test_a_broken_lvas_ffmpeg_is_a_clear_error(tmp_path, monkeypatch, broken):
    target = tmp_path / "ffmpeg"
    if broken == "not-ffmpeg":  # runs, but is no ffmpeg
        target.write_text("#!/bin/sh\necho 'usage: something else' >&2\nexit 1\n")
        target.chmod(0o755)
    elif broken == "not-executable":
        target.write_text("not a program\n")
    monkeypatch.setenv("LVAS_FFMPEG", str(target))
    with pytest.raises(LVASInputError, match="LVAS_FFMPEG") as err:
        ffmpeg_exe()
    assert str(target) in str(err.value) and "unset it" in str(err.value)
    with pytest.raises(LVASInputError, match="LVAS_FFMPEG"):
        run_ffmpeg(["-version"])
    check = check_ffmpeg()
    assert not check["ok"] and "LVAS_FFMPEG" in check["detail"]


def test_a_broken_lvas_ffmpeg_stops_the_cli_with_exit_2(tmp_path):
    env = {**os.environ, "LVAS_FFMPEG": str(tmp_path / "nowhere" / "ffmpeg")}
    done = subprocess.run(
        [sys.executable, "-m", "lvas.graph.cli", "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "LVAS_FFMPEG" in done.stderr


def test_doctor_names_the_choice_and_the_rejected_ffmpeg(tmp_path, monkeypatch):
    fake = _fake_ffmpeg(tmp_path / "bin")
    _first_on_path(monkeypatch, tmp_path / "bin")
    check = check_ffmpeg()
    assert check["ok"] and check["origin"] == "bundled"
    assert os.path.samefile(check["path"], _bundled())
    assert f"system ffmpeg {DEBIAN_12} at {fake} lacks -display_rotation" in check["detail"]
    assert check["rejected"] and str(fake) in check["rejected"][0]

    env = {**os.environ}
    env.pop("LVAS_FFMPEG", None)
    done = subprocess.run(
        [sys.executable, "-m", "lvas.graph.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ffmpeg = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "ffmpeg")
    assert ffmpeg["ok"] and ffmpeg["origin"] == "bundled" and str(fake) in ffmpeg["detail"]


def test_with_an_old_ffmpeg_first_on_path_rotated_test_videos_are_made(tmp_path):
    """End to end in a fresh interpreter, as the test command runs on a Debian 12 machine."""
    _fake_ffmpeg(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("LVAS_FFMPEG", None)
    code = (
        "import json, sys\n"
        "from lvas.tools.common.ffmpeg import ffmpeg_exe\n"
        "from lvas.tools.video.probe import probe_video\n"
        "from tests.videos import make_cut_video, make_rotated\n"
        "folder = sys.argv[1]\n"
        "src = make_cut_video(folder + '/src.mp4', [1.0, 1.0])\n"
        "rotated = make_rotated(folder + '/rotated.mp4', src, 90)\n"
        "info = probe_video(rotated)\n"
        "print(json.dumps({'exe': ffmpeg_exe(), 'rotation': info.rotation}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert os.path.samefile(result["exe"], _bundled())
    assert result["rotation"] == 90
    assert (tmp_path / "bin" / "calls.log").read_text().count("-version") == 1


def test_inspecting_a_missing_file_says_so(tmp_path):
    build = inspect_ffmpeg(str(tmp_path / "nothing"))
    assert not build.capable and "cannot be read" in build.problems[0]


def test_a_broken_lvas_ffmpeg_refuses_a_dub_before_any_work(tmp_path):
    """The probe checks the ffmpeg a dub will mux with: nothing runs, nothing is written."""
    from tests.videos import make_cut_video

    video = make_cut_video(tmp_path / "clip.mp4", [2.0])
    env = {**os.environ, "LVAS_FFMPEG": str(tmp_path / "nowhere" / "ffmpeg"),
           "LVAS_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "lvas.graph.cli", "dub", str(video), "-o", str(out / "x.mp4")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "LVAS_FFMPEG" in done.stderr
    assert "storyboard" not in done.stderr.lower() and list(out.iterdir()) == []
