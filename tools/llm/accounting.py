"""What a run's model calls cost: calls, tokens, latency and money per role.

Prices are the user's (dollars per million tokens in and out), since they depend on the
provider and change often; with none given, no money figure is claimed. Cached replies cost
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def summarize_usage(
    records: Iterable[dict[str, Any]], *, price_in: float = 0.0, price_out: float = 0.0
) -> dict[str, Any]:
    """Totals per role and overall from the usage records of every model call; with prices
    (dollars per million tokens), a ``cost_usd`` per role and in total."""
    priced = price_in > 0 or price_out > 0
    roles: dict[str, dict[str, float]] = {}
    for record in records:
        role = roles.setdefault(record.get("role", "?"), {
            "calls": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0,
            **({"cost_usd": 0.0} if priced else {})})
        cached = bool(record.get("cached"))
        tokens_in = int(record.get("tokens_in") or 0)
        tokens_out = int(record.get("tokens_out") or 0)
        role["calls"] += 1
        role["cached"] += int(cached)
        role["tokens_in"] += tokens_in
        role["tokens_out"] += tokens_out
        role["latency_s"] = round(role["latency_s"] + float(record.get("latency_s") or 0.0), 3)
        if priced and not cached:
            role["cost_usd"] += (tokens_in * price_in + tokens_out * price_out) / 1e6
    keys = ["calls", "cached", "tokens_in", "tokens_out", "latency_s"]
    keys += ["cost_usd"] if priced else []
    total = {key: sum(r[key] for r in roles.values()) for key in keys}
    total["latency_s"] = round(total["latency_s"], 3)
    for entry in (*roles.values(), total):
        if "cost_usd" in entry:
            entry["cost_usd"] = round(entry["cost_usd"], 6)
    return {"roles": roles, "total": total}


def format_usage(summary: dict[str, Any]) -> list[str]:
    """Human lines for the end of a run."""
    def line(name: str, r: dict[str, Any]) -> str:
        cost = f", ${r['cost_usd']:.4f}" if "cost_usd" in r else ""
        return (f"  {name:<13} {r['calls']:4d} call(s) ({r['cached']} cached), "
                f"{r['tokens_in']} tokens in, {r['tokens_out']} out, {r['latency_s']:.1f} s{cost}")

    return [line(role, r) for role, r in sorted(summary["roles"].items())] + [
        line("total", summary["total"])]
