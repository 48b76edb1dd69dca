"""Stand-in for MMAudio's weight downloader: records the request and writes a tiny file."""

from __future__ import annotations

from pathlib import Path

import torch

from mmaudio._standin import RECORD

KNOWN = {
    "mmaudio_small_16k.pth", "mmaudio_small_44k.pth", "mmaudio_medium_44k.pth",
    "mmaudio_large_44k.pth", "mmaudio_large_44k_v2.pth", "v1-16.pth", "best_netG.pt",
    "v1-44.pth", "synchformer_state_dict.pth",
}


def download_model_if_needed(model_path: Path):
    """Like MMAudio's: only names it knows, parent folders made, the file then exists."""
    if model_path.name not in KNOWN:
        raise ValueError(f"No link found for {model_path.name}")
    RECORD.downloads.append(str(model_path))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    if not model_path.exists():
        if model_path.name.startswith("mmaudio_"):
            from mmaudio.model.networks import _build

            state = _build(model_path.stem[len("mmaudio_"):]).state_dict()
        else:
            state = {"stand-in": torch.zeros(1)}
        torch.save(state, model_path)
