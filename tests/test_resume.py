"""A killed run goes on with --resume: finished steps and finished renders are not redone."""

from __future__ import annotations

import pytest

from lvas.graph.cli import main
from lvas.tools.generation.procedural_backend import ProceduralGenerator
from tests.videos import make_cut_video

EVENTS = "a dog barking, a door slamming, a bell ringing"
"""Sounds for every scene whatever the picture shows: the runs below need several renders."""


class Crash(RuntimeError):
    """Stands in for the process being killed in the middle of the renders."""


@pytest.fixture
def counted_renders(monkeypatch):
    calls: list[str] = []
    real = ProceduralGenerator.render

    def render(self, request, out_path):
        calls.append(request.family)
        if len(calls) == 3 and not getattr(render, "healed", False):
            raise Crash("killed")
        return real(self, request, out_path)

    monkeypatch.setattr(ProceduralGenerator, "render", render)
    return calls, render


def test_resume_goes_on_where_the_run_stopped(tmp_path, label_cache_dir, monkeypatch,
                                              counted_renders, capsys):
    calls, render = counted_renders
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0, 2.0])
    args = ["dub", str(video), "-o", str(tmp_path / "out.mp4"), "--work-dir",
            str(tmp_path / "run"), "--seed", "2", "--prompt", EVENTS]
    assert main(args) == 1  # an internal error: the run stopped during generation
    assert not (tmp_path / "out.mp4").exists()
    rendered_before = len(calls)
    capsys.readouterr()

    render.healed = True
    assert main([*args, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resuming" in err
    assert "Storyboarder" not in err and "Synthesizer" not in err  # planning is not redone
    assert (tmp_path / "out.mp4").exists()
    clips = list((tmp_path / "run" / "clips").glob("*.wav"))
    # every sound rendered once in all: what finished before the crash (all but the crashed
    # render) was kept, and the resumed run rendered only the rest
    renders_after = len(calls) - rendered_before
    assert renders_after >= 1
    assert (rendered_before - 1) + renders_after == len(clips)


def test_resume_with_nothing_to_resume_starts_afresh(tmp_path, label_cache_dir, monkeypatch,
                                                    capsys):
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    video = make_cut_video(tmp_path / "v.mp4", [2.0])
    args = ["dub", str(video), "-o", str(tmp_path / "out.mp4"), "--work-dir",
            str(tmp_path / "run"), "--resume"]
    assert main(args) == 0
    assert "starting afresh" in capsys.readouterr().err


def test_a_run_stopped_after_publishing_its_output_resumes_over_it(
        tmp_path, label_cache_dir, monkeypatch, capsys):
    """Killed between the mux's rename and the mixer's recorded step: the output exists, and
    the resumed run must know it as its own (it refused it as "already exists" before)."""
    import lvas.nodes.mixer as mixer

    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    out = tmp_path / "out.mkv"
    args = ["dub", str(video), "-o", str(out), "--work-dir", str(tmp_path / "run"),
            "--seed", "4"]
    real_mux = mixer.mux_soundtrack

    def killed(*args, **kwargs):
        real_mux(*args, **kwargs)
        raise Crash("killed just after the output was published")

    monkeypatch.setattr(mixer, "mux_soundtrack", killed)
    assert main(args) == 1
    assert out.exists()
    capsys.readouterr()
    monkeypatch.setattr(mixer, "mux_soundtrack", real_mux)
    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    assert "resuming" in capsys.readouterr().err
    # A file somebody else put there is still never replaced.
    out.unlink()
    out.write_bytes(b"the user's own file")
    assert main(["dub", str(video), "-o", str(out), "--work-dir", str(tmp_path / "run")]) == 2
    assert out.read_bytes() == b"the user's own file"


def test_a_resumed_run_leaves_nothing_a_killed_one_left_half_written(
        tmp_path, label_cache_dir, monkeypatch, counted_renders, capsys):
    calls, render = counted_renders
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    out, run = tmp_path / "out.mp4", tmp_path / "run"
    args = ["dub", str(video), "-o", str(out), "--work-dir", str(run), "--seed", "3",
            "--prompt", EVENTS]
    assert main(args) == 1
    # What SIGKILL leaves (no finally runs): half-written takes, window scratch folders, and
    # the hidden partial output of a mux whose ffmpeg finished after its parent died.
    (run / "clips" / ".rain-0a1b2c3d4e5f.0123456789ab.part.wav").write_bytes(b"half")
    (run / "clips" / ".rain-0a1b2c3d4e5f.windows-k2j3").mkdir()
    (run / "clips" / ".rain-0a1b2c3d4e5f.windows-k2j3" / "w0.wav").write_bytes(b"w")
    (tmp_path / ".out.abcdef012345.part.mp4").write_bytes(b"full size, never renamed")
    (tmp_path / "notes.txt").write_text("the user's")  # not ours: stays
    render.healed = True
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["v.mp4", "out.mp4", "run", "notes.txt"])
    assert not [p for p in (run / "clips").iterdir() if p.name.startswith(".")]


def test_only_work_in_progress_names_are_swept(tmp_path):
    from lvas.tools.common.paths import remove_partials

    keep = [".gitignore", ".notes.part.txt", "out.mp4", ".out.mp4", "x.0123456789ab.part.wav"]
    for name in keep:
        (tmp_path / name).write_text("keep")
    gone = [".out.0123456789ab.part.mp4", ".a-b.fedcba987654.part.wav"]
    for name in gone:
        (tmp_path / name).write_text("partial")
    (tmp_path / ".a-b.windows-x1y2").mkdir()
    assert sorted(p.name for p in remove_partials(tmp_path, "out")) == [gone[0]]
    remove_partials(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_a_write_check_a_kill_interrupts_is_swept_with_the_output(tmp_path, monkeypatch):
    """The output folder's write check creates and removes a file; killed in between, it
    leaves one named as the output's work in progress, which the resumed run sweeps with the
    output's other partials (and the run folder's check, with the run folder's)."""
    from lvas.tools.common import paths

    video = make_cut_video(tmp_path / "v.mp4", [2.0])
    out_dir, run = tmp_path / "out", tmp_path / "run"
    out_dir.mkdir()
    run.mkdir()
    monkeypatch.setattr(paths.os, "unlink", lambda name: None)  # the kill, before the unlink
    paths.check_output_path(out_dir / "film.mp4", video=video, overwrite=False)
    assert paths.can_create_in(run)
    monkeypatch.undo()
    (left,) = out_dir.iterdir()
    assert left.name.startswith(".film.") and left.name.endswith(".part.mp4")
    assert paths.remove_partials(out_dir, "film") == [left]
    (check,) = run.iterdir()
    assert paths.remove_partials_under(run) == [check]
    assert not list(out_dir.iterdir()) and not list(run.iterdir())
