"""Fault injection: make a chosen node fail for a chosen video, to test how failures are kept
apart.

``LVAS_FAILPOINTS`` (read here, not through ``Context``: it is a test harness, not a setting)
holds comma-separated rules ``NODE[@MATCH]=ACTION``: the node ``NODE`` (``mixer``,
``storyboarder``, ``generate_clip``…; ``*`` for any) fails when the run's video path contains
``MATCH`` (any video when omitted). ``ACTION`` is ``raise`` (the node raises, as a bug would)
or ``exit`` (the process dies at once with status 137, as a worker killed by the system
would). With ``LVAS_FAILPOINTS_ONCE`` set to a folder, each rule fires once per video and
marks it there (a retried worker then gets through). Unset, nothing is checked beyond one
environment lookup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lvas.tools.common.paths import content_hash

ENV = "LVAS_FAILPOINTS"
ONCE_ENV = "LVAS_FAILPOINTS_ONCE"
ACTIONS = ("raise", "exit")


class InjectedFault(RuntimeError):
    """The failure a ``raise`` rule injects."""


@dataclass(frozen=True)
class FailRule:
    node: str
    match: str
    action: str


def parse_rules(text: str) -> list[FailRule]:
    """The rules of an ``LVAS_FAILPOINTS`` value; a malformed rule is an error, never ignored."""
    rules = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        target, sep, action = part.partition("=")
        node, _, match = target.partition("@")
        if not sep or not node.strip() or action.strip() not in ACTIONS:
            raise ValueError(f"{ENV}: {part!r} is not NODE[@MATCH]=raise|exit")
        rules.append(FailRule(node.strip(), match.strip(), action.strip()))
    return rules


def check(node: str, video: str | None) -> None:
    """Fail here if a rule names ``node`` and ``video``."""
    text = os.environ.get(ENV)
    if not text:
        return
    for rule in parse_rules(text):
        if rule.node not in ("*", node) or (rule.match and rule.match not in (video or "")):
            continue
        once = os.environ.get(ONCE_ENV)
        if once and not _first_time(Path(once), rule, video or ""):
            continue
        if rule.action == "exit":
            os._exit(137)
        raise InjectedFault(f"injected fault in {node} ({ENV})")


def _first_time(folder: Path, rule: FailRule, video: str) -> bool:
    """Mark the rule as fired for ``video``; False when it had fired already."""
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / f"{content_hash(rule.node, rule.match, rule.action, video)}.fired"
    try:
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
