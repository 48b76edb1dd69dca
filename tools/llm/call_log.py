"""What one node's model calls cost and what went wrong with them.

Kept apart from :mod:`lvas.tools.llm.chat` so that every node can keep a log without importing the
chat client (openai and langchain-openai, about 0.7 s), which the offline planner never uses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallLog:
    """Usage and warnings of one node invocation; safe to share between worker threads."""

    usage: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def add_usage(self, role: str, model: str, *, tokens_in: int = 0, tokens_out: int = 0,
                  latency_s: float = 0.0, cached: bool = False, attempts: int = 1,
                  method: str | None = None, ok: bool = True) -> None:
        """Record one structured call (all its attempts) for the run's accounting."""
        entry = {"role": role, "model": model, "tokens_in": int(tokens_in),
                 "tokens_out": int(tokens_out), "latency_s": round(float(latency_s), 4),
                 "cached": bool(cached), "attempts": int(attempts), "method": method,
                 "ok": bool(ok)}
        with self._lock:
            self.usage.append(entry)

    def warn(self, msg: str) -> None:
        """Record something the user should know about (a fallback, a dropped feature)."""
        with self._lock:
            self.warnings.append(msg)

    def as_dict(self) -> dict[str, list[Any]]:
        """Plain copy for state and JSON."""
        with self._lock:
            return {"usage": [dict(u) for u in self.usage], "warnings": list(self.warnings)}

    def __getstate__(self) -> dict[str, Any]:
        return {"usage": self.usage, "warnings": self.warnings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.usage = state["usage"]
        self.warnings = state["warnings"]
        self._lock = threading.Lock()
