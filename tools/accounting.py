"""What a run's model calls cost: calls, tokens and latency per role."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def summarize_usage(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals per role and overall from the usage records of every model call."""
    roles: dict[str, dict[str, float]] = {}
    for record in records:
        role = roles.setdefault(record.get("role", "?"), {
            "calls": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0})
        role["calls"] += 1
        role["cached"] += int(bool(record.get("cached")))
        role["tokens_in"] += int(record.get("tokens_in") or 0)
        role["tokens_out"] += int(record.get("tokens_out") or 0)
        role["latency_s"] = round(role["latency_s"] + float(record.get("latency_s") or 0.0), 3)
    total = {key: sum(r[key] for r in roles.values())
             for key in ("calls", "cached", "tokens_in", "tokens_out", "latency_s")}
    total["latency_s"] = round(total["latency_s"], 3)
    return {"roles": roles, "total": total}


def format_usage(summary: dict[str, Any]) -> list[str]:
    """Human lines for the end of a run."""
    lines = []
    for role, r in sorted(summary["roles"].items()):
        lines.append(f"  {role:<13} {r['calls']:4d} call(s) ({r['cached']} cached), "
                     f"{r['tokens_in']} tokens in, {r['tokens_out']} out, "
                     f"{r['latency_s']:.1f} s")
    t = summary["total"]
    lines.append(f"  {'total':<13} {t['calls']:4d} call(s) ({t['cached']} cached), "
                 f"{t['tokens_in']} tokens in, {t['tokens_out']} out, {t['latency_s']:.1f} s")
    return lines
