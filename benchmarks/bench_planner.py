"""Benchmark: does the offline plan's sound fit the picture? Beds and events against labels.

Runs ``lvas plan`` (offline planner, defaults) on the labelled set in
``benchmarks/data/planner_set/manifest.json`` (generated clips, made here from their recipes,
and the real clips of ../shared/media) with each given ``lvas`` (the baseline install and this
checkout's by default), and prints per labelled moment what each planned, then per ``lvas``:

- **beds agree**: the bed's category is one a sound designer accepts, or it is neutral where
  neutral is acceptable;
- **confident wrong beds**: a specific source that is not acceptable (worse than neutral);
- **events agree**: every planned event is acceptable and every required one is there;
- **wrong events**: planned events of a category that is not acceptable.

    python benchmarks/bench_planner.py [--lvas PATH ...] [--media ../shared/media] [--keep DIR]

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

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pictures import encode_bgr_frames, grass_texture  # noqa: E402

MANIFEST = ROOT / "benchmarks" / "data" / "planner_set" / "manifest.json"
BASELINE = Path("/tmp/b14/venv/bin/lvas")
CURRENT = ROOT / ".venv" / "bin" / "lvas"
W, H, FPS = 320, 180, 25

# Category of a sound description: first pattern that matches, in this order.
CATEGORIES: list[tuple[str, str]] = [
    ("neutral", r"quiet, steady background|quiet outdoor air|quiet tone of a room|room tone"),
    ("city", r"traffic|city|car passing"),
    ("fire", r"fire|crackl|flame"),
    ("water", r"wave|water|stream|shore|splash"),
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


# -- generated clips -------------------------------------------------------------------------


def _sky(h: int, w: int) -> np.ndarray:
    rows = np.linspace(0, 1, h)[:, None]
    sky = np.zeros((h, w, 3), np.float32)
    sky[..., 0], sky[..., 1], sky[..., 2] = 230 - 30 * rows, 160 + 40 * rows, 90 + 60 * rows
    return sky.astype(np.uint8)


def _meadow(rng: np.random.Generator, w: int = W) -> np.ndarray:
    image = grass_texture(rng, H, w)
    image[: H // 2] = _sky(H // 2, w)
    return image


def _city() -> np.ndarray:
    image = _sky(H, W)
    for x0 in range(10, W - 40, 70):
        top = 40 + (x0 * 7) % 40
        cv2.rectangle(image, (x0, top), (x0 + 55, H), (120, 120, 125), -1)
        for y in range(top + 8, H - 8, 14):
            for x in range(x0 + 6, x0 + 50, 12):
                cv2.rectangle(image, (x, y), (x + 6, y + 7), (60, 60, 60), -1)
    return image


def _room() -> np.ndarray:
    image = np.full((H, W, 3), (150, 185, 210), np.uint8)  # warm wall
    image[130:] = (60, 90, 130)  # floor
    cv2.line(image, (0, 130), (W, 130), (40, 60, 90), 2)
    cv2.rectangle(image, (40, 40), (100, 130), (80, 110, 150), 3)  # a door
    cv2.rectangle(image, (170, 35), (280, 95), (90, 90, 90), 3)  # a window frame
    cv2.line(image, (225, 35), (225, 95), (90, 90, 90), 3)
    return image


def recipe_frames(recipe: dict) -> list[np.ndarray]:
    """The frames of a generated clip, deterministic for its recipe."""
    kind, count = recipe["kind"], int(recipe["seconds"] * FPS)
    rng = np.random.default_rng(int(recipe.get("seed", 0)))
    if kind == "meadow":
        base = _meadow(rng)
        return [base.copy() for _ in range(count)]
    if kind == "city":
        return [_city() for _ in range(count)]
    if kind == "room":
        return [_room() for _ in range(count)]
    if kind == "pan_grass":
        wide = grass_texture(rng, H, W + 3 * count)
        return [np.ascontiguousarray(wide[:, 3 * i : 3 * i + W]) for i in range(count)]
    if kind == "fire":
        frames = []
        for _ in range(count):
            frame = np.full((H, W, 3), 20, np.uint8)
            flick = rng.uniform(0.55, 1.0)
            height = int(50 + 25 * rng.uniform())
            pts = np.array([[130, 150], [190, 150], [160 + rng.integers(-8, 9), 150 - height]])
            cv2.fillPoly(frame, [pts], (0, int(110 * flick), int(255 * flick)))
            cv2.rectangle(frame, (120, 150), (200, 158), (20, 50, 80), -1)
            frames.append(frame)
        return frames
    if kind == "walker":
        base = _meadow(rng)
        frames = []
        for i in range(count):
            frame = base.copy()
            x = 40 + 2 * i
            cv2.circle(frame, (x + 8, 70), 7, (60, 80, 200), -1)
            cv2.rectangle(frame, (x, 78), (x + 16, 118), (60, 60, 160), -1)
            swing = int(8 * np.sin(i * 0.8))
            cv2.line(frame, (x + 5, 118), (x + 5 + swing, 150), (50, 50, 120), 5)
            cv2.line(frame, (x + 11, 118), (x + 11 - swing, 150), (50, 50, 120), 5)
            frames.append(frame)
        return frames
    raise ValueError(f"unknown recipe kind {kind!r}")


def make_clip(recipe: dict, path: Path) -> Path:
    return encode_bgr_frames(recipe_frames(recipe), path, FPS)


# -- scoring -----------------------------------------------------------------------------------


def plan_of(lvas: Path, video: Path, out: Path) -> dict:
    subprocess.run(
        [
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
        ],
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text())


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lvas",
        type=Path,
        action="append",
        help=f"lvas executables to compare (default: {BASELINE} and {CURRENT})",
    )
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--keep", type=Path, help="keep clips and plans in this folder")
    args = parser.parse_args()
    tools = args.lvas or [p for p in (BASELINE, CURRENT) if p.exists()]
    manifest = json.loads(MANIFEST.read_text())
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_planner_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        totals = {
            str(t): {"bed_ok": 0, "bed_wrong": 0, "events_ok": 0, "events_wrong": 0} for t in tools
        }
        labels = 0
        for clip in manifest["clips"]:
            if "recipe" in clip:
                video = make_clip(clip["recipe"], work / f"{clip['name']}.mp4")
            else:
                video = args.media / clip["media"]
            plans = {
                str(t): plan_of(t, video, work / f"{clip['name']}.{n}.json")
                for n, t in enumerate(tools)
            }
            for label in clip["labels"]:
                labels += 1
                print(
                    f"{clip['name']} @ {label['at']:.1f} s  (accept beds {label['beds']}"
                    f"{' or neutral' if label['neutral_ok'] else ''}; events {label['events']})"
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
        print(f"\nsummary over {labels} labelled moments in {len(manifest['clips'])} clips:")
        for tool, t in totals.items():
            print(
                f"  {tool}: beds agree {t['bed_ok']}/{labels}, confident wrong beds "
                f"{t['bed_wrong']}/{labels}, events agree {t['events_ok']}/{labels}, "
                f"wrong events {t['events_wrong']}/{labels}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
