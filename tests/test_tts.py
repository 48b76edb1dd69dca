"""Text-to-speech backends: exact clip length, fitting long lines, safe argument passing, errors.

The espeak tests run a small fake espeak-ng (a Python script put first on PATH) so the real
subprocess code is exercised on machines without espeak-ng; one test uses the real program
when it is installed. The VITS test builds a tiny random model offline and loads it by path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import AudioGenerator, GenerationRequest, tts
from lvas.tools.generation.registry import BackendEntry
from lvas.tools.generation.tts import EspeakTTS, espeak_available, fit_speech, trim_silence
from tests.fake_espeak import write_fake

SR = tts.ESPEAK_SAMPLE_RATE

class FakeEspeak:
    def __init__(self, log: Path) -> None:
        self.log = log

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    @staticmethod
    def speed(call: dict) -> int:
        argv = call["argv"]
        return int(argv[argv.index("-s") + 1])


@pytest.fixture
def fake_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEspeak:
    bin_dir = tmp_path / "bin"
    write_fake(bin_dir / "espeak-ng")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "espeak-calls.jsonl"
    monkeypatch.setenv("FAKE_ESPEAK_LOG", str(log))
    return FakeEspeak(log)


def _request(text: str, duration: float, **kw) -> GenerationRequest:
    return GenerationRequest(text=text, duration=duration, seed=0, family="speech",
                             layer="speech", **kw)


def _read(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32")
    return data, rate


# ---------------------------------------------------------------------------------------------
# fitting


def test_fit_speech_places_pads_and_trims_with_fade() -> None:
    sr = 1000
    tone = np.concatenate([np.zeros(50), 0.5 * np.ones(300), np.zeros(80)]).astype(np.float32)
    out = fit_speech(tone, sr, 1.2345)
    assert out.shape == (round(1.2345 * sr),)
    lead = round(tts.LEAD_IN_SECONDS * sr)
    assert np.all(out[:lead] == 0) and out[lead + 10] == pytest.approx(0.5)
    assert np.count_nonzero(out) == 300 and np.all(out[lead + 300:] == 0)

    long = fit_speech(0.5 * np.ones(5000, dtype=np.float32), sr, 2.0)
    assert long.shape == (2000,)
    assert np.all(long[lead + 10: 2000 - 60] == pytest.approx(0.5))
    assert long[-1] == 0.0 and 0 < long[-25] < 0.5  # faded out, not cut mid-wave

    assert np.all(fit_speech(np.zeros(100), sr, 0.5) == 0)  # silence in, silence out
    assert trim_silence(np.zeros(10)).size == 0


# ---------------------------------------------------------------------------------------------
# espeak with the fake program


def test_espeak_follows_the_protocol(fake_espeak: FakeEspeak) -> None:
    gen = EspeakTTS(sample_rate=48000)
    assert isinstance(gen, AudioGenerator)
    caps = gen.capabilities
    assert caps.speech and caps.text_to_audio and not caps.video_to_audio
    assert caps.sample_rate == 22050 and caps.window_seconds is None
    assert Path(gen.executable).parent.name == "bin"


@pytest.mark.parametrize("duration", [0.37, 1.0, 2.5])
def test_espeak_output_length_is_exact(fake_espeak: FakeEspeak, tmp_path: Path,
                                       duration: float) -> None:
    gen = EspeakTTS(voice="en-us+m3", speed=160, pitch=40)
    out = gen.render(_request("Go.", duration), tmp_path / "line.wav")
    data, rate = _read(out)
    assert rate == SR and data.shape == (round(duration * SR),)
    lead = min(round(tts.LEAD_IN_SECONDS * SR), len(data) // 4)
    assert np.max(np.abs(data[:lead])) == 0.0
    assert np.max(np.abs(data[lead: lead + 2000])) > 0.3  # speech starts right after lead-in
    (call,) = fake_espeak.calls()
    argv = call["argv"]
    assert argv[argv.index("-v") + 1] == "en-us+m3"
    assert argv[argv.index("-s") + 1] == "160" and argv[argv.index("-p") + 1] == "40"
    assert "--stdin" in argv and call["text"] == "Go."


def test_short_line_is_spoken_once_at_normal_speed(fake_espeak: FakeEspeak,
                                                   tmp_path: Path) -> None:
    EspeakTTS().render(_request("Hello there.", 3.0), tmp_path / "a.wav")
    assert [FakeEspeak.speed(c) for c in fake_espeak.calls()] == [tts.DEFAULT_WPM]


def test_long_line_is_spoken_faster_then_trimmed(fake_espeak: FakeEspeak,
                                                 tmp_path: Path) -> None:
    # 45 characters at 175 wpm last ~2.7 s with the fake; the span is 2 s: ~1.45x fits.
    mid = "This line is a little too long for its span."
    EspeakTTS().render(_request(mid, 2.0), tmp_path / "mid.wav")
    speeds = [FakeEspeak.speed(c) for c in fake_espeak.calls()]
    assert speeds[0] == 175 and 175 < speeds[1] <= round(175 * tts.MAX_SPEEDUP)
    data, _ = _read(tmp_path / "mid.wav")
    assert data.shape == (2 * SR,)
    assert np.max(np.abs(data[-SR // 20:])) < 0.5  # ends before the span closes

    # Far too long: capped at MAX_SPEEDUP, then cut with a fade to the exact length.
    very = "A very long line that cannot possibly fit into one second of time, even sped up."
    EspeakTTS().render(_request(very, 1.0), tmp_path / "long.wav")
    speeds = [FakeEspeak.speed(c) for c in fake_espeak.calls()[2:]]
    assert speeds == [175, round(175 * tts.MAX_SPEEDUP)]
    data, _ = _read(tmp_path / "long.wav")
    assert data.shape == (SR,)
    assert abs(data[-1]) < 1e-3 and np.max(np.abs(data[-SR // 5: -SR // 10])) > 0.3


def test_text_starting_with_dash_is_spoken_not_parsed(fake_espeak: FakeEspeak, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = Path("evil.wav")
    line = f"-w {evil} -s 900 --version hello"
    out = EspeakTTS().render(_request(line, 4.0), tmp_path / "dash.wav")
    (call,) = fake_espeak.calls()
    assert call["text"] == line
    assert not any(arg in ("evil.wav", "900", "--version") for arg in call["argv"])
    assert FakeEspeak.speed(call) == 175 and not (tmp_path / evil).exists()
    assert np.max(np.abs(_read(out)[0])) > 0.3


def test_request_voice_overrides_backend_voice(fake_espeak: FakeEspeak, tmp_path: Path) -> None:
    EspeakTTS().render(_request("Hi.", 1.0, voice="en-gb"), tmp_path / "v.wav")
    EspeakTTS(voice="en-us+f2").render(_request("Hi.", 1.0), tmp_path / "w.wav")
    voices = [c["argv"][c["argv"].index("-v") + 1] for c in fake_espeak.calls()]
    assert voices == ["en-gb", "en-us+f2"]


def test_render_batch_and_the_context_espeak_path(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.graph.context import Context
    from lvas.tools.generation.options import generator_options

    fake = write_fake(tmp_path / "tools" / "my-speaker")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LVAS_ESPEAK", str(fake))  # read by the run's Context only
    assert not espeak_available()[0]
    options = generator_options(Context(), "espeak")
    assert options == {"executable": str(fake)}
    assert espeak_available(**options)[0]
    outs = EspeakTTS(**options).render_batch([_request("One.", 0.5), _request("Two.", 0.75)],
                                             [tmp_path / "1.wav", tmp_path / "2.wav"])
    assert [sf.info(str(p)).frames for p in outs] == [round(0.5 * SR), round(0.75 * SR)]
    monkeypatch.setenv("PATH", str(fake.parent))  # a bare name is looked up on PATH
    assert EspeakTTS(executable=fake.name).executable == str(fake)


def test_registry_entry_builds_the_backend(fake_espeak: FakeEspeak, tmp_path: Path) -> None:
    entry = BackendEntry("espeak", "lvas.tools.generation.tts:EspeakTTS",
                         "lvas.tools.generation.tts:espeak_available",
                         check_options=("executable",))
    assert entry.check()[0]
    # The check gets the option it names, and only that one.
    assert not entry.check({"executable": str(tmp_path / "nope"), "voice": "en-gb"})[0]
    gen = entry.load()(sample_rate=48000, voice="en-gb")
    assert gen.name == "espeak" and gen.capabilities.sample_rate == SR


# ---------------------------------------------------------------------------------------------
# espeak errors


def test_missing_espeak_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    ok, reason = espeak_available()
    assert not ok and "apt-get install espeak-ng" in reason and "brew install espeak-ng" in reason
    with pytest.raises(LVASInputError) as err:
        EspeakTTS()
    message = str(err.value)
    assert "apt-get install espeak-ng" in message and "brew install espeak-ng" in message
    assert "another narration backend" in message

    missing = str(tmp_path / "nope" / "espeak-ng")
    ok, reason = espeak_available(missing)
    assert not ok and "LVAS_ESPEAK" in reason and missing in reason
    with pytest.raises(LVASInputError, match="LVAS_ESPEAK"):
        EspeakTTS(executable=missing)


def test_failing_espeak_reports_its_stderr(fake_espeak: FakeEspeak, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError) as err:
        EspeakTTS(voice="xx-fail").render(_request("Hello.", 1.0), tmp_path / "x.wav")
    message = str(err.value)
    assert "exit status 1" in message and "voice does not exist" in message
    assert "--voices" in message
    assert not (tmp_path / "x.wav").exists()


def test_hanging_espeak_times_out(fake_espeak: FakeEspeak, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="timed out"):
        EspeakTTS(voice="xx-slow", timeout=0.5).render(_request("Hi.", 1.0), tmp_path / "t.wav")


@pytest.mark.parametrize(
    ("options", "match"),
    [({"voice": "-w /tmp/x"}, "not a voice name"), ({"voice": "en us"}, "not a voice name"),
     ({"speed": 20}, "speed"), ({"pitch": 120}, "pitch"), ({"max_speedup": 9}, "max_speedup")],
)
def test_bad_options_are_refused(fake_espeak: FakeEspeak, options: dict, match: str) -> None:
    with pytest.raises(LVASInputError, match=match):
        EspeakTTS(**options)


def test_empty_line_is_refused(fake_espeak: FakeEspeak, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="empty"):
        EspeakTTS().render(_request("   ", 1.0), tmp_path / "e.wav")
    assert fake_espeak.calls() == []


# ---------------------------------------------------------------------------------------------
# the real espeak-ng, where installed


@pytest.fixture
def real_espeak() -> str:
    found = shutil.which("espeak-ng") or shutil.which("espeak")
    if found is None:
        pytest.skip("espeak-ng is not installed")
    return found


def test_real_espeak_speaks_and_fits(real_espeak: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    speeds: list[int] = []
    run = subprocess.run

    def recording_run(args, **kwargs):
        speeds.append(int(args[args.index("-s") + 1]))
        return run(args, **kwargs)

    monkeypatch.setattr(tts.subprocess, "run", recording_run)
    gen = EspeakTTS()
    assert gen.executable == real_espeak

    data, rate = _read(gen.render(_request("Hello, this is a test.", 3.0), tmp_path / "a.wav"))
    assert rate == SR and data.shape == (3 * SR,)
    lead = round(tts.LEAD_IN_SECONDS * SR)
    assert np.max(np.abs(data[:lead])) == 0.0
    spoken = np.flatnonzero(np.abs(data) > 0.01)
    assert 0.5 < (spoken[-1] - spoken[0]) / SR < 2.9 and speeds == [175]

    long = "The quick brown fox jumps over the lazy dog near the quiet river bank today."
    data, _ = _read(gen.render(_request(long, 2.0), tmp_path / "b.wav"))
    assert data.shape == (2 * SR,) and speeds[1:] == [175, round(175 * tts.MAX_SPEEDUP)]
    assert abs(data[-1]) < 1e-3

    monkeypatch.chdir(tmp_path)
    data, _ = _read(gen.render(_request("-w evil.wav -s 900 hello world", 6.0),
                               tmp_path / "c.wav"))
    spoken = np.flatnonzero(np.abs(data) > 0.01)
    assert not (tmp_path / "evil.wav").exists() and speeds[-1] == 175
    assert (spoken[-1] - spoken[0]) / SR > 1.0  # the whole line was read out, not just "hello"

    with pytest.raises(LVASInputError, match="exit status"):
        EspeakTTS(voice="zz-no-such-voice").render(_request("Hi.", 1.0), tmp_path / "d.wav")


# ---------------------------------------------------------------------------------------------
# VITS via transformers, with a tiny random model


@pytest.fixture(scope="module")
def tiny_vits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    root = tmp_path_factory.mktemp("vits")
    chars = ["<pad>", "<unk>", *" abcdefghijklmnopqrstuvwxyz'-"]
    vocab = root / "vocab.json"
    vocab.write_text(json.dumps({c: i for i, c in enumerate(chars)}), encoding="utf-8")
    tokenizer = VitsTokenizer(str(vocab), phonemize=False, normalize=True, add_blank=True)
    config = VitsConfig(
        vocab_size=len(chars), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        ffn_dim=16, flow_size=8, spectrogram_bins=9, upsample_initial_channel=16,
        upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1]], duration_predictor_filter_channels=8,
        duration_predictor_num_flows=1, prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        depth_separable_num_layers=1, sampling_rate=16000,
    )
    torch.manual_seed(0)
    folder = root / "tiny-vits"
    VitsModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def test_vits_renders_a_finite_line_of_exact_length(tiny_vits: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.tools.generation.tts import TransformersTTS, tts_available

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert tts_available(str(tiny_vits))[0]
    gen = TransformersTTS(sample_rate=48000, model=str(tiny_vits), device="cpu")
    assert isinstance(gen, AudioGenerator) and gen.capabilities.speech
    assert gen.capabilities.sample_rate == 16000
    out = gen.render(_request("-Hello there, friend!", 1.3), tmp_path / "v.wav")
    data, rate = _read(out)
    assert rate == 16000 and data.shape == (round(1.3 * 16000),)
    assert np.all(np.isfinite(data)) and np.max(np.abs(data)) > 0
    again = TransformersTTS(model=str(tiny_vits), device="cpu").render(
        _request("-Hello there, friend!", 1.3), tmp_path / "w.wav")
    assert np.array_equal(_read(again)[0], data)  # same seed, same line: same audio
    assert len([k for k in tts._VITS_CACHE if k[0] == str(tiny_vits)]) == 1  # loaded once

    with pytest.raises(LVASInputError, match="no characters"):
        gen.render(_request("!!!", 1.0), tmp_path / "p.wav")


def test_vits_missing_model_is_not_available(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    from lvas.tools.generation.tts import TransformersTTS, tts_available

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, reason = tts_available("lvas-test/no-such-tts-model")
    assert not ok and "hf download" in reason
    assert not tts_available(str(tmp_path))[0]  # a folder without config.json
    with pytest.raises(LVASInputError, match="hf download"):
        TransformersTTS(model="lvas-test/no-such-tts-model")
