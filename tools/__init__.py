"""The work itself, free of LangGraph, one subpackage per pipeline stage.

``common`` (errors, paths, ffmpeg) -> ``video`` -> ``planning`` (with ``llm``) -> ``generation``
-> ``audio`` -> ``delivery`` -> ``reporting``. A stage may import ``common`` and the stages
before it; nodes in ``lvas.nodes`` call these tools and write what they return into state.
"""
