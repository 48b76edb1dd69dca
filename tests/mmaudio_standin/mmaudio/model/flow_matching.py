"""Stand-in for MMAudio's flow-matching sampler: plain Euler steps from t=0 to t=1."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mmaudio._standin import RECORD


class FlowMatching:
    def __init__(self, min_sigma: float = 0.0, inference_mode="euler", num_steps: int = 25):
        assert inference_mode in ("euler", "adaptive")
        self.min_sigma = min_sigma
        self.inference_mode = inference_mode
        self.num_steps = num_steps

    def to_data(self, fn: Callable, x0: torch.Tensor) -> torch.Tensor:
        RECORD.flow_steps.append(self.num_steps)
        times = torch.linspace(0, 1 - self.min_sigma, self.num_steps + 1)
        x = x0
        for t, t_next in zip(times[:-1], times[1:], strict=True):
            x = x + (t_next - t) * fn(t, x)
        return x
