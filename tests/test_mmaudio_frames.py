"""The MMAudio adapter's conditioning frames against MMAudio's own loader, re-stated here.

``_mmaudio_reference`` is written from MMAudio's definition (``mmaudio/data/av_utils.py``
``read_frames`` and ``mmaudio/eval_utils.py`` ``load_video``, with torchvision's v2
``Resize``/``CenterCrop``/``ToDtype``/``Normalize`` as they compute on CPU uint8 tensors),
independently of the adapter's streaming code: decode every frame with PyAV, keep frames by
the float-accumulated rule, resize the whole stack. A window ``[start, start + duration)`` is
read as MMAudio reads a clip cut out at ``start``: each frame's time in that clip is its exact
time minus ``start``, rounded once. The adapter must give the same frames (the same source
frame for every sample) and the same numbers, bit for bit.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lvas.tools.generation import mmaudio_backend as mb
from tests import videos

CLIP_FPS, CLIP_SIZE = 8.0, 384  # mmaudio/eval_utils.py
SYNC_FPS, SYNC_SIZE = 25.0, 224


# --- the reference: MMAudio's loader --------------------------------------------------------


def _tv_resize(frames: torch.Tensor, size: list[int]) -> torch.Tensor:
    """torchvision v2 ``Resize(size, BICUBIC)`` (antialias on) of a CPU uint8 ``(T, 3, H, W)``
    stack: a one-element size sets the shorter side; uint8 bicubic is handed to
    ``interpolate`` as it is (torchvision >= 0.16, ``_do_native_uint8_resize_on_cpu``)."""
    h, w = frames.shape[-2:]
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_h, new_w = size
    if (new_h, new_w) == (h, w):
        return frames
    assert frames.dtype == torch.uint8
    return F.interpolate(
        frames, size=[new_h, new_w], mode="bicubic", align_corners=False, antialias=True
    )


def _tv_center_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    h, w = frames.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return frames[..., top : top + size, left : left + size]


def _mmaudio_reference(path: Path, start: float, duration: float, turns: int = 0):
    """``load_video``'s clip and sync tensors for the window, and the index (in decoding
    order) of the source frame each sample shows.

    Where MMAudio would shorten the clip because the video ends first, the missing samples
    repeat the clip's last frame (LVAS renders the length it was asked for). ``turns``: the
    counter-clockwise quarter turns that make the decoded picture upright (LVAS reads the
    picture as it is displayed; MMAudio ignores a display matrix).
    """
    fps_list = [CLIP_FPS, SYNC_FPS]
    next_time = [0.0 for _ in fps_list]
    delta = [1 / fps for fps in fps_list]
    picked: list[list[int]] = [[] for _ in fps_list]
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.start_time in (0, None)  # the test videos start at 0
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            for frame in packet.decode():
                frame_time = float(Fraction(frame.pts) * frame.time_base - Fraction(start))
                if start == 0:
                    assert frame_time == frame.time  # MMAudio's own frame time
                if frame_time < 0:
                    continue
                if frame_time > duration:
                    break
                frames.append(
                    np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), turns))
                )
                for i in range(len(fps_list)):
                    while frame_time >= next_time[i]:
                        picked[i].append(len(frames) - 1)
                        next_time[i] += delta[i]
    counts = [int(CLIP_FPS * duration), int(SYNC_FPS * duration)]
    picked = [(p + [len(frames) - 1] * n)[:n] for p, n in zip(picked, counts, strict=True)]
    stack = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    clip = _tv_resize(stack[picked[0]], [CLIP_SIZE, CLIP_SIZE])
    clip = clip.to(torch.float32).mul_(1.0 / 255)
    sync = _tv_center_crop(_tv_resize(stack[picked[1]], [SYNC_SIZE]), SYNC_SIZE)
    sync = sync.to(torch.float32).mul_(1.0 / 255)
    mean = torch.as_tensor([0.5, 0.5, 0.5], dtype=torch.float32).view(-1, 1, 1)
    sync = sync.sub(mean).div_(mean)
    return clip.numpy(), sync.numpy(), picked[0], picked[1]


def _source_index(frames: np.ndarray, reference: np.ndarray, picked: list[int]) -> list[int]:
    """For each adapter frame, the source frame of the reference sample it equals: that
    sample's own where they are equal (a still picture's frames are all alike), else the first
    other sample's, else -1."""
    by_bytes: dict[bytes, int] = {}
    for k, index in enumerate(picked):
        by_bytes.setdefault(reference[k].tobytes(), index)
    return [
        picked[k] if np.array_equal(frame, reference[k]) else by_bytes.get(frame.tobytes(), -1)
        for k, frame in enumerate(frames)
    ]


def _assert_same(path: Path, start: float, duration: float, turns: int = 0) -> None:
    clip, sync = mb.read_mmaudio_frames(path, start, duration)
    ref_clip, ref_sync, ref_clip_idx, ref_sync_idx = _mmaudio_reference(
        path, start, duration, turns
    )
    assert clip.shape == ref_clip.shape and sync.shape == ref_sync.shape
    assert clip.dtype == ref_clip.dtype == np.float32
    assert _source_index(clip, ref_clip, ref_clip_idx) == ref_clip_idx
    assert _source_index(sync, ref_sync, ref_sync_idx) == ref_sync_idx
    assert np.abs(clip - ref_clip).max() == 0.0
    assert np.abs(sync - ref_sync).max() == 0.0


# --- the adapter against it ---------------------------------------------------------------


@pytest.mark.parametrize("fps", [24, 30000 / 1001])
def test_frames_match_mmaudio_at_24_and_29_97_fps(video_factory, fps: float) -> None:
    path = video_factory(f"moving-{fps:.3f}.mp4", videos.make_cut_video, [2.0, 0.5, 2.0], fps=fps)
    with av.open(str(path)) as container:
        assert abs(float(container.streams.video[0].average_rate) - fps) < 1e-6
    _assert_same(path, 0.0, 4.0)  # the whole clip: MMAudio's load_video as it is
    _assert_same(path, 1.37, 2.0)  # a window starting between frames, mid-video
    _assert_same(path, 2.5, 2.0)  # ... on a frame, and ending with the video


def test_frames_match_mmaudio_at_25_fps(cut_video: Path) -> None:
    # 25 fps sampled at 25 fps: every sample time meets a frame time, so which frame is kept
    # turns on the float accumulation of 1/25 (one frame late wherever it runs ahead).
    _assert_same(cut_video, 0.0, 8.0)
    _assert_same(cut_video, 3.0, 2.5)  # a window that starts on a frame, after a seek
    _assert_same(cut_video, 6.48, 1.52)


def test_frames_match_mmaudio_at_a_variable_frame_rate(video_factory) -> None:
    path = video_factory("vfr-frames.mp4", videos.make_vfr_video)  # 15, 50 then 24 fps
    _assert_same(path, 0.0, 6.0)
    _assert_same(path, 1.5, 3.0)  # across both rate changes, after a seek


def test_a_window_past_the_end_holds_the_last_frame(cut_video: Path) -> None:
    _assert_same(cut_video, 7.0, 2.0)  # MMAudio would shorten the clip to 1 s
    clip, sync = mb.read_mmaudio_frames(cut_video, 7.0, 2.0)
    assert clip.shape == (16, 3, CLIP_SIZE, CLIP_SIZE) and sync.shape == (50, 3, 224, 224)
    np.testing.assert_array_equal(sync[-1], sync[25])


def test_a_rotated_video_is_read_upright(video_factory) -> None:
    wide = video_factory("wide.mp4", videos.make_cut_video, [1.0], size=(448, 224))
    rotated = video_factory("wide-rot.mp4", videos.make_rotated, wide, 90)
    _assert_same(rotated, 0.0, 1.0, turns=1)  # a quarter turn counter-clockwise
