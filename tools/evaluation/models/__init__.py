"""The field's model-based metrics, computed as av-benchmark computes them.

FD over VGGish, PANNs and PaSST embeddings, KL and IS over PANNs and PaSST class outputs,
the ImageBind score, DeSync (Synchformer) and the LAION-CLAP score, each over the 10 s
windows of a long soundtrack, with its per-file features cached. ``MODEL_METRICS`` holds their
registry entries; ``expand_family`` turns "FD", "KL" or "IS" into the paper's columns.
Importing this package imports no torch and no model package.
"""

from lvas.tools.evaluation.models.catalog import (
    FAMILIES,
    MODEL_METRICS,
    expand_family,
    family_names,
    get_model_metric,
)

__all__ = ["FAMILIES", "MODEL_METRICS", "expand_family", "family_names", "get_model_metric"]
