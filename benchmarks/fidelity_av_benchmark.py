"""Fidelity of LVAS's model metrics against av-benchmark's own code.

Both sides get the same audio (and video) and the same random weights: LVAS reads the files
through its windowing, front ends and extractors; av-benchmark's side runs its own model
classes, front ends and metric functions (``av_bench.panns``, ``av_bench.vggish``,
``av_bench.metrics``, its PaSST package ``hear21passt``, ``av_bench.synchformer``, ImageBind)
on the same samples. Printed per model: the largest absolute difference of each feature and
that difference relative to the largest absolute value, then FD, KL, IS, DeSync and the
ImageBind score from both sides.

Run it where av-benchmark is importable (its packages need torchvision and torchaudio built
for the installed torch, so usually not in LVAS's own environment)::

    python benchmarks/fidelity_av_benchmark.py --av-benchmark /path/to/av-benchmark

(or ``AV_BENCHMARK=/path``). Each model that cannot be compared says why and the others
still run; the exit code is 2 when av-benchmark itself cannot be imported, else 0.

av-benchmark reads files with ``torchaudio.load`` and decodes video with ``torio``; those
loaders are not compared: its side gets the samples and frames LVAS decoded (mono mix, the
clip's mean removed where its datasets remove it), so the comparison covers the front ends,
the networks, the windowing into model inputs and the metrics. Inputs are at each model's own
rate, so no resampler is involved. The Synchformer and ImageBind networks are built smaller
(first blocks only, or small widths) to run on a CPU in seconds: both sides share the one
model, and what is compared is the preprocessing around it.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

CLIPS = 20  # enough for av-benchmark's 10 IS splits
SECONDS = 10.0
SEED = 0
LOGIT_SPREAD = 3.0  # the calibrated heads' logit deviation between clips (see _calibrate)


def _diff(ours: np.ndarray, theirs: np.ndarray) -> str:
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return f"SHAPES DIFFER: ours {ours.shape}, av-benchmark {theirs.shape}"
    scale = max(float(np.abs(theirs).max()), 1e-30)
    err = float(np.abs(ours - theirs).max())
    return f"shape {ours.shape}: max abs diff {err:.3g}, relative {err / scale:.3g}"


def _num(name: str, ours: float | None, theirs: float) -> str:
    if ours is None:
        return f"  {name}: ours None, av-benchmark {theirs:.6g}"
    rel = abs(ours - theirs) / max(abs(theirs), 1e-30)
    return f"  {name}: ours {ours:.8g}, av-benchmark {theirs:.8g}, relative diff {rel:.3g}"


def _signal(rate: int, index: int, kind: str) -> np.ndarray:
    """A deterministic 10 s clip: tones that glide, amplitude-modulated, with noise bursts;
    ``kind`` ('ref' or 'gen') changes the mix so the two sets differ."""
    rng = np.random.default_rng(1000 * index + (0 if kind == "ref" else 1))
    t = np.arange(int(SECONDS * rate)) / rate
    f0 = 110.0 * 2 ** (index % 12 / 12) * (1.0 if kind == "ref" else 1.5)
    glide = f0 * (1 + 0.3 * np.sin(2 * np.pi * 0.1 * t))
    phase = 2 * np.pi * np.cumsum(glide) / rate
    tone = np.sin(phase) + 0.5 * np.sin(2 * phase)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + 0.2 * index) * t)
    noise = rng.standard_normal(len(t)) * (0.05 if kind == "ref" else 0.15)
    bursts = np.zeros(len(t))
    for start in rng.uniform(0, SECONDS - 0.3, 6):
        i = int(start * rate)
        bursts[i:i + int(0.2 * rate)] += rng.standard_normal(int(0.2 * rate)) * 0.4
    return (0.3 * tone * env + noise + bursts + 0.01).astype(np.float32)  # a small DC offset


def _write_set(folder: Path, rate: int) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"ref": [], "gen": []}
    for kind in out:
        for i in range(CLIPS):
            path = folder / f"{kind}{i:02d}_{rate}.wav"
            sf.write(path, _signal(rate, i, kind), rate, subtype="FLOAT")
            out[kind].append(path)
    return out


def _mono_dc(path: Path) -> Any:
    """What av-benchmark's AudioDataset hands its models: mono, the clip's mean removed."""
    import torch

    x = torch.from_numpy(sf.read(path, dtype="float32", always_2d=True)[0]).mean(dim=1)
    return x - x.mean()


def _calibrate(state: dict[str, Any], layer: str, inputs: np.ndarray) -> None:
    """Set a random classifier layer so its logits vary between clips.

    A random network maps every clip to nearly the same features, so its class distributions
    are nearly equal (KL ≈ 0, IS ≈ 1: nothing to compare). The layer's weights are scaled so
    the logits of a few calibration clips deviate by about ``LOGIT_SPREAD`` from their mean,
    and its bias centres them; both sides load the same layer.
    """
    import torch

    weight = state[f"{layer}.weight"].double()
    x = torch.from_numpy(inputs).double()
    mean = x.mean(dim=0)
    spread = float(((x - mean) @ weight.T).std())
    gain = LOGIT_SPREAD / max(spread, 1e-12)
    state[f"{layer}.weight"] = (weight * gain).float()
    state[f"{layer}.bias"] = (-(weight * gain) @ mean).float()


def _av_function(source: Path, name: str, env: dict[str, Any]) -> Callable[..., Any]:
    """A top-level function of an av-benchmark file, compiled from its source at run time (its
    module imports packages that are not needed for that function)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    code = compile(ast.Module(body=[node], type_ignores=[]), str(source), "exec")
    scope = dict(env)
    exec(code, scope)  # noqa: S102 - av-benchmark's own function, from the checkout given
    return scope[name]  # type: ignore[no-any-return]


# --- the audio models --------------------------------------------------------------------------

def compare_panns(work: Path, files: dict[str, list[Path]]) -> None:
    import torch

    from lvas.tools.evaluation import stats
    from lvas.tools.evaluation.models import panns as ours
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.extract import audio_features

    torch.manual_seed(SEED)
    ckpt = work / "Cnn14_16k_mAP=0.438.pth"
    net = ours.build_cnn14()
    calibration = ours.Panns(net, "calibration")
    inputs = np.stack([audio_features(calibration, p)["embedding"][0]
                       for p in (files["ref"][0], files["gen"][0], files["gen"][1])])
    state = net.state_dict()
    _calibrate(state, "fc_audioset", inputs)
    torch.save({"model": state}, ckpt)
    home = work / "home"  # av-benchmark loads ~/.cache/audioldm_eval/ckpt/<name>
    (home / ".cache/audioldm_eval/ckpt").mkdir(parents=True, exist_ok=True)
    os.link(ckpt, home / ".cache/audioldm_eval/ckpt" / ckpt.name)
    # its constructor downloads both of the authors' files unless the 32 kHz one is there
    (home / ".cache/audioldm_eval/ckpt/Cnn14_mAP=0.431.pth").write_bytes(b"")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        from av_bench.panns import Cnn14

        theirs = Cnn14(features_list=["2048", "logits"], sample_rate=16000, window_size=512,
                       hop_size=160, mel_bins=64, fmin=50, fmax=8000, classes_num=527).eval()
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
    model = ours.Panns(ours.load_cnn14(str(ckpt)), "random-fidelity")
    feats: dict[str, dict[str, list[np.ndarray]]] = {}
    for kind, paths in files.items():
        feats[kind] = {"ours_emb": [], "ours_log": [], "av_emb": [], "av_log": []}
        for p in paths:
            f = audio_features(model, p)
            feats[kind]["ours_emb"].append(f["embedding"][0])
            feats[kind]["ours_log"].append(f["logits"][0])
            with torch.inference_mode():
                out = theirs(_mono_dc(p)[None])
            feats[kind]["av_emb"].append(out["2048"][0].numpy())
            feats[kind]["av_log"].append(out["logits"][0].numpy())
    arr = {k: {n: np.stack(v) for n, v in d.items()} for k, d in feats.items()}
    print("PANNs (Cnn14, 16 kHz):")
    print("  embedding (2048):", _diff(np.concatenate([arr[k]["ours_emb"] for k in arr]),
                                        np.concatenate([arr[k]["av_emb"] for k in arr])))
    print("  logits (527):", _diff(np.concatenate([arr[k]["ours_log"] for k in arr]),
                                   np.concatenate([arr[k]["av_log"] for k in arr])))
    _metrics("PANNs", model, files, arr, stats, scores)


def _metrics(label: str, model: Any, files: dict[str, list[Path]],
             arr: dict[str, dict[str, np.ndarray]], stats: Any, scores: Any) -> None:
    import torch
    from av_bench.metrics import compute_fd, compute_isc, compute_kl

    av_fd = compute_fd(arr["gen"]["av_emb"], arr["ref"]["av_emb"])
    print(_num(f"FD_{label}", scores.fd(model, files["gen"], files["ref"]), av_fd))
    av_kl = compute_kl([torch.from_numpy(arr["gen"]["av_log"])],
                       torch.from_numpy(arr["ref"]["av_log"]))["kl_softmax"]
    print(_num(f"KL_{label}", scores.kl(model, list(zip(files["gen"], files["ref"],
                                                           strict=True))), av_kl))
    av_is = compute_isc(torch.from_numpy(arr["gen"]["av_log"]), feat_layer_name=None,
                        rng_seed=2020, samples_shuffle=True, splits=10)
    ours_is = stats.inception_score(arr["gen"]["ours_log"], 10, 2020)
    print(_num(f"IS_{label} (10 splits)", ours_is.mean, av_is["inception_score_mean"]))
    print(_num(f"IS_{label} std", ours_is.std, av_is["inception_score_std"]))


def compare_vggish(work: Path, files: dict[str, list[Path]]) -> None:
    import torch
    from av_bench.metrics import compute_fd
    from av_bench.vggish.vggish import VGGish

    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models import vggish as ours
    from lvas.tools.evaluation.models.extract import audio_features

    torch.manual_seed(SEED)
    ckpt = work / "vggish-10086976.pth"
    torch.save(ours.build_vggish().state_dict(), ckpt)
    theirs = VGGish(pretrained=False, postprocess=False, device="cpu").eval()
    theirs.load_state_dict(torch.load(ckpt, weights_only=True), strict=False)
    model = ours.VGGish(ours.load_vggish(str(ckpt)), "random-fidelity")
    o: dict[str, list[np.ndarray]] = {"ref": [], "gen": []}
    a: dict[str, list[np.ndarray]] = {"ref": [], "gen": []}
    for kind, paths in files.items():
        for p in paths:
            o[kind].append(audio_features(model, p)["embedding"])
            with torch.inference_mode():
                a[kind].append(theirs(_mono_dc(p)[None])[0].numpy())
    print("VGGish (16 kHz, 0.96 s examples):")
    print("  embedding (128):", _diff(np.concatenate(o["ref"] + o["gen"]),
                                       np.concatenate(a["ref"] + a["gen"])))
    av_fd = compute_fd(np.concatenate(a["gen"]), np.concatenate(a["ref"]))
    print(_num("FD_VGG", scores.fd(model, files["gen"], files["ref"]), av_fd))


def compare_passt(work: Path, files: dict[str, list[Path]]) -> None:
    import torch
    from hear21passt.base import get_basic_model
    from hear21passt.models.helpers import vit_helpers

    from lvas.tools.evaluation import stats
    from lvas.tools.evaluation.models import passt as ours
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.extract import audio_features

    torch.manual_seed(SEED)
    ckpt = work / "passt-s-f128-p16-s10-ap.476-swa.pt"
    built = ours.build_passt()
    calibration = ours.Passt(built, "calibration")
    feats = np.stack([audio_features(calibration, p)["embedding"][0]
                      for p in (files["ref"][0], files["gen"][0], files["gen"][1])])
    with torch.inference_mode():
        inputs = built.net.head[0](torch.from_numpy(feats)).numpy()  # the head's LayerNorm
    state = built.net.state_dict()
    _calibrate(state, "head.1", inputs)
    torch.save(state, ckpt)
    # hear21passt fetches its checkpoint by URL: hand it the random one instead
    vit_helpers.download_cached_file = lambda *args, **kwargs: str(ckpt)
    theirs = get_basic_model(mode="all").eval()
    model = ours.Passt(ours.load_passt(str(ckpt)), "random-fidelity")
    arr: dict[str, dict[str, list[np.ndarray]]] = {}
    for kind, paths in files.items():
        arr[kind] = {"ours_emb": [], "ours_log": [], "av_emb": [], "av_log": []}
        for p in paths:
            f = audio_features(model, p)
            arr[kind]["ours_emb"].append(f["embedding"][0])
            arr[kind]["ours_log"].append(f["logits"][0])
            wav = _mono_dc(p)[None]
            wav = wav[..., :320000] if wav.shape[-1] >= 320000 else torch.nn.functional.pad(
                wav, (0, 320000 - wav.shape[-1]))
            with torch.inference_mode():
                out = theirs(wav)
            arr[kind]["av_log"].append(out[0, :527].numpy())
            arr[kind]["av_emb"].append(out[0, 527:].numpy())
    stacked = {k: {n: np.stack(v) for n, v in d.items()} for k, d in arr.items()}
    print("PaSST (32 kHz, 10 s):")
    print("  features (768):", _diff(np.concatenate([stacked[k]["ours_emb"] for k in arr]),
                                      np.concatenate([stacked[k]["av_emb"] for k in arr])))
    print("  logits (527):", _diff(np.concatenate([stacked[k]["ours_log"] for k in arr]),
                                   np.concatenate([stacked[k]["av_log"] for k in arr])))
    _metrics("PaSST", model, files, stacked, stats, scores)


def compare_clap_front_end(files: dict[str, list[Path]]) -> None:
    """The log-mel CLAP's audio tower sees: transformers' feature extractor (LVAS) against
    laion_clap's HTSAT front end (torchlibrosa, HTSAT-base's configuration). laion_clap itself
    fetches RoBERTa from the hub when built, so its network is not compared offline."""
    import torch
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram
    from transformers import ClapFeatureExtractor

    spec = Spectrogram(n_fft=1024, hop_length=480, win_length=1024, window="hann", center=True,
                       pad_mode="reflect", freeze_parameters=True)
    logmel = LogmelFilterBank(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0,
                              amin=1e-10, top_db=None, freeze_parameters=True)
    # HTSAT-base's front end, as LVAS's CLAP fixes it (models/clap.py)
    extractor = ClapFeatureExtractor(frequency_min=50, frequency_max=14000)
    ours, theirs = [], []
    for p in files["ref"][:4]:
        x = _mono_dc(p)
        feats = extractor([x.numpy()], sampling_rate=48000, return_tensors="pt",
                          truncation="rand_trunc", padding="repeatpad")["input_features"]
        ours.append(feats[0, 0].numpy())
        with torch.inference_mode():
            theirs.append(logmel(spec(x[None]))[0, 0].numpy())
    print("CLAP front end (48 kHz log-mel, 64 bands; laion_clap's torchlibrosa setup):")
    print("  log-mel (dB):", _diff(np.stack(ours), np.stack(theirs)))


# --- the audio-visual models ---------------------------------------------------------------

def _video(path: Path, seconds: float) -> Path:
    from lvas.tools.common.ffmpeg import run_ffmpeg

    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


def compare_synchformer(av_root: Path, work: Path) -> None:
    import torch
    import torchaudio
    from av_bench.data.audio_dataset import pad_or_truncate
    from av_bench.synchformer.synchformer import Synchformer, make_class_grid
    from einops import rearrange
    from torchvision.transforms import v2

    from lvas.tools.evaluation.models import desync as ours
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.frames import iter_rgb_frames

    seconds = 6.0
    video = _video(work / "sync.mp4", seconds)
    audio = work / "sync.wav"
    sf.write(audio, _signal(16000, 3, "ref")[: int(seconds * 16000)], 16000, subtype="FLOAT")
    torch.manual_seed(SEED)
    model = Synchformer().eval()
    # first blocks only, shared by both sides (see the module's docstring)
    model.vfeat_extractor.blocks = model.vfeat_extractor.blocks[:1]
    model.afeat_extractor.ast.encoder.layer = model.afeat_extractor.ast.encoder.layer[:1]
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, win_length=400,
                                               hop_length=160, n_fft=1024, n_mels=128)
    encode_audio = _av_function(av_root / "av_bench/extract.py", "encode_audio_with_sync",
                                {"torch": torch, "torchaudio": torchaudio,
                                 "pad_or_truncate": pad_or_truncate, "Synchformer": Synchformer})
    encode_video = _av_function(av_root / "extract_video.py", "encode_video_with_sync",
                                {"torch": torch, "rearrange": rearrange,
                                 "Synchformer": Synchformer})
    transform = v2.Compose([v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC),
                            v2.CenterCrop(224), v2.ToImage(),
                            v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])
    frames = torch.stack([torch.from_numpy(f.copy()).permute(2, 0, 1)
                          for f in iter_rgb_frames(video, 25.0)])[: int(25 * seconds)]
    wav = torch.from_numpy(sf.read(audio, dtype="float32")[0])[: int(16000 * seconds)]
    with torch.inference_mode():
        av_a = encode_audio(model, wav[None], mel)[0]  # (S, ta, D)
        av_v = encode_video(model, transform(frames)[None])[0]  # (S, tv, D)
        grid = make_class_grid(-2, 2, 21)
        av_offsets = [abs(grid[int(torch.argmax(model.compare_v_a(av_v[None, sl], av_a[None, sl]),
                                                  dim=-1)[0])].item())
                      for sl in (slice(None, 14), slice(-14, None))]
    sync = ours.Sync(model, "random-fidelity")
    duration, windows, segments = scores._plan(audio, video)
    a = scores.sync_audio(sync, audio, duration, segments)["features"]
    v = scores.sync_video(sync, video, windows, segments)["features"]
    print(f"Synchformer (DeSync; a {seconds:g} s clip, {av_a.shape[0]} segments, first and "
          "last 14 compared):")
    print("  audio features:", _diff(a, av_a[segments[0]].numpy()))
    print("  video features:", _diff(v, av_v[segments[0]].numpy()))
    ours_offsets = scores.desync_offsets(sync, audio, video)
    print(f"  |offsets| ours {[round(float(x), 3) for x in ours_offsets]}, av-benchmark "
          f"{[round(x, 3) for x in av_offsets]}")
    print(_num("DeSync", float(np.mean(ours_offsets)), float(np.mean(av_offsets))))


def compare_imagebind(av_root: Path, work: Path) -> None:
    import torch
    import torchaudio
    from av_bench.data.audio_dataset import ImageBindAudioDataset
    from av_bench.data.ib_data import SpatialCrop
    from einops import rearrange
    from imagebind.models import imagebind_model
    from imagebind.models.imagebind_model import ModalityType
    from torchvision.transforms import v2

    from lvas.tools.evaluation.models import imagebind as ours
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.frames import iter_rgb_frames

    seconds = 10.0
    video = _video(work / "ib.mp4", seconds)
    audio = work / "ib.wav"
    sf.write(audio, _signal(16000, 5, "gen"), 16000, subtype="FLOAT")
    torch.manual_seed(SEED)
    model = imagebind_model.ImageBindModel(
        vision_embed_dim=64, vision_num_blocks=1, vision_num_heads=4, audio_embed_dim=64,
        audio_num_blocks=1, audio_num_heads=4, out_embed_dim=32, text_embed_dim=64,
        text_num_blocks=1, text_num_heads=4, depth_embed_dim=32, depth_num_blocks=1,
        depth_num_heads=4, thermal_embed_dim=32, thermal_num_blocks=1, thermal_num_heads=4,
        imu_embed_dim=32, imu_num_blocks=1, imu_num_heads=4).eval()
    original_load = torchaudio.load

    def load(path: Any, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        try:
            return original_load(path, *args, **kwargs)
        except Exception:  # torchaudio 2.9+ needs torchcodec; soundfile gives the same floats
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
            return torch.from_numpy(data.T.copy()), rate

    torchaudio.load = load
    try:
        av_audio_in = ImageBindAudioDataset([audio]).load_and_transform_audio_data(audio)
    finally:
        torchaudio.load = original_load
    encode_video = _av_function(av_root / "extract_video.py", "encode_video_with_imagebind",
                                {"torch": torch, "rearrange": rearrange,
                                 "ModalityType": ModalityType,
                                 "imagebind_model": imagebind_model})
    transform = v2.Compose([v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC),
                            v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(mean=list(ours.CLIP_MEAN), std=list(ours.CLIP_STD))])
    frames = torch.stack([torch.from_numpy(f.copy()).permute(2, 0, 1)
                          for f in iter_rgb_frames(video, 0.5)])[: int(0.5 * seconds)]
    ib_video = torch.stack(SpatialCrop(224, 3)([transform(frames)]))[None]
    with torch.inference_mode():
        av_a = model({ModalityType.AUDIO: av_audio_in})[ModalityType.AUDIO][0]
        av_v = encode_video(model, ib_video)[0]
    ib = ours.ImageBind(model, "random-fidelity")
    ours_in = ours.audio_input(sf.read(audio, dtype="float32")[0])
    print("ImageBind (10 s clip; audio: 3 clips of 2 s; video: 5 frames at 0.5 fps, 3 crops):")
    print("  audio input (fbank):", _diff(ours_in.numpy(), av_audio_in.numpy()))
    duration = min(seconds, sf.info(str(audio)).duration)
    ours_a = scores.imagebind_audio(ib, audio, duration)["audio"][0]
    ours_v = scores.imagebind_video(ib, video, [(0.0, seconds)])["video"][0]
    print("  audio embedding:", _diff(ours_a, av_a.numpy()))
    print("  video embedding:", _diff(ours_v, av_v.numpy()))
    av_score = float(torch.cosine_similarity(av_v[None], av_a[None], dim=-1)[0])
    print(_num("IB-score", float(scores.imagebind_cosines(ib, audio, video).mean()), av_score))


def main(argv: list[str] | None = None) -> int:
    global CLIPS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--av-benchmark", default=os.environ.get("AV_BENCHMARK", ""),
                        help="an av-benchmark checkout (the folder holding av_bench/)")
    parser.add_argument("--clips", type=int, default=CLIPS,
                        help=f"clips per set (default {CLIPS}; IS takes 10 splits, so >= 10)")
    parser.add_argument("--only", default="",
                        help="comma-separated subset: panns, vggish, passt, clap, synchformer, "
                             "imagebind")
    args = parser.parse_args(argv)
    CLIPS = max(10, args.clips)
    only = {w.strip().casefold() for w in args.only.split(",") if w.strip()}
    root = Path(args.av_benchmark).expanduser() if args.av_benchmark else None
    if root is not None:
        if not (root / "av_bench").is_dir():
            print(f"{root} holds no av_bench/ folder: pass an av-benchmark checkout")
            return 2
        sys.path.insert(0, str(root))
    try:
        import av_bench.metrics  # noqa: F401
    except ImportError as exc:
        print(f"av-benchmark is not importable ({exc}); pass --av-benchmark PATH or set "
              "AV_BENCHMARK, in an environment with its packages")
        return 2
    import av_bench

    root = Path(av_bench.__file__).resolve().parents[1]  # its scripts are read from here
    with tempfile.TemporaryDirectory(prefix="lvas-fidelity-") as tmp:
        work = Path(tmp)
        os.environ["LVAS_EVAL_CACHE"] = str(work / "cache")
        print(f"{CLIPS} reference and {CLIPS} generated clips of {SECONDS:g} s; "
              f"random weights, seed {SEED}\n")
        sets = {rate: _write_set(work, rate) for rate in (16000, 32000, 48000)}
        steps: list[tuple[str, Callable[[], None]]] = [
            ("PANNs", lambda: compare_panns(work, sets[16000])),
            ("VGGish", lambda: compare_vggish(work, sets[16000])),
            ("PaSST", lambda: compare_passt(work, sets[32000])),
            ("CLAP front end", lambda: compare_clap_front_end(sets[48000])),
            ("Synchformer", lambda: compare_synchformer(root, work)),
            ("ImageBind", lambda: compare_imagebind(root, work)),
        ]
        for name, step in steps:
            if only and name.split()[0].casefold() not in only:
                continue
            try:
                step()
            except ImportError as exc:
                print(f"{name}: not compared here: {exc}")
            except Exception:  # noqa: BLE001 - report and go on with the other models
                print(f"{name}: FAILED")
                traceback.print_exc()
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
