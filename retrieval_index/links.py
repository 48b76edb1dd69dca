"""Link each VGGSound label to its nearest AudioSet classes, so it inherits their descriptions.

VGGSound ships names only. The links are computed once from name-word overlap plus embedding
similarity and stored in ``data/vggsound_audioset_links.json`` (reviewed by hand, then kept as
data), so loading the knowledge base never needs the embedding model. Regenerate with
``python -m retrieval_index.links`` after the vocabularies change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lvas.retrieval_index.knowledge import LINKS_JSON
from lvas.retrieval_index.text import STOPWORDS, stems

_GENERIC = frozenset({"play", "people", "person", "sound", "noise", "calling", "call"})
_NAME_WEIGHT = 0.6  # embedding similarity of the names
_OVERLAP_WEIGHT = 0.4  # share of the VGGSound label's content words found in the AudioSet name
_MAX_LINKS = 2
_SECOND_MARGIN = 0.08  # a second link only when it scores nearly as well as the first


def _content(text: str) -> set[str]:
    words = {w for w in stems(text, drop_stopwords=True) if w not in STOPWORDS}
    return {w for w in words if w not in _GENERIC} or words


def link_scores(vgg: list[str], audioset: list[str], sims: list[list[float]]) -> dict:
    """For each VGGSound name, the best AudioSet names by combined score, best first."""
    out: dict[str, list[tuple[str, float]]] = {}
    as_words = [_content(a) for a in audioset]
    for i, name in enumerate(vgg):
        words = _content(name)
        scored = []
        for j, other in enumerate(audioset):
            overlap = len(words & as_words[j]) / max(1, len(words))
            scored.append((other, _NAME_WEIGHT * sims[i][j] + _OVERLAP_WEIGHT * overlap))
        scored.sort(key=lambda s: -s[1])
        best = scored[0][1]
        out[name] = [(n, round(s, 4)) for n, s in scored[:_MAX_LINKS] if s >= best - _SECOND_MARGIN]
    return out


def compute_links() -> dict[str, list[str]]:
    """VGGSound label -> AudioSet display names (1-2), from names and the packaged model."""
    import numpy as np

    from lvas.retrieval_index.embeddings import get_embedder
    from lvas.retrieval_index.knowledge import DATA_DIR, _load_audioset, _load_vggsound

    vgg = [r.label for r in _load_vggsound(DATA_DIR)]
    aud = [r.label for r in _load_audioset(DATA_DIR)]
    embedder = get_embedder()
    a = np.asarray(embedder.embed(vgg))
    b = np.asarray(embedder.embed(aud))
    scores = link_scores(vgg, aud, (a @ b.T).tolist())
    return {name: [n for n, _ in best] for name, best in scores.items()}


def main() -> None:  # pragma: no cover - a maintenance command
    from lvas.retrieval_index.knowledge import DATA_DIR

    path = DATA_DIR / LINKS_JSON
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    links = compute_links() | old.get("reviewed", {})
    payload = {"about": "VGGSound label -> closest AudioSet classes (see links.py)",
               "links": links, "reviewed": old.get("reviewed", {})}
    tmp = Path(f"{path}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":  # pragma: no cover
    main()
