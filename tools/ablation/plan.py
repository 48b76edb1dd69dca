"""Ablation plans as researchers write them: Markdown (bare or wrapped in HTML), YAML or JSON.

A plan is a list of ablations, each with an ablated part, an action (REMOVE or REPLACE), the
replacements a REPLACE tries, and the metrics to report::

    ### Ablation 2: Replace Scene Segmentation
    - **Ablated Part**: semantic scene segmentation by the Storyboarder
    - **Action**: REPLACE
    - **Replacement**:
      - fixed 10-second chunks
      - one scene for the whole video
    - **Metrics**: FD, IB-score, DeSync

Tools that write such plans often wrap them in HTML (rendered Markdown, or Markdown inside
``<pre>``) after a reasoning section; headings without the fields above are skipped. The same
fields may come as YAML or JSON (a list, or ``{"ablations": [...]}``). This module only reads
the plan; mapping parts, replacements and metrics onto LVAS's registries is done elsewhere.
Problems are :class:`LVASInputError` s that name the ablation and what to write instead.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from lvas.tools.common.errors import LVASInputError

Action = Literal["REMOVE", "REPLACE"]
ACTIONS: tuple[Action, ...] = ("REMOVE", "REPLACE")
FIELDS = {"ablated part": "part", "ablated component": "part", "component": "part",
          "part": "part", "action": "action", "replacement": "replacements",
          "replacements": "replacements", "metric": "metrics", "metrics": "metrics"}
"""Field names as written (lower case, spaces for ``_``/``-``) -> the plan's attribute."""

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_FIELD = re.compile(r"^(\s*)[-*+]\s+\*\*\s*([A-Za-z][A-Za-z _-]*?)\s*:?\s*\*\*\s*:?\s*(.*)$")
_ITEM = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ORDINAL = re.compile(r"^ablation\s*\w{0,3}\s*[:.\-\u2013\u2014]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Ablation:
    """One ablation of a plan, as written (names are mapped onto registries later)."""

    name: str
    part: str
    action: Action
    replacements: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "part": self.part, "action": self.action,
                "replacements": list(self.replacements), "metrics": list(self.metrics)}


@dataclass
class _Draft:
    name: str
    values: dict[str, list[str]] = field(default_factory=dict)


def read_plan(path: str | Path) -> list[Ablation]:
    """The ablations of the plan file at ``path`` (Markdown, HTML, YAML or JSON)."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise LVASInputError(f"Ablation plan {source} does not exist or is not a file.")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LVASInputError(f"Ablation plan {source} is not UTF-8 text.") from None
    return parse_plan(text, source=str(source))


def parse_plan(text: str, *, source: str = "the plan") -> list[Ablation]:
    """Parse a plan's text, whatever its form; at least one ablation must be found."""
    structured = _structured(text)
    if structured is not None:
        ablations = [_from_mapping(item, i, source) for i, item in enumerate(structured, 1)]
    else:
        ablations = _from_markdown(_html_to_markdown(text) if _looks_like_html(text) else text,
                                   source)
    if not ablations:
        raise LVASInputError(
            f"No ablation found in {source}. Write each as a heading ('### Ablation 1: ...') "
            "followed by '- **Ablated Part**: ...', '- **Action**: REMOVE or REPLACE', "
            "'- **Replacement**:' (a list, for REPLACE) and '- **Metrics**: ...', or the same "
            "fields in YAML/JSON."
        )
    return ablations


# --- structured (YAML / JSON) -----------------------------------------------------------------


def _structured(text: str) -> list[Any] | None:
    """The list of ablations when the text is YAML/JSON holding them, else None."""
    stripped = text.lstrip()
    if not stripped or stripped.startswith(("<", "#")) or "**" in text:
        return None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict):
        for key in ("ablations", "Ablations", "plan", "ablation_plan"):
            if isinstance(data.get(key), list):
                return list(data[key])
        if any(_field_name(k) for k in data):
            return [data]
        return None
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    return None


def _field_name(key: Any) -> str | None:
    return FIELDS.get(re.sub(r"[_\-\s]+", " ", str(key)).strip().lower())


def _from_mapping(item: Any, number: int, source: str) -> Ablation:
    if not isinstance(item, dict):
        raise LVASInputError(f"Ablation {number} in {source} must be a mapping of fields.")
    draft = _Draft(str(item.get("name") or item.get("title") or f"Ablation {number}"))
    for key, value in item.items():
        name = _field_name(key)
        if name is None:
            continue
        values = value if isinstance(value, list) else [value]
        draft.values[name] = [str(v).strip() for v in values if v is not None and str(v).strip()]
    return _finish(draft, source)


# --- Markdown, bare or from HTML ------------------------------------------------------------


def _from_markdown(text: str, source: str) -> list[Ablation]:
    drafts: list[_Draft] = []
    current: _Draft | None = None
    open_field: tuple[str, int] | None = None  # a field whose list items follow
    for raw in text.splitlines():
        line = raw.rstrip()
        heading = _HEADING.match(line)
        if heading:
            current = _Draft(_clean(heading.group(2)))
            drafts.append(current)
            open_field = None
            continue
        matched = _FIELD.match(line)
        name = _field_name(matched.group(2)) if matched else None
        if matched and name:
            if current is None:
                current = _Draft(f"Ablation {len(drafts) + 1}")
                drafts.append(current)
            if name == "part" and "part" in current.values:  # a second plan without a heading
                current = _Draft(f"Ablation {len(drafts) + 1}")
                drafts.append(current)
            inline = _clean(matched.group(3))
            current.values[name] = _split_inline(name, inline)
            open_field = (name, len(matched.group(1).expandtabs(4)))
            continue
        item = _ITEM.match(line)
        if item and open_field and current is not None:
            indent = len(item.group(1).expandtabs(4))
            if indent > open_field[1]:
                current.values[open_field[0]].extend(_split_inline(open_field[0],
                                                                   _clean(item.group(2))))
                continue
        if line.strip():
            open_field = None
    return [_finish(d, source) for d in drafts if d.values]


def _split_inline(name: str, text: str) -> list[str]:
    """A field's inline value: metrics are comma- or semicolon-separated, others one value."""
    if not text:
        return []
    if name == "metrics":
        return [m.strip() for m in re.split(r"[,;]", text) if m.strip()]
    return [text]


def _clean(text: str) -> str:
    """Plain words: no emphasis markers or code ticks, runs of spaces as one."""
    return " ".join(re.sub(r"\*{1,3}|_{2,3}|`", "", text).split())


def _finish(draft: _Draft, source: str) -> Ablation:
    name = _ORDINAL.sub("", draft.name).strip() or draft.name
    where = f"ablation {draft.name!r} in {source}"
    parts = draft.values.get("part") or []
    if not parts:
        raise LVASInputError(f"The {where} has no '**Ablated Part**': name the part of LVAS "
                             "it removes or replaces.")
    actions = draft.values.get("action") or []
    action = actions[0].strip().upper().rstrip(".") if actions else ""
    action = {"REPLACEMENT": "REPLACE", "REMOVAL": "REMOVE", "DELETE": "REMOVE",
              "DROP": "REMOVE", "SUBSTITUTE": "REPLACE", "SWAP": "REPLACE"}.get(action, action)
    if action not in ACTIONS:
        raise LVASInputError(f"The {where} has action {actions[0] if actions else 'none'!r}; "
                             "write '**Action**: REMOVE' or '**Action**: REPLACE'.")
    replacements = tuple(r for r in draft.values.get("replacements", []) if r)
    if action == "REPLACE" and not replacements:
        raise LVASInputError(f"The {where} is a REPLACE without replacements; list them under "
                             "'- **Replacement**:'.")
    metrics = tuple(dict.fromkeys(m for m in draft.values.get("metrics", []) if m))
    return Ablation(name=name, part=" ".join(parts), action=action,
                    replacements=replacements if action == "REPLACE" else (),
                    metrics=metrics)


def _looks_like_html(text: str) -> bool:
    return bool(re.search(r"<\s*(html|body|div|p|h[1-6]|ul|li|pre|section|article)\b", text,
                          re.IGNORECASE))


class _MarkdownWriter(HTMLParser):
    """Rendered HTML back to the Markdown the parser reads: headings, nested lists, bold."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.out.append("\n" + "#" * int(tag[1]) + " ")
        elif tag in ("ul", "ol"):
            self.depth += 1
        elif tag == "li":
            self.out.append("\n" + "  " * max(self.depth - 1, 0) + "- ")
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("p", "div", "br", "pre", "section", "article", "tr"):
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol"):
            self.depth = max(self.depth - 1, 0)
            self.out.append("\n")
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "pre", "li"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        # Inside a list, line breaks of the HTML source are not Markdown structure.
        self.out.append(data.replace("\n", " ") if self.depth else data)


def _html_to_markdown(text: str) -> str:
    writer = _MarkdownWriter()
    writer.feed(text)
    writer.close()
    lines = [line.rstrip() for line in html.unescape("".join(writer.out)).splitlines()]
    return "\n".join(lines)
