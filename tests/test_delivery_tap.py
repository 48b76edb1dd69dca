"""The mux's second output: the encoded soundtrack measured while ffmpeg still writes the file."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import pytest

from lvas.tools.audio.audio_io import write_wav
from lvas.tools.common.ffmpeg import FFmpegError, run_ffmpeg
from lvas.tools.delivery.measure import (
    DeliveredLevels,
    measure_delivered_audio,
    measure_encoded_stream,
)
from lvas.tools.delivery.muxing import mux_soundtrack

SR = 48000


@pytest.fixture(scope="module")
def soundtrack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of stereo noise with a rising level and one loud burst."""
    rng = np.random.default_rng(5)
    t = np.arange(30 * SR) / SR
    x = 0.08 * rng.standard_normal((len(t), 2)) * (0.3 + t / 30)[:, None]
    x[SR * 3 : SR * 3 + 30] = 0.8
    return write_wav(tmp_path_factory.mktemp("tap") / "mix.wav", x, SR)


def _packets(path: Path) -> str:
    """A hash of every stream's packets, as stored."""
    return run_ffmpeg(["-i", str(path), "-map", "0", "-c", "copy", "-f", "streamhash",
                       "-"]).stdout


@pytest.mark.parametrize("name", ["plain.mp4", "it's [a|b] c\\d.mp4", "opus.mkv"])
def test_the_tapped_mux_writes_the_same_file_and_measures_what_it_delivers(
    cut_video: Path, soundtrack: Path, tmp_path: Path, name: str
) -> None:
    """One encode feeds the file and the tap: the file holds the packets of a mux without a
    tap (an MP4 is the same byte for byte), whatever its name holds (the tee muxer's
    separators, quotes, brackets, blanks), and the tap's levels are the file's own."""
    plain = mux_soundtrack(cut_video, soundtrack, tmp_path / f"untapped{Path(name).suffix}",
                           duration=30.0)
    levels: list[DeliveredLevels] = []

    def tap(stream: IO[bytes], rate: int, channels: int) -> None:
        levels.append(measure_encoded_stream(stream, rate, channels))

    tapped = mux_soundtrack(cut_video, soundtrack, tmp_path / name, duration=30.0,
                            encoded_tap=tap)
    assert tapped == tmp_path / name
    assert _packets(tapped) == _packets(plain)
    if tapped.suffix == ".mp4":  # Matroska writes a random segment id into every file
        assert tapped.read_bytes() == plain.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (got,) = levels
    want = measure_delivered_audio(tapped)
    assert (got.sample_rate, got.channels) == (want.sample_rate, want.channels) == (SR, 2)
    assert got.integrated_lufs == pytest.approx(want.integrated_lufs, abs=0.02)
    assert got.true_peak_db == pytest.approx(want.true_peak_db, abs=0.02)
    assert got.true_peak_db > -4.0  # the burst is in it


def test_a_failing_mux_reports_its_own_error_and_leaves_nothing(
    cut_video: Path, soundtrack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ffmpeg cannot write the file (its folder vanished): the mux's error is raised, not the
    tap's, whose stream broke off with it."""
    from lvas.tools.delivery import muxing

    monkeypatch.setattr(muxing, "_tee_escaped", lambda path: str(tmp_path / "gone" / "x.mp4"))
    with pytest.raises(FFmpegError, match="ffmpeg failed with exit code|ffmpeg wrote no output"):
        mux_soundtrack(cut_video, soundtrack, tmp_path / "out.mp4", duration=2.0,
                       encoded_tap=lambda stream, rate, channels: measure_encoded_stream(
                           stream, rate, channels))
    assert list(tmp_path.iterdir()) == []


def test_a_failing_tap_stops_the_mux_and_leaves_nothing(
    cut_video: Path, soundtrack: Path, tmp_path: Path
) -> None:
    def tap(stream: IO[bytes], rate: int, channels: int) -> None:
        stream.read(100)
        raise RuntimeError("the meter broke")

    with pytest.raises(RuntimeError, match="the meter broke"):
        mux_soundtrack(cut_video, soundtrack, tmp_path / "out.mp4", duration=30.0,
                       encoded_tap=tap)
    assert list(tmp_path.iterdir()) == []
