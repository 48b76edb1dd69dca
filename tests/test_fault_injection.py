"""Fault injection: ``lvas dub`` killed with SIGKILL at every step boundary of one run, then
``--resume``d, ends exactly as an uninterrupted run with the same seed does.

The kills are black-box, as a user's ``kill -9`` or a crash would be: the command runs in its own
process, its progress lines are read as they are printed, and the process group is killed the
moment the line of the chosen step appears (or, for the steps inside the mixer that print
nothing, the moment the file that step makes appears). After each resume the run must exit 0,
deliver the same soundtrack bytes (the mastered WAV and the muxed video) as the reference run,
leave no file in the output or run folder that the reference did not leave, and keep every
render that had finished before the kill (same inode and mtime: not redone).
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.videos import make_cut_video

SEED = 7
PROMPT = "rain on a tin roof, footsteps"
"""A bed and an event per scene: several renders, one of them long, to kill between."""
_DETERMINISTIC_SIZES = (".wav", ".jpg", ".npy", ".mp4")
"""Files whose size does not depend on where the run lives or how long it took (reports,
summaries and records carry paths and timings)."""


@dataclass
class Scenario:
    """One run: where it writes, and what its process printed."""

    root: Path
    lines: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds from the start, per line
    ended: float = 0.0  # seconds from the start to the process's end

    @property
    def out(self) -> Path:
        return self.root / "out" / "o.mp4"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def argv(self, video: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "lvas.graph.cli", "dub", str(video), "-o", str(self.out),
                "--work-dir", str(self.run), "--seed", str(SEED), "--chat-backend", "offline",
                "--generator", "procedural", "--prompt", PROMPT, *extra]


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LVAS_CACHE_DIR"] = str(cache)
    env.pop("LVAS_DEBUG", None)
    return env


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


Trigger = Callable[[str | None, Scenario], bool]
"""Called with each new progress line (None while none came) and the scenario: kill now?"""


def on_line(text: str, nth: int = 1) -> Trigger:
    """Kill when the ``nth`` line containing ``text`` is printed."""
    seen = [0]

    def fire(line: str | None, _: Scenario) -> bool:
        if line is not None and text in line:
            seen[0] += 1
        return seen[0] >= nth

    return fire


def on_file(pattern: str) -> Trigger:
    """Kill when a file matching ``pattern`` (a glob under the scenario's root) appears."""

    def fire(_: str | None, scenario: Scenario) -> bool:
        return any(scenario.root.glob(pattern))

    return fire


def _run_and_kill(scenario: Scenario, argv: list[str], env: dict[str, str],
                  trigger: Trigger | None, *, after: float | None = None,
                  whole_group: bool = True) -> subprocess.Popen:
    """Start the command; SIGKILL it when ``trigger`` fires (or ``after`` seconds)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    started = time.monotonic()
    while True:
        try:
            line = lines.get(timeout=0.002)
        except queue.Empty:
            line = None
        else:
            if line is None:  # the process closed its output: it ended before the trigger
                break
            scenario.lines.append(line)
            scenario.times.append(time.monotonic() - started)
        due = after is not None and time.monotonic() - started >= after
        if due or (trigger is not None and trigger(line, scenario)):
            if whole_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=300)
    scenario.ended = time.monotonic() - started
    return proc


def _listing(folder: Path) -> dict[str, int | None]:
    """Every path under ``folder`` (relative), with its size where that is deterministic."""
    listing: dict[str, int | None] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        deterministic = path.is_file() and (path.suffix in _DETERMINISTIC_SIZES
                                            or path.parent.name == "clips")
        listing[rel] = path.stat().st_size if deterministic else None
    return listing


def _finished_renders(run: Path) -> dict[str, tuple[int, int]]:
    """Clips whose render finished (its take and its verification record are both there)."""
    return {wav.name: (wav.stat().st_ino, wav.stat().st_mtime_ns)
            for wav in (run / "clips").glob("*.wav")
            if not wav.name.startswith(".") and wav.with_suffix(".json").exists()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, label_cache_dir):
    """One uninterrupted run: what every resumed run must match."""
    root = tmp_path_factory.mktemp("fault-injection")
    video = make_cut_video(root / "v.mp4", [2.0, 2.0, 2.0])
    ref = Scenario(root / "ref")
    ref.out.parent.mkdir(parents=True)
    env = _env(label_cache_dir)
    proc = _run_and_kill(ref, ref.argv(video), env, None)
    assert proc.returncode == 0, "\n".join(ref.lines)
    return root, video, ref, env


def _check_resumed(reference, scenario: Scenario, orphans_of: int | None = None) -> None:
    """Resume the killed run; it must end exactly as the reference did."""
    _, video, ref, env = reference
    finished = _finished_renders(scenario.run)
    resumed = subprocess.run(scenario.argv(video, "--resume"), capture_output=True, text=True,
                             env=env, timeout=300)
    log = "\n".join(scenario.lines) + "\n--- resumed:\n" + resumed.stderr
    assert resumed.returncode == 0, log
    if orphans_of is not None:  # what outlived a killed leader must end before we look
        _wait_for_group(orphans_of)
    problems = []
    if (scenario.run / "soundtrack.wav").read_bytes() != (ref.run / "soundtrack.wav").read_bytes():
        problems.append("the soundtrack differs")
    if scenario.out.read_bytes() != ref.out.read_bytes():
        problems.append("the delivered video differs")
    for folder, expected in ((scenario.out.parent, ref.out.parent), (scenario.run, ref.run)):
        got, want = _listing(folder), _listing(expected)
        if got != want:
            problems.append(f"{folder.name}/ holds {sorted(set(got.items()) - set(want.items()))}"
                            f" instead of {sorted(set(want.items()) - set(got.items()))}")
    after = _finished_renders(scenario.run)
    redone = sorted(name for name, identity in finished.items() if after.get(name) != identity)
    if redone:
        problems.append(f"finished renders were redone: {redone}")
    assert not problems, "; ".join(problems) + "\n" + log


def _wait_for_group(pgid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


# What the fault injection found, each pinned by a fast test of its own.

_KILLED_MID_RENDER = """
import os, signal, sys
from pathlib import Path
from lvas.tools.generation.base import GenerationRequest
from lvas.tools.generation.procedural_backend import ProceduralGenerator
from lvas.tools.generation.verify import render_verified

def render(generator, request, path):
    generator.render(request, path)
    os.kill(os.getpid(), signal.SIGKILL)  # the take is written, the clip not yet named

render_verified(ProceduralGenerator(), GenerationRequest(text="rain", family="rain",
                duration=1.0, seed=3), Path(sys.argv[1]) / "rain-0123.wav", render=render)
"""

_KILLED_MID_MIX = """
import os, signal, sys
from pathlib import Path
import numpy as np, soundfile as sf
import lvas.tools.audio.mixing as mixing

folder = Path(sys.argv[1])
sf.write(folder / "bed.wav", np.full((48000, 2), 0.1, dtype="float32"), 48000)
(folder / "stems").mkdir()

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the first pass is written, the master is begun

mixing._pass_two = killed
mixing.mix_to_wav([mixing.MixTrack(str(folder / "bed.wav"), 0.0)], 1.0,
                  folder / "soundtrack.wav", stems_dir=folder / "stems")
"""


@pytest.mark.parametrize("script, made", [(_KILLED_MID_RENDER, {"rain-0123.wav"}),
                                          (_KILLED_MID_MIX, {"bed.wav", "stems"})],
                         ids=["take", "mix"])
def test_what_a_killed_writer_leaves_is_known_work_in_progress(tmp_path, script, made):
    """SIGKILL in the middle of a render (a take written, not yet renamed) or of the mix (its
    first-pass stages written, the soundtrack and stems begun): every file left must carry a
    name the sweep of half-written work knows (takes and mix stages were left in the run
    folder after the resumed run had finished)."""
    from lvas.tools.common.paths import remove_partials_under

    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")} - made - {"rain-0123.wav"}
    assert left, "the kill came before anything was written"
    remove_partials_under(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == made - {"rain-0123.wav"}
    assert not list((tmp_path / "stems").iterdir()) if "stems" in made else True


def _dub_args(tmp_path: Path, video: Path) -> list[str]:
    return ["dub", str(video), "-o", str(tmp_path / "out.mp4"), "--work-dir",
            str(tmp_path / "run"), "--seed", "5", "--chat-backend", "offline",
            "--generator", "procedural"]


def _threads(cache: Path) -> set[str]:
    """The checkpointed threads in the cache (none before the first checkpointed run)."""
    import sqlite3

    with closing(sqlite3.connect(cache / "runs.sqlite")) as db:
        try:
            return {row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
        except sqlite3.OperationalError:  # no table yet
            return set()


def _forget_newest_checkpoints(cache: Path, thread: str, count: int) -> None:
    """What a kill leaves when it lands after a step's results were saved but before the
    checkpoint that follows them was (LangGraph saves checkpoints in the background)."""
    import sqlite3

    with closing(sqlite3.connect(cache / "runs.sqlite")) as db, db:
        newest = [row[0] for row in db.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
            "ORDER BY checkpoint_id DESC LIMIT ?", (thread, count))]
        for checkpoint in newest:
            for table in ("checkpoints", "writes"):
                db.execute(f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id = ?",
                           (thread, checkpoint))


def _checkpoints(cache: Path, thread: str) -> int:
    import sqlite3

    with closing(sqlite3.connect(cache / "runs.sqlite")) as db:
        return db.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?",
                          (thread,)).fetchone()[0]


@pytest.mark.parametrize("cleaned_up, forget", [(True, 0), (False, 0), (False, 1), (False, 2)],
                         ids=["while exiting", "after the last step", "report saved",
                              "mixer saved"])
def test_a_run_killed_after_its_steps_were_saved_resumes(
        tmp_path, label_cache_dir, monkeypatch, capsys, cleaned_up, forget):
    """Killed while the finished command exited (a second of interpreter teardown), before the
    command's own clean-up of its checkpoints, or with the report's or the mixer's results
    saved as pending writes but no checkpoint after them (LangGraph then lists no step as
    next). --resume took each for a finished run, started afresh and refused the run's own
    output ("already exists", exit 2); it must finish the run, redoing nothing."""
    import lvas.graph.resume as resume
    from lvas.graph.cli import main

    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    args = _dub_args(tmp_path, video)
    before = _threads(label_cache_dir)
    with monkeypatch.context() as killed:
        if not cleaned_up:
            killed.setattr(resume, "keep_final_checkpoint", lambda saver, thread_id: None)
        assert main(args) == 0
    thread = "".join(_threads(label_cache_dir) - before)  # this run's, if it kept one
    _forget_newest_checkpoints(label_cache_dir, thread, forget)
    if not cleaned_up:
        (tmp_path / "run" / "summary.json").unlink()  # the command died before writing it
    out = tmp_path / "out.mp4"
    published = (out.stat().st_ino, out.stat().st_mtime_ns, out.read_bytes())
    capsys.readouterr()

    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "resuming" in err
    assert "__metadata__" not in err  # LangGraph's note on replayed steps is not a step
    assert (out.stat().st_ino, out.stat().st_mtime_ns, out.read_bytes()) == published
    assert (tmp_path / "run" / "summary.json").exists()
    assert _checkpoints(label_cache_dir, thread) == 1  # the final state, nothing more


def test_a_finished_run_whose_output_is_gone_starts_afresh_when_resumed(
        tmp_path, label_cache_dir, monkeypatch, capsys):
    """The final checkpoint a finished run keeps stands for its output only while that is
    there: removed (or the run killed early in a later run of the command, before that one
    replaced the checkpoints), --resume makes it again rather than reporting a run done."""
    import shutil

    from lvas.graph.cli import main

    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    args = _dub_args(tmp_path, video)
    assert main(args) == 0
    (tmp_path / "out.mp4").unlink()
    shutil.rmtree(tmp_path / "run")
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert "starting afresh" in capsys.readouterr().err
    assert (tmp_path / "out.mp4").exists() and (tmp_path / "run" / "soundtrack.wav").exists()


def test_a_resumed_run_sweeps_work_in_progress_from_its_whole_folder(
        tmp_path, label_cache_dir, monkeypatch, capsys):
    """A kill in the mixer, the report or the analysis leaves half-written files outside
    clips/ (the soundtrack's and stems' partials, a report's, an analysis file's); the run
    that goes on removes them all once it has finished, and nothing else."""
    import lvas.nodes.report as report
    from lvas.graph.cli import main
    from lvas.tools.common.paths import partial_path

    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")
    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    args = _dub_args(tmp_path, video)
    run = tmp_path / "run"

    def crash(*args, **kwargs):
        raise RuntimeError("killed while writing the report")

    with monkeypatch.context() as killed:
        killed.setattr(report, "write_report", crash)
        assert main(args) == 1
    analysis = next((run / "analysis").iterdir())
    left = [partial_path(run / "soundtrack.wav"), partial_path(run / "soundtrack.wav", "pass1-mix"),
            partial_path(run / "stems" / "stem_background.wav"), partial_path(run / "report.html"),
            partial_path(analysis / "motion.npy"), partial_path(tmp_path / "out.mp4")]
    for path in left:
        path.write_bytes(b"half")
    kept = [run / ".notes.part.txt", run / "stems" / "mine.wav", tmp_path / ".other.part.mp4"]
    for path in kept:
        path.write_bytes(b"the user's")
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    assert [path for path in left if path.exists()] == []
    assert all(path.exists() for path in kept)


# Every boundary of the reference run: each progress line (the steps as they finish, each render
# as it finishes) and, inside the mixer, the mix at work (its hidden stage files), the
# soundtrack mixed (before the mux), the mux at work (its hidden partial output) and the output
# published (before the step is recorded).
PLANNING: list[tuple[str, Callable[[], Trigger]]] = [
    ("start", lambda: on_line("lvas: dubbing")),
    ("probe", lambda: on_line("probe:")),
    ("storyboard", lambda: on_line("Storyboarder:")),
    ("script", lambda: on_line("Scriptwriter (whole video)")),
    ("scene script", lambda: on_line("Scriptwriter (scene)")),
    ("script review", lambda: on_line("Storyboarder review")),
    ("design", lambda: on_line("Designer:")),
    ("retrieval", lambda: on_line("Synthesizer (labels)")),
    ("label review", lambda: on_line("Designer review")),
    ("plan", lambda: on_line("plan:")),
]
DELIVERY: list[tuple[str, Callable[[], Trigger]]] = [
    ("mixing", lambda: on_file("run/.soundtrack.*.part.wav")),
    ("mix", lambda: on_file("run/soundtrack.wav")),
    ("mux", lambda: on_file("out/.o.*.part.mp4")),
    ("published", lambda: on_file("out/o.mp4")),
    ("mixer", lambda: on_line("mixer:")),
    ("report", lambda: on_line("report:")),
]


def kill_points(renders: int) -> list[tuple[str, Callable[[], Trigger]]]:
    """The boundaries of a run with ``renders`` renders, in the order they come."""
    generation = [(f"generation {k}", (lambda k=k: on_line("generate:", k)))
                  for k in range(1, renders + 1)]
    return [*PLANNING, *generation, *DELIVERY]


@pytest.mark.slow
def test_a_run_killed_at_every_step_boundary_resumes_to_the_same_result(reference):
    root, video, ref, env = reference
    renders = sum("generate:" in line for line in ref.lines)
    assert renders >= 3, ref.lines  # several renders, several boundaries between them
    for i, (name, trigger) in enumerate(kill_points(renders)):
        scenario = Scenario(root / f"k{i:02d}")
        scenario.out.parent.mkdir(parents=True)
        killed = _run_and_kill(scenario, scenario.argv(video), env, trigger())
        assert killed.returncode == -signal.SIGKILL, \
            f"{name}: the run ended before the kill\n" + "\n".join(scenario.lines)
        _check_resumed(reference, scenario)


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_to_the_same_result(reference):
    """As a judge would: ``kill -9`` of the command alone (its ffmpeg children live on) after a
    random delay, drawn with a fixed seed."""
    root, video, ref, env = reference
    draw = random.Random(13)
    for i in range(3):
        scenario = Scenario(root / f"r{i:02d}")
        scenario.out.parent.mkdir(parents=True)
        # from the first line (the imports done) to the reference's exit (teardown included)
        delay = draw.uniform(ref.times[0], ref.ended)
        killed = _run_and_kill(scenario, scenario.argv(video), env, None, after=delay,
                               whole_group=False)
        _check_resumed(reference, scenario, orphans_of=killed.pid)
