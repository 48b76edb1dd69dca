"""Generated clips of the planner benchmark's labelled sets: pictures of known content.

``recipe_frames`` draws a clip from its recipe (``kind``, ``seconds``, ``seed``) and
``make_clip`` encodes it as H.264 with the ffmpeg LVAS uses. The first kinds (``meadow`` to
``walker``) are the development set's (benchmarks/data/planner_set/, the planner's thresholds
were set on them); the rest are the held-out set's (benchmarks/data/planner_heldout/), drawn
and labelled before the planner was run on them, at another size, and never tuned on.
Everything is deterministic for a recipe.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pictures import encode_bgr_frames, grass_texture, windowed_blocks  # noqa: E402

W, H, FPS = 320, 180, 25  # the development clips
HW, HH = 480, 270  # the held-out clips

Frames = list[np.ndarray]

# -- development set ---------------------------------------------------------------------------


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
    return windowed_blocks(_sky(H, W))


def _room() -> np.ndarray:
    image = np.full((H, W, 3), (150, 185, 210), np.uint8)  # warm wall
    image[130:] = (60, 90, 130)  # floor
    cv2.line(image, (0, 130), (W, 130), (40, 60, 90), 2)
    cv2.rectangle(image, (40, 40), (100, 130), (80, 110, 150), 3)  # a door
    cv2.rectangle(image, (170, 35), (280, 95), (90, 90, 90), 3)  # a window frame
    cv2.line(image, (225, 35), (225, 95), (90, 90, 90), 3)
    return image


def _dev_frames(kind: str, count: int, rng: np.random.Generator) -> Frames | None:
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
    extra = _DEV_EXTRA.get(kind)
    return extra(count, rng) if extra else None


def _shore(count: int, rng: np.random.Generator) -> Frames:
    """Sea to the horizon over a strip of sand, the water's texture drifting and heaving."""
    horizon, beach = 80, 160
    sky = _sky(horizon, W)
    sand = np.full((H - beach, W, 3), (150, 190, 215), np.uint8)
    wide = noise_field(rng, beach - horizon, W + 4 * count, blob=3)
    swell = noise_field(rng, beach - horizon, W + 2 * count, blob=10)
    frames = []
    for i in range(count):
        texture = 0.6 * wide[:, 4 * i : 4 * i + W] + 0.4 * swell[:, 2 * i : 2 * i + W]
        sea = np.array((150, 120, 80), np.float32) + (texture[..., None] - 0.5) * 90
        frames.append(np.vstack([sky, np.clip(sea, 0, 255).astype(np.uint8), sand]))
    return frames


def _night_field(count: int, rng: np.random.Generator) -> Frames:
    """Bushes and long grass under a dark night sky, stirring a little."""
    sky = gradient(70, W, (70, 35, 15), (90, 55, 35))
    ground = hsv_texture(rng, H - 70, W + count, 65, 150, 55, 50, blob=3)
    frames = []
    for i in range(count):
        shift = int(round(2 + 2 * np.sin(0.3 * i)))
        frames.append(np.vstack([sky, np.ascontiguousarray(ground[:, shift : shift + W])]))
    return frames


def _storm(count: int, rng: np.random.Generator, rain: bool) -> Frames:
    """A dark landscape with lightning flashes at 0.3, 1.7 and 3.0 s; with ``rain``, rain
    falls straight down all over the picture."""
    base = gradient(H, W, (80, 75, 70), (60, 60, 55))
    hills = np.array([[0, 120], [70, 95], [150, 115], [230, 90], [W, 110], [W, H], [0, H]])
    cv2.fillPoly(base, [hills], (35, 50, 40))
    flashes = {
        round(t * FPS) + k: level
        for t in (0.3, 1.7, 3.0)
        for k, level in enumerate((1.0, 0.55, 0.25))
    }
    frames = []
    for i in range(count):
        frame = base.astype(np.float32) + flashes.get(i, 0.0) * 140
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        if rain:
            for _ in range(180):
                x, y = int(rng.integers(0, W)), int(rng.integers(-12, H))
                cv2.line(frame, (x, y), (x, y + 12), (170, 170, 165), 1)
        frames.append(frame)
    return frames


def _monitor_room(count: int, rng: np.random.Generator) -> Frames:
    """A dark office lit by a computer screen whose picture keeps changing."""
    room = np.full((H, W, 3), (45, 40, 35), np.uint8)
    cv2.rectangle(room, (0, 130), (W, H), (30, 40, 50), -1)  # a desk
    frames = []
    for i in range(count):
        screen = int(120 + 100 * abs(np.sin(0.7 * i)) + rng.integers(-20, 21))
        frame = np.clip(room.astype(np.float32) * (0.8 + screen / 400.0), 0, 255)
        frame = frame.astype(np.uint8)
        cv2.rectangle(frame, (110, 50), (210, 115), (screen, screen - 30, screen - 60), -1)
        cv2.rectangle(frame, (150, 115), (170, 130), (20, 20, 20), -1)
        frames.append(frame)
    return frames


_DEV_EXTRA: dict[str, Callable[[int, np.random.Generator], Frames]] = {
    "shore": _shore,
    "night_field": _night_field,
    "thunderstorm": lambda count, rng: _storm(count, rng, rain=True),
    "flash_night": lambda count, rng: _storm(count, rng, rain=False),
    "monitor_room": _monitor_room,
}


# -- held-out set: painters ----------------------------------------------------------------------


def noise_field(rng: np.random.Generator, h: int, w: int, blob: int = 2) -> np.ndarray:
    """Smooth random field in 0..1 with features about ``blob`` pixels across."""
    coarse = rng.uniform(0, 1, (h // blob + 2, w // blob + 2)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(field, (3, 3), 0), 0, 1)


def hsv_texture(
    rng: np.random.Generator,
    h: int,
    w: int,
    hue: float,
    sat: float,
    value: float,
    spread: float,
    blob: int = 2,
) -> np.ndarray:
    """A textured patch of one colour (OpenCV HSV: hue 0..180, sat and value 0..255), BGR."""
    field = noise_field(rng, h, w, blob)
    hsv = np.dstack(
        [
            np.full((h, w), hue, np.float32),
            np.full((h, w), sat, np.float32),
            value + spread * (field - 0.5),
        ]
    )
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)


def gradient(h: int, w: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    """Vertical BGR gradient from ``top`` to ``bottom``."""
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    image = (1 - rows) * np.array(top, np.float32) + rows * np.array(bottom, np.float32)
    return np.broadcast_to(image, (h, w, 3)).astype(np.uint8).copy()


def person(
    frame: np.ndarray,
    x: int,
    feet: int,
    height: int,
    phase: float,
    colour: tuple[int, int, int],
    legs: tuple[int, int, int] = (50, 45, 40),
) -> None:
    """A walking figure: head, torso, swinging arms and legs, feet at row ``feet``."""
    head = max(3, height // 8)
    hip = feet - int(height * 0.47)
    shoulder = feet - int(height * 0.8)
    half = max(3, height // 9)
    swing = int(height * 0.16 * np.sin(phase))
    skin = (120, 150, 200)
    cv2.circle(frame, (x, shoulder - head), head, skin, -1)
    cv2.rectangle(frame, (x - half, shoulder), (x + half, hip), colour, -1)
    thick = max(2, height // 18)
    cv2.line(frame, (x - 1, hip), (x + swing, feet), legs, thick + 1)
    cv2.line(frame, (x + 1, hip), (x - swing, feet), legs, thick + 1)
    cv2.line(frame, (x - half, shoulder + 2), (x - half - swing // 2, hip), colour, thick)
    cv2.line(frame, (x + half, shoulder + 2), (x + half + swing // 2, hip), colour, thick)


def buildings(
    frame: np.ndarray,
    rng: np.random.Generator,
    top_row: int,
    bottom_row: int,
    body: tuple[int, int, int],
    window: tuple[int, int, int],
    lit: float = 1.0,
    lit_colour: tuple[int, int, int] = (80, 200, 240),
) -> None:
    """A row of blocks between ``top_row`` (the tallest roof) and ``bottom_row``, windows in
    a grid; ``lit`` of them lit in ``lit_colour``."""
    w = frame.shape[1]
    x = int(rng.integers(-20, 5))
    while x < w:
        width = int(rng.integers(50, 110))
        roof = int(rng.integers(top_row, top_row + (bottom_row - top_row) // 2))
        shade = np.array(body, np.int32) + int(rng.integers(-15, 16))
        cv2.rectangle(
            frame, (x, roof), (x + width, bottom_row), tuple(map(int, np.clip(shade, 0, 255))), -1
        )
        for y in range(roof + 8, bottom_row - 10, 16):
            for wx in range(x + 7, x + width - 10, 14):
                on = rng.uniform() < lit
                cv2.rectangle(frame, (wx, y), (wx + 7, y + 9), lit_colour if on else window, -1)
        x += width + int(rng.integers(4, 20))


# -- held-out set: clips -------------------------------------------------------------------------


def _gravel_walkers(count: int, rng: np.random.Generator) -> Frames:
    base = gradient(HH, HW, (235, 200, 160), (225, 215, 200))  # pale blue sky
    base[70:120] = hsv_texture(rng, 50, HW, 55, 150, 70, 60, blob=4)  # tree line
    base[120:] = hsv_texture(rng, HH - 120, HW, 45, 140, 120, 70)  # grass
    gravel = hsv_texture(rng, HH - 120, HW, 20, 35, 165, 120, blob=1)
    path = np.zeros((HH - 120, HW), np.uint8)
    cv2.fillPoly(path, [np.array([[200, 0], [280, 0], [430, HH - 120], [50, HH - 120]])], 1)
    base[120:][path > 0] = gravel[path > 0]
    frames = []
    for i in range(count):
        frame = base.copy()
        person(frame, 150 + int(1.6 * i), 235, 120, i * 0.55, (40, 40, 150))
        person(frame, 300 - int(1.2 * i), 215, 100, i * 0.5 + 1.3, (120, 80, 40))
        frames.append(frame)
    return frames


def _busy_street(count: int, rng: np.random.Generator) -> Frames:
    base = gradient(HH, HW, (220, 190, 150), (235, 220, 200))
    buildings(base, rng, 10, 170, (130, 135, 140), (80, 80, 85), lit=0.0)
    base[170:] = hsv_texture(rng, HH - 170, HW, 100, 10, 140, 40, blob=3)  # pavement
    cv2.line(base, (0, 170), (HW, 170), (90, 90, 95), 2)
    walkers = [
        (
            int(rng.integers(0, HW)),
            int(rng.integers(200, 262)),
            float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.5)),
            tuple(int(c) for c in rng.integers(30, 200, 3)),
        )
        for _ in range(9)
    ]
    frames = []
    for i in range(count):
        frame = base.copy()
        for n, (x0, feet, speed, colour) in enumerate(sorted(walkers, key=lambda p: p[1])):
            height = int(60 + (feet - 200) * 1.1)
            x = int(x0 + speed * i) % (HW + 40) - 20
            person(frame, x, feet, height, i * 0.5 + n, colour)  # type: ignore[arg-type]
        frames.append(frame)
    return frames


def _sea(count: int, rng: np.random.Generator) -> Frames:
    horizon = 110
    sky = gradient(horizon, HW, (215, 185, 150), (235, 220, 205))
    clouds = noise_field(rng, horizon, HW, blob=24)
    sky = np.clip(sky + (clouds[..., None] * 40 - 10), 0, 255).astype(np.uint8)
    rows = np.arange(HH - horizon, dtype=np.float32)[:, None]
    cols = np.arange(HW, dtype=np.float32)[None, :]
    depth = 1.0 + rows / 12.0  # waves grow towards the camera
    chop = noise_field(rng, HH - horizon, HW + 200, blob=6)
    base = np.array((135, 110, 70), np.float32)  # blue-grey water
    frames = []
    for i in range(count):
        phase = 0.35 * i
        waves = np.sin(rows / depth * 2.2 + 0.04 * cols / depth - phase) + 0.6 * np.sin(
            rows / depth * 3.1 - 0.03 * cols / depth - 1.3 * phase
        )
        shift = (3 * i) % 200
        texture = waves * 14 + (chop[:, shift : shift + HW] - 0.5) * 50
        water = np.clip(base + texture[..., None] * np.array((1.0, 1.0, 0.9)), 0, 255)
        crest = (waves > 1.35) & (chop[:, shift : shift + HW] > 0.6)
        water[crest] = (225, 225, 220)
        frame = np.vstack([sky, water.astype(np.uint8)])
        frames.append(frame)
    return frames


def _lake(count: int, rng: np.random.Generator) -> Frames:
    sky = gradient(90, HW, (225, 190, 160), (235, 225, 215))
    trees = hsv_texture(rng, 35, HW, 60, 120, 55, 50, blob=5)
    edge = (8 * noise_field(rng, 1, HW, blob=20)[0]).astype(int)
    grass = hsv_texture(rng, 45, HW, 42, 150, 120, 60)
    reflection = cv2.flip(trees, 0)
    frames = []
    for i in range(count):
        frame = np.zeros((HH, HW, 3), np.uint8)
        frame[:90] = sky
        frame[90:125] = trees
        for x in range(HW):
            frame[90 : 90 + edge[x], x] = sky[-1, x]
        water = gradient(100, HW, (140, 125, 100), (160, 150, 130)).astype(np.float32)
        water[:35] = 0.5 * water[:35] + 0.5 * reflection
        ripple = np.sin(np.arange(100)[:, None] * 0.9 + np.arange(HW)[None, :] * 0.05 - 0.3 * i)
        water += ripple[..., None] * 6 + (noise_field(rng, 100, HW, 3)[..., None] - 0.5) * 10
        frame[125:225] = np.clip(water, 0, 255).astype(np.uint8)
        frame[225:] = grass
        frames.append(frame)
    return frames


def _night_meadow(count: int, rng: np.random.Generator) -> Frames:
    sky = gradient(150, HW, (60, 25, 10), (85, 50, 30))
    stars = rng.uniform(size=(150, HW)) > 0.997
    sky[stars] = (200, 200, 210)
    wide = hsv_texture(rng, HH - 150, HW + count, 55, 160, 45, 40)
    frames = []
    for i in range(count):
        frame = np.vstack([sky, np.ascontiguousarray(wide[:, i % 3 : i % 3 + HW])])
        frames.append(frame)
    return frames


def _storm_rain(count: int, rng: np.random.Generator) -> Frames:
    base = gradient(HH, HW, (70, 60, 55), (40, 45, 40))
    base[160:] = hsv_texture(rng, HH - 160, HW, 50, 80, 45, 30)
    flashes = {30: 1.0, 31: 0.7, 32: 0.35, 84: 0.9, 85: 0.5, 86: 0.2}
    frames = []
    for i in range(count):
        frame = base.astype(np.float32)
        lift = flashes.get(i, 0.0)
        frame += lift * 150
        if lift >= 0.9:
            x = int(rng.integers(100, 380))
            points = [(x, 0)]
            for y in range(20, 160, 20):
                x += int(rng.integers(-18, 19))
                points.append((x, y))
            cv2.polylines(frame, [np.array(points)], False, (255, 250, 245), 2)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        for _ in range(260):  # rain streaks falling on a slant
            x, y = int(rng.integers(0, HW)), int(rng.integers(-20, HH))
            cv2.line(frame, (x, y), (x - 5, y + 18), (150, 150, 150), 1)
        frames.append(frame)
    return frames


def _lightning_city(count: int, rng: np.random.Generator) -> Frames:
    base = gradient(HH, HW, (50, 25, 15), (70, 45, 30))
    buildings(base, rng, 90, HH, (25, 25, 28), (30, 30, 33), lit=0.15)
    flashes = {20: 1.0, 21: 0.6, 22: 0.3, 70: 0.8, 71: 0.4, 103: 1.0, 104: 0.5}
    frames = []
    for i in range(count):
        lift = flashes.get(i, 0.0)
        frame = np.clip(base.astype(np.float32) + lift * np.array((170, 150, 140)), 0, 255)
        frames.append(frame.astype(np.uint8))
    return frames


def _fireplace(count: int, rng: np.random.Generator) -> Frames:
    wall = hsv_texture(rng, HH, HW, 18, 60, 170, 20, blob=6)
    frames = []
    for _ in range(count):
        glow = rng.uniform(0.8, 1.1)
        frame = np.clip(wall.astype(np.float32) * glow, 0, 255).astype(np.uint8)
        cv2.rectangle(frame, (130, 80), (350, 250), (50, 60, 90), -1)  # brick surround
        cv2.rectangle(frame, (110, 70), (370, 84), (40, 70, 110), -1)  # mantel
        cv2.rectangle(frame, (170, 120), (310, 250), (15, 15, 20), -1)  # the opening
        for _ in range(5):
            x = int(rng.integers(185, 295))
            height = int(rng.uniform(30, 95))
            tip = x + int(rng.integers(-10, 11))
            pts = np.array([[x - 16, 238], [x + 16, 238], [tip, 238 - height]])
            cv2.fillPoly(frame, [pts], (0, int(rng.uniform(80, 150)), int(rng.uniform(210, 255))))
        cv2.rectangle(frame, (180, 236), (300, 246), (20, 40, 70), -1)  # logs
        frames.append(frame)
    return frames


def _face_room(count: int, rng: np.random.Generator) -> Frames:
    base = hsv_texture(rng, HH, HW, 100, 25, 190, 12, blob=8)
    cv2.rectangle(base, (300, 30), (440, 150), (120, 120, 120), 4)  # a window frame
    cv2.line(base, (370, 30), (370, 150), (120, 120, 120), 4)
    base[200:] = (70, 95, 125)  # a table
    frames = []
    for i in range(count):
        frame = base.copy()
        dx = int(round(2 * np.sin(i * 0.15)))
        cx, cy = 200 + dx, 130
        cv2.ellipse(frame, (cx, cy + 110), (95, 50), 0, 180, 360, (90, 60, 40), -1)  # shoulders
        cv2.ellipse(frame, (cx, cy - 20), (58, 70), 0, 0, 360, (40, 50, 60), -1)  # hair
        cv2.ellipse(frame, (cx, cy), (50, 66), 0, 0, 360, (140, 170, 215), -1)  # face
        for ex in (cx - 20, cx + 20):
            cv2.ellipse(frame, (ex, cy - 12), (10, 6), 0, 0, 360, (245, 245, 245), -1)
            cv2.circle(frame, (ex, cy - 12), 4, (40, 30, 30), -1)
            cv2.line(frame, (ex - 11, cy - 26), (ex + 11, cy - 26), (40, 50, 60), 3)
        cv2.line(frame, (cx, cy - 8), (cx - 5, cy + 14), (110, 135, 180), 2)
        cv2.ellipse(frame, (cx, cy + 30), (18, 6), 0, 0, 180, (80, 80, 160), 3)
        frames.append(frame)
    return frames


def _night_city(count: int, rng: np.random.Generator) -> Frames:
    wide = gradient(HH, HW + count, (45, 20, 10), (75, 45, 25))
    buildings(wide, rng, 40, HH, (35, 35, 40), (40, 40, 45), lit=0.6)
    return [np.ascontiguousarray(wide[:, i : i + HW]) for i in range(count)]


def _forest(count: int, rng: np.random.Generator) -> Frames:
    base = hsv_texture(rng, HH, HW, 60, 150, 50, 40, blob=4)
    for _ in range(6):
        x, width = int(rng.integers(0, HW)), int(rng.integers(12, 30))
        trunk = hsv_texture(rng, HH, width, 15, 120, 70, 50, blob=2)
        base[:, x : x + width] = trunk[:, : HW - x]
    litter = hsv_texture(rng, 50, HW, 18, 150, 90, 60)
    base[HH - 50 :] = litter
    blobs = [
        (
            int(rng.integers(0, HW)),
            int(rng.integers(0, 190)),
            int(rng.integers(8, 26)),
            float(rng.uniform(70, 160)),
        )
        for _ in range(220)
    ]
    frames = []
    for i in range(count):
        frame = base.copy()
        for n, (x, y, r, v) in enumerate(blobs):
            shimmer = 1.0 + 0.12 * np.sin(0.4 * i + n)
            hsv = np.uint8([[[55 + n % 15, 170, min(255, int(v * shimmer))]]])
            colour = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
            cv2.circle(frame, (x + int(np.sin(0.3 * i + n)), y), r, colour, -1)
        frames.append(frame)
    return frames


def _tv_room(count: int, rng: np.random.Generator) -> Frames:
    room = hsv_texture(rng, HH, HW, 105, 60, 70, 16, blob=6)
    cv2.rectangle(room, (0, 200), (HW, HH), (30, 35, 45), -1)  # floor
    cv2.rectangle(room, (40, 150), (140, 215), (35, 40, 60), -1)  # a sofa arm
    frames = []
    picture = rng.integers(0, 255, (6, 8, 3)).astype(np.uint8)
    for i in range(count):
        if i % 4 == 0:
            picture = rng.integers(0, 255, (6, 8, 3)).astype(np.uint8)
        light = 0.6 + 0.5 * float(picture.mean()) / 255.0 + 0.15 * rng.uniform()
        frame = np.clip(room.astype(np.float32) * light + np.array((25, 10, 0)) * light, 0, 255)
        frame = frame.astype(np.uint8)
        cv2.rectangle(frame, (250, 95), (400, 185), (10, 10, 10), -1)
        frame[100:180, 255:395] = cv2.resize(picture, (140, 80), interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(frame, (300, 185), (350, 215), (20, 20, 25), -1)  # stand
        frames.append(frame)
    return frames


HELD_OUT: dict[str, Callable[[int, np.random.Generator], Frames]] = {
    "gravel_walkers": _gravel_walkers,
    "busy_street": _busy_street,
    "sea": _sea,
    "lake": _lake,
    "night_meadow": _night_meadow,
    "storm_rain": _storm_rain,
    "lightning_city": _lightning_city,
    "fireplace": _fireplace,
    "face_room": _face_room,
    "night_city": _night_city,
    "forest": _forest,
    "tv_room": _tv_room,
}


def recipe_frames(recipe: dict) -> Frames:
    """The frames of a generated clip, deterministic for its recipe."""
    kind, count = recipe["kind"], int(recipe["seconds"] * FPS)
    rng = np.random.default_rng(int(recipe.get("seed", 0)))
    frames = _dev_frames(kind, count, rng)
    if frames is not None:
        return frames
    if kind in HELD_OUT:
        return HELD_OUT[kind](count, rng)
    raise ValueError(f"unknown recipe kind {kind!r}")


def make_clip(recipe: dict, path: Path) -> Path:
    return encode_bgr_frames(recipe_frames(recipe), path, FPS)
