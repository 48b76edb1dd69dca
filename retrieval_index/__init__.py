"""Sound-label knowledge base and retrieval over a persistent Chroma collection.

Imports are light: the embedding model and Chroma load only when an index is built (or first
opened after a change); a search loads the saved label views and the model's ONNX export.
"""

from lvas.retrieval_index.knowledge import LabelRecord, load_knowledge_base
from lvas.retrieval_index.retriever import LabelHit, LabelIndex
from lvas.retrieval_index.store import (
    IndexInfo,
    build_index,
    default_cache_dir,
    default_index,
    index_loads,
    open_index,
)

__all__ = [
    "IndexInfo",
    "LabelHit",
    "LabelIndex",
    "LabelRecord",
    "build_index",
    "default_cache_dir",
    "default_index",
    "index_loads",
    "load_knowledge_base",
    "open_index",
]
