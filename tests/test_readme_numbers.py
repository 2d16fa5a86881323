"""The numbers README.md quotes from results/ are the numbers in results/: Tables 1-2 verbatim, τ, the
pre-finetuning scores and the split sizes. A quote that changes wording must keep a check here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "results"
FICTITIOUS = RESULTS / "fictitious" / "smollm2"
WORLDFACTS = RESULTS / "worldfacts" / "smollm2"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def readme_match(pattern: str) -> re.Match:
    m = re.search(pattern, README)
    assert m, f"README.md no longer contains /{pattern}/: update the quote's check in {Path(__file__).name}"
    return m


#: the generated Markdown files the README quotes whole, under their own heading one level down
QUOTED = [
    *(f"tables/table{n}{suffix}.md" for n in (1, 2) for suffix in ("", "_recovery", "_ssiuu_vs")),
    "claims.md",
]


@pytest.mark.parametrize("name", QUOTED)
def test_readme_quotes_each_generated_table_and_the_claims_verbatim(name: str):
    committed = (RESULTS / name).read_text().rstrip("\n")
    heading, _, body = committed.partition("\n")
    assert heading.startswith("# "), f"results/{name} must start with a '# ' heading"
    start = README.find(f"\n##{heading}\n")
    assert start >= 0, f"README.md does not quote results/{name} (no heading '##{heading}')"
    quoted = README[start + 1 :]
    assert quoted.startswith(f"##{heading}\n{body}\n"), (
        f"README's copy of results/{name} differs from the file"
    )


def test_tau_is_the_threshold_in_base_json():
    tau = load(FICTITIOUS / "base.json")["threshold"]
    assert readme_match(r"τ is (\d\.\d+)").group(1) == f"{tau:.3f}"
    assert readme_match(r"τ = (\d+\.\d+)").group(1) == f"{100 * tau:.1f}"  # in percent, as in Table 2


def test_pre_finetuning_scores_are_those_of_pretrain_json():
    pre = load(FICTITIOUS / "pretrain.json")
    before, after = pre["rouge_l_recall_before"], pre["rouge_l_recall_after"]
    quoted = readme_match(r"before (\d\.\d+) / (\d\.\d+), after \*\*(\d\.\d+) / (\d\.\d+)\*\*").groups()
    values = (before["forget"], before["retain_sample"], after["forget"], after["retain_sample"])
    assert quoted == tuple(f"{v:.3f}" for v in values)
    m = readme_match(r"scores (\d\.\d+) on the forget authors? and (\d\.\d+) on (\d+) retain items")
    assert m.groups()[:2] == (f"{before['forget']:.3f}", f"{before['retain_sample']:.3f}")
    n_retain = len(load(FICTITIOUS / "base.json")["per_item"]["retain"])
    assert int(m.group(3)) == n_retain
    recipe = readme_match(r"at lr (\S+), batch \d+,\s+(\d+) epochs \((\d+) updates\)").groups()
    assert (float(recipe[0]), int(recipe[1]), int(recipe[2])) == (pre["lr"], pre["epochs"], pre["steps"])


def test_fictitious_utility_is_the_us_of_base_json():
    us = load(FICTITIOUS / "base.json")["US"]
    assert readme_match(r"world-facts sets\) is \*\*(\d\.\d+)\*\*").group(1) == f"{us:.3f}"


def test_worldfacts_probe_counts_are_those_of_split_json():
    meta = load(WORLDFACTS / "split.json")["meta"]
    kept, total = map(int, readme_match(r"\((\d+) of (\d+) for SmolLM2\), then (\d+)").groups()[:2])
    used = int(readme_match(r"for SmolLM2\), then (\d+) are split").group(1))
    assert (kept, total, used) == (
        meta["clusters_after_probe"],
        meta["clusters_before_probe"],
        meta["clusters_used"],
    )


def test_stale_statements_are_gone():
    for stale in ("τ is 0.097", "0.15 on all 100 QA", "0.456", "huggingface-cli"):
        assert stale not in README, f"README.md still says {stale!r}"
