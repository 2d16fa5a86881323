"""README.md states measured numbers only in its generated results block, and that block quotes the committed
claims: each claim and finding line is a line of results/claims.md, verbatim. Outside the block the README
states no measured result, and the result fields docs/ send a reader to exist in the committed results.
(That the block is what the generator writes now: tests/test_readme.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ssiuu.report.claims import readme

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "results"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def block_lines() -> list[str]:
    """The block's claim lines (``1. **…**``) and finding lines (``   - …``), as written."""
    lines = readme.current_block(README).splitlines()
    return [line for line in lines if re.match(r"\d+\. \*\*|   - ", line)]


def test_the_block_states_every_claim_of_claims_md():
    committed = (RESULTS / "claims.md").read_text().splitlines()
    heads = [line for line in committed if re.match(r"\d+\. \*\*", line)]
    quoted = block_lines()
    assert heads and all(head in quoted for head in heads), (
        "README's block lacks a claim of results/claims.md"
    )
    missing = [line for line in quoted if line not in committed]
    assert not missing, f"README's block states lines that results/claims.md does not: {missing}"


#: what a measured result looks like: an interval, a percentage with decimals, a sample size
MEASURED = {
    "an interval": r"\[-?\d+(\.\d+)?, -?\d+(\.\d+)?\]",
    "a measured percentage": r"\b\d+\.\d+ ?%",
    "a sample size": r"\bn ?= ?\d+",
}


@pytest.mark.parametrize("what", MEASURED)
def test_the_readme_states_no_measured_result_outside_its_block(what: str):
    start, end = README.index(readme.BEGIN), README.index(readme.END)
    outside = README[:start] + README[end:]
    found = re.findall(MEASURED[what], outside)
    assert not found, f"README.md states {what} outside its generated block: {found}; generate it or link it"


def test_the_result_fields_docs_point_to_exist():
    """docs/default.md names where the probe counts, the pre-finetuning scores, US and τ live."""
    text = (ROOT / "docs" / "default.md").read_text()
    split = load(RESULTS / "worldfacts" / "smollm2" / "split.json")["meta"]
    assert {"clusters_before_probe", "clusters_after_probe", "clusters_used"} <= set(split)
    pretrain = load(RESULTS / "fictitious" / "smollm2" / "pretrain.json")
    base = load(RESULTS / "fictitious" / "smollm2" / "base.json")
    for field, holder in [
        ("rouge_l_recall_before", pretrain),
        ("rouge_l_recall_after", pretrain),
        ("US", base),
        ("threshold", base),
    ]:
        assert f"`{field}`" in text and field in holder, f"docs/default.md or the results lack {field}"


#: sentences the README once stated and the results no longer support
STALE = (
    "τ is 0.097",
    "0.15 on all 100 QA",
    "0.456",
    "huggingface-cli",
    "against 100 % for the attacked starting model",
    "SSIUU has the lowest harmful scores",
    "both attacks recover most FS",
    "tried in session",
)


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_stale_statements_are_gone(page: Path):
    text = page.read_text()
    for stale in STALE:
        assert stale not in text, f"{page.name} still says {stale!r}"
