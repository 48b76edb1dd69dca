"""Plans that ship with LVAS, written in the form researchers use, so they can be read and edited.

``paper-table-1`` reproduces the rows of the LVAS-Agent paper's main table (arXiv 2503.10719,
Table 1) on the user's own videos: LVAS in full against the paper's baseline, MMAudio on fixed
10-second chunks without agents, over the paper's columns (FD over VGGish, PANNs and PaSST; KL
and IS over PANNs and PaSST; ImageBind score; DeSync) and LVAS's weight-free long-video metrics.
With MMAudio and the evaluation weights on a GPU machine the model columns are filled; elsewhere
they say what they need and the weight-free columns run.
"""

from __future__ import annotations

from lvas.tools.common.errors import LVASInputError

PAPER_TABLE_1 = """\
# LVAS-Agent, Table 1: LVAS in full against MMAudio on fixed 10-second chunks

The paper (arXiv 2503.10719) reports, on its LVAS-Bench: MMAudio on 10 s chunks FD_VGG 9.48,
FD_PANN 51.73, FD_PaSST 588.24, KL_PANNs 2.02, KL_PaSST 1.80, IS_PANNs 3.91, IS_PaSST 3.05,
IB 0.33, DeSync 0.61; LVAS-Agent 5.76, 46.16, 573.67, 1.86, 1.77, 4.28, 3.50, 0.33, 0.53.

### Ablation 1: MMAudio baseline on fixed 10-second chunks
- **Ablated Part**: the multi-agent pipeline (LVAS-Agent)
- **Action**: REPLACE
- **Replacement**:
  - MMAudio baseline on fixed 10-second chunks without agents
- **Metrics**: FD_VGG, FD_PANN, FD_PaSST, KL_PANNs, KL_PaSST, IS_PANNs, IS_PaSST, IB-score, \
DeSync, sync, seams, dropouts, fd-logmel, loudness
"""

PRESETS: dict[str, str] = {"paper-table-1": PAPER_TABLE_1}


def preset_plan(name: str) -> str:
    """The text of the preset plan ``name``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise LVASInputError(f"Unknown preset {name!r}; presets: {', '.join(PRESETS)}.") from None
