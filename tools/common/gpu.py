"""Whether a CUDA GPU can be there at all, answered without importing torch where it cannot.

Importing torch costs one to two seconds. ``lvas doctor`` and the ``auto`` choice of backend
ask about CUDA on every machine, and on most machines without a GPU the answer can be read from
the system: torch needs the NVIDIA driver (or ROCm's, whose torch also answers through
``torch.cuda``), and a machine without any of their traces cannot have a device torch sees.
"""

from __future__ import annotations

import shutil
import sys
from functools import cache
from pathlib import Path

# Traces of a GPU driver torch could use: the NVIDIA kernel driver, WSL's GPU bridge (it has no
# /proc/driver/nvidia), ROCm's kernel driver.
_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg", "/dev/kfd")


@cache
def gpu_driver_present() -> bool:
    """False only where no CUDA (or ROCm) device can exist: macOS, or Linux with no driver.

    True means "ask torch"; elsewhere (Windows, unknown systems) it is always True.
    """
    if sys.platform == "darwin":
        return False
    if not sys.platform.startswith("linux"):
        return True
    return any(Path(p).exists() for p in _DRIVER_PATHS) or shutil.which("nvidia-smi") is not None


def cuda_available() -> bool:
    """``torch.cuda.is_available()``, importing torch only where a driver could serve it."""
    if not gpu_driver_present():
        return False
    import torch

    return bool(torch.cuda.is_available())
