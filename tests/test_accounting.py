"""Model-call accounting: tokens, latency and, with the user's prices, money per role."""

from __future__ import annotations

import pytest

from lvas.tools.llm.accounting import format_usage, summarize_usage

RECORDS = [
    {"role": "scriptwriter", "tokens_in": 1000, "tokens_out": 200, "latency_s": 1.5},
    {"role": "scriptwriter", "tokens_in": 1000, "tokens_out": 200, "latency_s": 0.0,
     "cached": True},
    {"role": "designer", "tokens_in": 3000, "tokens_out": 500, "latency_s": 2.25},
]


def test_totals_per_role_without_prices_claim_no_cost():
    summary = summarize_usage(RECORDS)
    assert summary["roles"]["scriptwriter"]["calls"] == 2
    assert summary["roles"]["scriptwriter"]["cached"] == 1
    assert summary["total"]["tokens_in"] == 5000 and summary["total"]["latency_s"] == 3.75
    assert "cost_usd" not in summary["total"]
    assert "$" not in "".join(format_usage(summary))


def test_prices_give_cost_and_cached_replies_are_free():
    summary = summarize_usage(RECORDS, price_in=2.5, price_out=10.0)
    assert summary["roles"]["scriptwriter"]["cost_usd"] == pytest.approx(0.0045)
    assert summary["roles"]["designer"]["cost_usd"] == pytest.approx(0.0125)
    assert summary["total"]["cost_usd"] == pytest.approx(0.017)
    assert format_usage(summary)[-1].endswith("$0.0170")


def test_context_reads_prices_from_the_environment(monkeypatch):
    from lvas.graph.context import Context

    monkeypatch.setenv("LVAS_LLM_PRICE_IN", "0.15")
    monkeypatch.setenv("LVAS_LLM_PRICE_OUT", "0.6")
    assert Context().usage_prices() == {"price_in": 0.15, "price_out": 0.6}
