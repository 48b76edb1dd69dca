"""Ablation plans in the researchers' form: bare Markdown, wrapped in HTML, YAML and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvas.tools.ablation.plan import Ablation, parse_plan, read_plan
from lvas.tools.common.errors import LVASInputError

PLAN = """\
### Ablation 1: Remove Discussion-Correction
- **Ablated Part**: discussion and correction between the Storyboarder and the Scriptwriter
- **Action**: REMOVE
- **Metrics**: FD, KL, DeSync, coherence

### Ablation 2: Replace Scene Segmentation
- **Ablated Part**: semantic scene segmentation by the Storyboarder
- **Action**: REPLACE
- **Replacement**:
  - fixed 10-second chunks
  - one scene for the whole video
- **Metrics**: FD, IB-score, DeSync
"""

EXPECTED = [
    Ablation(name="Remove Discussion-Correction",
             part="discussion and correction between the Storyboarder and the Scriptwriter",
             action="REMOVE", metrics=("FD", "KL", "DeSync", "coherence")),
    Ablation(name="Replace Scene Segmentation",
             part="semantic scene segmentation by the Storyboarder", action="REPLACE",
             replacements=("fixed 10-second chunks", "one scene for the whole video"),
             metrics=("FD", "IB-score", "DeSync")),
]

RENDERED_HTML = """\
<html><body>
<h2>Reasoning</h2>
<p>The two loops are the method's novelty, so we test whether each earns its place.</p>
<ul><li>Scene segmentation decides what each description covers.</li></ul>
<h2>Ablation plan</h2>
<h3>Ablation 1: Remove Discussion-Correction</h3>
<ul>
  <li><strong>Ablated Part</strong>: discussion and correction between the Storyboarder
      and the Scriptwriter</li>
  <li><strong>Action</strong>: REMOVE</li>
  <li><strong>Metrics</strong>: FD, KL, DeSync, coherence</li>
</ul>
<h3>Ablation 2: Replace Scene Segmentation</h3>
<ul>
  <li><strong>Ablated Part:</strong> semantic scene segmentation by the Storyboarder</li>
  <li><strong>Action:</strong> REPLACE</li>
  <li><strong>Replacement</strong>:
    <ul><li>fixed 10-second chunks</li><li>one scene for the whole video</li></ul>
  </li>
  <li><strong>Metrics</strong>: FD, IB-score, DeSync</li>
</ul>
</body></html>
"""


def test_the_bare_markdown_form() -> None:
    assert parse_plan(PLAN) == EXPECTED


def test_rendered_html_after_a_reasoning_section() -> None:
    assert parse_plan(RENDERED_HTML) == EXPECTED


def test_markdown_inside_html_with_entities() -> None:
    wrapped = ("<div class='answer'><p>Reasoning: the loops &amp; segmentation matter.</p>"
               f"<pre>{PLAN}</pre></div>")
    assert parse_plan(wrapped) == EXPECTED


def test_yaml_and_json_with_the_same_fields(tmp_path: Path) -> None:
    as_fields = [
        {"name": a.name, "ablated_part": a.part, "action": a.action.lower(),
         "replacement": list(a.replacements), "metrics": ", ".join(a.metrics)}
        for a in EXPECTED
    ]
    as_fields[0].pop("replacement")
    for item in as_fields:  # metrics as a list in structured plans
        item["metrics"] = [m.strip() for m in str(item["metrics"]).split(",")]
    import yaml

    (tmp_path / "plan.yaml").write_text(yaml.safe_dump({"ablations": as_fields}))
    (tmp_path / "plan.json").write_text(json.dumps(as_fields))
    assert read_plan(tmp_path / "plan.yaml") == EXPECTED
    assert read_plan(tmp_path / "plan.json") == EXPECTED


def test_other_wording_and_layout() -> None:
    plan = """\
## Ablation A — Label retrieval
* **Ablated Component:** retrieval of sound labels from the knowledge base
* **Action:** replace
* **Replacements:**
    * the designer's own description as the prompt
    * a random label
* **Metrics:** CLAP; FAD
"""
    (ablation,) = parse_plan(plan)
    assert ablation.part == "retrieval of sound labels from the knowledge base"
    assert ablation.action == "REPLACE"
    assert ablation.replacements == ("the designer's own description as the prompt",
                                     "a random label")
    assert ablation.metrics == ("CLAP", "FAD")
    assert ablation.name == "Label retrieval"


@pytest.mark.parametrize(("plan", "message"), [
    ("Some thoughts, and no plan at all.", "No ablation found"),
    ("### A\n- **Action**: REMOVE\n- **Metrics**: FD\n", "no '\\*\\*Ablated Part\\*\\*'"),
    ("### A\n- **Ablated Part**: ducking\n- **Action**: TWEAK\n", "REMOVE.*REPLACE"),
    ("### A\n- **Ablated Part**: ducking\n- **Action**: REPLACE\n", "without replacements"),
])
def test_bad_plans_say_what_to_write(plan: str, message: str) -> None:
    with pytest.raises(LVASInputError, match=message):
        parse_plan(plan)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="does not exist"):
        read_plan(tmp_path / "nope.md")
