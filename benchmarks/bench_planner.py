"""Benchmark: does the offline plan's sound fit the picture? Beds and events against labels.

Runs ``lvas plan`` (offline planner, defaults) with each given ``lvas`` (the baseline install
and this checkout's by default) on two labelled sets, each printed apart: ``dev``
(``benchmarks/data/planner_set/``, the planner's rules are tuned on it) and ``heldout``
(``benchmarks/data/planner_heldout/``, never tuned on). Clips are generated here from their
recipes (``benchmarks/planner_clips.py``), cut from the real clips of ../shared/media, or those
clips whole. Per labelled moment it prints what each planned, then per set and ``lvas``:

- **beds agree**: the bed's category is one a sound designer accepts, or it is neutral where
  neutral is acceptable;
- **confident wrong beds**: a specific source that is not acceptable (worse than neutral);
- **events agree**: every planned event is acceptable and every required one is there;
- **wrong events**: planned events of a category that is not acceptable.

    python benchmarks/bench_planner.py [--lvas PATH ...] [--sets dev,heldout]
        [--media ../shared/media] [--keep DIR]

About 15 s per clip and ``lvas`` on the 2-core machine (most of it the plan's start-up).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from planner_clips import make_clip  # noqa: E402

from lvas.tools.common.ffmpeg import ffmpeg_exe  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SETS = {
    "dev": DATA / "planner_set" / "manifest.json",
    "heldout": DATA / "planner_heldout" / "manifest.json",
}
BASELINE = Path("/tmp/b14/venv/bin/lvas")
CURRENT = ROOT / ".venv" / "bin" / "lvas"

# Category of a sound description: first pattern that matches, in this order.
CATEGORIES: list[tuple[str, str]] = [
    ("neutral", r"quiet, steady background|quiet outdoor air|quiet tone of a room|room tone"),
    ("city", r"traffic|city|car passing"),
    ("fire", r"fire|crackl|flame"),
    ("rain", r"\brain|drizzle|downpour"),
    ("thunder", r"thunder|lightning"),
    ("water", r"wave|water|stream|shore|splash|lapping|sea\b|river|brook"),
    ("insects", r"cricket|insect"),
    ("birds", r"bird"),
    ("leaves", r"breeze|wind|leaves|rustl"),
    ("hum", r"hum|air condition"),
    ("footsteps", r"footstep"),
    ("crowd", r"crowd|murmur|chatter"),
    ("whoosh", r"whoosh"),
]


def category(text: str) -> str:
    for name, pattern in CATEGORIES:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return "other"


# -- scoring -----------------------------------------------------------------------------------


def plan_of(lvas: Path, video: Path, out: Path, tries: int = 2) -> dict:
    """``lvas plan`` of one clip (offline planner, seed 0); a failed run is tried once more
    (the tree may be mid-edit by someone else) and then reported with its error."""
    command = [
        str(lvas),
        "plan",
        str(video),
        "-o",
        str(out),
        "--overwrite",
        "-q",
        "--seed",
        "0",
        "--chat-backend",
        "offline",
    ]
    for attempt in range(tries):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            return json.loads(out.read_text())
        if attempt + 1 == tries:
            raise RuntimeError(
                f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-600:]}"
            )
    raise AssertionError("unreachable")


def sounds_at(plan: dict, t: float) -> tuple[list[str], list[str]]:
    """Bed and event descriptions of the plan's scene covering ``t``."""
    scene = next((s for s in plan["scenes"] if s["start"] <= t < s["end"]), plan["scenes"][-1])
    sounds = plan["designs"].get(scene["id"], {}).get("sounds", [])
    beds = [s["description"] for s in sounds if s["layer"] == "background"]
    events = [s["description"] for s in sounds if s["layer"] == "foreground"]
    return beds, events


def score(label: dict, beds: list[str], events: list[str]) -> dict[str, bool]:
    bed_cats = {category(b) for b in beds}
    ok_beds = set(label["beds"]) | ({"neutral"} if label["neutral_ok"] else set())
    event_cats = {category(e) for e in events}
    return {
        "bed_ok": bool(bed_cats) and bed_cats <= ok_beds,
        "bed_wrong": bool(bed_cats - ok_beds - {"neutral"}),
        "events_ok": event_cats <= set(label["events"])
        and set(label["required_events"]) <= event_cats,
        "events_wrong": bool(event_cats - set(label["events"])),
    }


def cut_clip(media: Path, start: float, end: float, path: Path) -> Path:
    """``end - start`` seconds of a real clip from ``start``, re-encoded (H.264, frame-exact).

    Decoded from the start (output seeking): cockatoo.mp4's later sync samples decode as
    corrupt pictures when decoding starts there."""
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(media),
            "-ss",
            f"{start:.3f}",
            "-t",
            f"{end - start:.3f}",
            "-map",
            "0:v:0",
            "-vf",
            "crop=trunc(iw/2)*2:trunc(ih/2)*2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path


def clip_video(clip: dict, media: Path, work: Path) -> Path:
    """The clip's video: generated from its recipe, cut from a real file, or the file itself."""
    if "recipe" in clip:
        return make_clip(clip["recipe"], work / f"{clip['name']}.mp4")
    if "cut" in clip:
        start, end = clip["cut"]
        return cut_clip(
            media / clip["media"], float(start), float(end), work / f"{clip['name']}.mp4"
        )
    return media / clip["media"]


KEYS = ("bed_ok", "bed_wrong", "events_ok", "events_wrong")


def run_set(name: str, manifest: dict, tools: list[Path], media: Path, work: Path) -> dict:
    """Plan every clip of a set with every ``lvas``, print each labelled moment; the totals."""
    totals = {str(t): dict.fromkeys(KEYS, 0) for t in tools}
    labels = 0
    print(f"== {name} set ({len(manifest['clips'])} clips)")
    for clip in manifest["clips"]:
        video = clip_video(clip, media, work)
        plans = {
            str(t): plan_of(t, video, work / f"{clip['name']}.{n}.json")
            for n, t in enumerate(tools)
        }
        for label in clip["labels"]:
            labels += 1
            required = label["required_events"]
            print(
                f"{clip['name']} @ {label['at']:.1f} s  (accept beds {label['beds']}"
                f"{' or neutral' if label['neutral_ok'] else ''}; events {label['events']}"
                f"{', must have ' + str(required) if required else ''})"
            )
            for tool, plan in plans.items():
                beds, events = sounds_at(plan, label["at"])
                result = score(label, beds, events)
                for key, value in result.items():
                    totals[tool][key] += int(value)
                marks = " ".join(k for k, v in result.items() if v and k.endswith("wrong"))
                print(
                    f"  {tool}: bed {beds} events {events}"
                    f"  [{'bed ok' if result['bed_ok'] else 'bed NO'}, "
                    f"{'events ok' if result['events_ok'] else 'events NO'}] {marks}"
                )
    return {"labels": labels, "clips": len(manifest["clips"]), "totals": totals}


def print_summary(name: str, result: dict) -> None:
    labels = result["labels"]
    print(f"{name}: {labels} labelled moments in {result['clips']} clips")
    for tool, t in result["totals"].items():
        print(
            f"  {tool}: beds agree {t['bed_ok']}/{labels}, confident wrong beds "
            f"{t['bed_wrong']}/{labels}, events agree {t['events_ok']}/{labels}, "
            f"wrong events {t['events_wrong']}/{labels}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lvas",
        type=Path,
        action="append",
        help=f"lvas executables to compare (default: {BASELINE} and {CURRENT})",
    )
    parser.add_argument(
        "--sets", default="dev,heldout", help="comma-separated sets to run: dev (tuned on), heldout"
    )
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--keep", type=Path, help="keep clips and plans in this folder")
    args = parser.parse_args()
    tools = args.lvas or [p for p in (BASELINE, CURRENT) if p.exists()]
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; the sets are {sorted(SETS)}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_planner_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = {}
        for name in names:
            folder = work / name
            folder.mkdir(exist_ok=True)
            manifest = json.loads(SETS[name].read_text())
            results[name] = run_set(name, manifest, tools, args.media, folder)
            print()
        print("summary (dev: the planner was tuned on it; heldout: never tuned on)")
        for name, result in results.items():
            print_summary(name, result)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
