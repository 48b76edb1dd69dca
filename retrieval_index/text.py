"""Tokenising and light stemming shared by the family rules and the lexical re-ranker.

One stemmer for both keeps "barking" in a query and "bark" in a rule or label comparable.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+")
_KEEP_DOUBLE = frozenset("lsz f".replace(" ", ""))

STOPWORDS = frozenset(
    "a an and the of on in at to with by for from or is are be its it as into onto over under "
    "some sound sounds noise of etc".split()
)


def stem(word: str) -> str:
    """Strip common English suffixes so inflections meet ("raining" -> "rain", "waves" -> "wav")."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if not w.endswith(suffix) or len(w) - len(suffix) < 3:
            continue
        if suffix == "es" and not w[:-2].endswith(("s", "x", "z", "ch", "sh")):
            continue
        if suffix == "s" and w.endswith(("ss", "us", "is")):
            continue
        w = w[: -len(suffix)]
        if suffix in ("ing", "ed") and len(w) > 3 and w[-1] == w[-2] and w[-1] not in _KEEP_DOUBLE:
            w = w[:-1]
        break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``, in order."""
    return _TOKEN.findall(text.lower())


def stems(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Stemmed words of ``text``, optionally without stopwords, in order."""
    words = tokens(text)
    if drop_stopwords:
        words = [w for w in words if w not in STOPWORDS]
    return [stem(w) for w in words]


def contains_phrase(haystack: list[str], phrase: list[str]) -> bool:
    """Whether the stem sequence ``phrase`` occurs contiguously in ``haystack``."""
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return False
    return any(haystack[i : i + n] == phrase for i in range(len(haystack) - n + 1))
