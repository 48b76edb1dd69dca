"""The run report opened in a real browser: Debian's Chromium, headless, driven by Playwright.

A tiny ``lvas dub`` makes a real run; the test opens its ``report.html`` from disk, as a user
would, and checks what the page shows rather than its HTML text: thumbnails decoded, players
that load their files, timeline marks at the x of their times, readable and non-overlapping
labels, no empty lanes, nothing fetched from outside, and a screenshot that is not blank.
Skipped, saying why, where Chromium or Playwright is missing (``.ci/run`` installs Chromium;
``playwright install`` is never used: the browser is the system's).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from tests.videos import make_cut_video

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
]
VIEWPORT = {"width": 1400, "height": 900}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the browser test needs Debian's Chromium: apt-get install -y chromium",
)


STEPS = [0.5, 0.9, 1.3, 1.7]
"""Hits of the footsteps the test adds to the plan (the picture's own onsets vary)."""


def _lvas(*args: str, cache_dir: Path) -> None:
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache_dir)}
    result = subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args, "-q"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, label_cache_dir: Path) -> dict:
    """A real run of an 8 s H.264 video with hard cuts, as a user makes one: ``lvas plan``,
    footsteps added to the plan by hand, ``lvas render``. Its run folder, plan and output."""
    root = tmp_path_factory.mktemp("browser")
    video = make_cut_video(root / "cuts.mp4", [2.0, 2.0, 2.0, 2.0])
    plan_path, run_dir, out = root / "cuts.plan.json", root / "run", root / "cuts.dubbed.mp4"
    _lvas("plan", str(video), "-o", str(plan_path), "--work-dir", str(run_dir), "--seed", "1",
          cache_dir=label_cache_dir)
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    first = min(plan["scenes"], key=lambda scene: scene["start"])
    plan["designs"][first["id"]]["sounds"].append({
        "id": "steps", "scene_id": first["id"], "layer": "foreground",
        "description": "footsteps on gravel, a person walking", "start": 0.2, "end": 1.9,
        "volume_db": -6.0, "onsets": STEPS,
    })
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    _lvas("render", str(plan_path), "-o", str(out), "--work-dir", str(run_dir),
          cache_dir=label_cache_dir)
    return {"run_dir": run_dir, "report": run_dir / "report.html", "output": out,
            "plan": plan}


@pytest.fixture(scope="module")
def page_facts(run: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Open the report in Chromium, wait for its media, and read what a user would see."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the browser test drives Chromium with Playwright: pip install -e '.[dev]'",
    )
    shot = tmp_path_factory.mktemp("screenshot") / "report.png"
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(run["report"].as_uri(), wait_until="load")
            page.wait_for_function(
                "[...document.querySelectorAll('audio, video')]"
                ".every(m => m.readyState >= 1 || m.error)",
                timeout=30_000,
            )
            facts = page.evaluate(_READ_PAGE)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return {**facts, "screenshot": shot, "requests": requests}


# Everything is read in one pass in the page; sizes and positions in CSS pixels at 1x.
_READ_PAGE = """() => {
  const rect = e => { const r = e.getBoundingClientRect();
                      return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                              width: r.width, height: r.height}; };
  const visible = e => { const s = getComputedStyle(e); const r = e.getBoundingClientRect();
                         return s.visibility !== 'hidden' && s.display !== 'none'
                                && r.width > 0 && r.height > 0; };
  const media = e => ({tag: e.tagName.toLowerCase(), src: e.currentSrc || e.src,
                       readyState: e.readyState, duration: e.duration,
                       error: e.error ? e.error.code : 0, visible: visible(e)});
  const tl = document.querySelector('.tl');
  const lanes = [...document.querySelectorAll('.tl-lane')].map(lane => {
    const track = lane.querySelector('.tl-track');
    return {layer: lane.dataset.layer, track: rect(track),
            marks: [...lane.querySelectorAll('.tl-mark')].map(m => ({
              start: +m.dataset.start, end: +m.dataset.end, rect: rect(m),
              title: m.title})),
            hits: [...lane.querySelectorAll('.tl-hit')].map(h => ({t: +h.dataset.t,
                                                                     rect: rect(h)}))};
  });
  const texts = [...document.querySelectorAll('.tl-label, .tl-name, .tl-tick')]
    .filter(e => visible(e) && e.textContent.trim())
    .map(e => ({text: e.textContent.trim(), rect: rect(e),
                size: parseFloat(getComputedStyle(e).fontSize),
                truncated: e.scrollWidth > e.clientWidth + 1,
                title: e.title || (e.parentElement && e.parentElement.title) || ''}));
  const small = [...document.body.querySelectorAll('*')]
    .filter(e => visible(e) && [...e.childNodes].some(
      n => n.nodeType === 3 && n.textContent.trim()))
    .map(e => ({tag: e.tagName, text: e.textContent.trim().slice(0, 40),
                size: parseFloat(getComputedStyle(e).fontSize)}))
    .filter(e => e.size < 12);
  return {
    span: tl ? +tl.dataset.span : null,
    thumbs: [...document.querySelectorAll('img.thumb')].map(i => ({
      src: i.currentSrc, complete: i.complete, naturalWidth: i.naturalWidth,
      visible: visible(i)})),
    media: [...document.querySelectorAll('audio, video')].map(media),
    novideo: (document.querySelector('.novideo') || {}).textContent || '',
    lanes, texts, small,
  };
}"""


def _file(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


def test_thumbnails_load_one_per_scene(run: dict, page_facts: dict) -> None:
    thumbs = page_facts["thumbs"]
    assert len(thumbs) == len(run["plan"]["scenes"]) >= 2
    for thumb in thumbs:
        assert thumb["complete"] and thumb["naturalWidth"] > 0 and thumb["visible"], thumb
        path = _file(thumb["src"])
        assert path.parent == run["run_dir"] / "thumbnails" and path.is_file()


def test_players_load_the_mix_each_stem_and_the_video(run: dict, page_facts: dict) -> None:
    media = page_facts["media"]
    audio = [m for m in media if m["tag"] == "audio"]
    stems = sorted((run["run_dir"] / "stems").glob("stem_*.wav"))
    assert len(audio) == 1 + len(stems) >= 2
    assert _file(audio[0]["src"]) == run["run_dir"] / "soundtrack.wav"
    for player in audio:
        assert _file(player["src"]).is_file()
        assert player["error"] == 0 and player["readyState"] >= 1, player
        assert player["duration"] == pytest.approx(8.0, abs=0.2)
    # The output is H.264 and AAC in MP4: a browser plays it, so the page does.
    video = [m for m in media if m["tag"] == "video"]
    assert len(video) == 1 and not page_facts["novideo"]
    assert _file(video[0]["src"]) == run["output"]
    assert video[0]["error"] == 0 and video[0]["readyState"] >= 1 and video[0]["visible"]
    assert video[0]["duration"] == pytest.approx(8.0, abs=0.2)


def test_nothing_is_fetched_from_outside(run: dict, page_facts: dict) -> None:
    allowed = (run["run_dir"], run["output"].parent)
    for url in page_facts["requests"]:
        if url.startswith("data:"):
            continue
        path = _file(url)
        assert any(path.is_relative_to(folder) for folder in allowed), url


def test_timeline_marks_sit_at_their_times(run: dict, page_facts: dict) -> None:
    span = page_facts["span"]
    lanes = page_facts["lanes"]
    assert span >= 7.9 and lanes  # the video, or a tail that rings past it
    hits = 0
    for lane in lanes:
        track = lane["track"]

        def x(t: float, track: dict = track) -> float:
            return track["left"] + t / span * track["width"]

        for mark in lane["marks"]:
            assert mark["rect"]["left"] == pytest.approx(x(mark["start"]), abs=1.0), mark
            if mark["end"] - mark["start"] > 0.05:
                assert mark["rect"]["right"] == pytest.approx(x(mark["end"]), abs=1.5), mark
        for hit in lane["hits"]:
            centre = hit["rect"]["left"] + hit["rect"]["width"] / 2
            assert centre == pytest.approx(x(hit["t"]), abs=1.0), hit
            hits += 1
    # Every designed hit inside its sound's span is drawn (no two share a pixel here), the
    # footsteps' among them.
    expected = sum(
        sum(sound["start"] - 1e-6 <= t <= sound["end"] + 1e-6 for t in sound.get("onsets", []))
        for design in run["plan"]["designs"].values() for sound in design["sounds"]
    )
    drawn = {hit["t"] for lane in lanes if lane["layer"] == "foreground" for hit in lane["hits"]}
    assert set(STEPS) <= drawn
    assert hits == expected


def test_no_empty_lanes_and_one_per_layer_in_use(run: dict, page_facts: dict) -> None:
    layers = {s["layer"] for d in run["plan"]["designs"].values() for s in d["sounds"]}
    lanes = page_facts["lanes"]
    assert all(lane["marks"] for lane in lanes)
    assert {lane["layer"] for lane in lanes} == layers
    assert "speech" not in layers  # no narration: no speech lane drawn


def test_labels_are_readable_and_never_overlap(page_facts: dict) -> None:
    texts = page_facts["texts"]
    assert texts and all(t["size"] >= 12 for t in texts), texts
    assert page_facts["small"] == []  # no text on the page under 12 px
    for t in texts:
        if t["truncated"]:
            assert t["title"], f"{t['text']!r} is cut short without a tooltip"
    boxes = [t["rect"] for t in texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["right"] <= b["left"] + 0.5 or b["right"] <= a["left"] + 0.5
                     or a["bottom"] <= b["top"] + 0.5 or b["bottom"] <= a["top"] + 0.5)
            assert apart, (texts[boxes.index(a)]["text"], texts[boxes.index(b)]["text"])


def test_screenshot_is_not_blank(page_facts: dict) -> None:
    from PIL import Image

    with Image.open(page_facts["screenshot"]) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.shape[1] == VIEWPORT["width"] and pixels.shape[0] > VIEWPORT["height"]
    assert pixels.std() > 20.0
    # The top of the page (title, players, timeline) is not one flat colour either.
    assert pixels[:VIEWPORT["height"]].std() > 10.0
