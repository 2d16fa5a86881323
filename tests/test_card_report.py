"""The cards' captions in the HTML report read the config (the report itself: tests/test_card.py's end-to-end
run of `snakemake card --report`)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from ssiuu.config import load_config
from ssiuu.report.registry import CAPTION_DIR, caption_values

ROOT = Path(__file__).parents[1]


def render(caption: str, config: dict) -> str:
    """A caption as Snakemake's report renders it (Jinja, with the rule's params, wildcards and the config)."""
    wildcards = {"benchmark": "wf", "model": "tiny", "method": "mine", "seed": "0"}
    snakemake = type(
        "Snakemake",
        (),
        {"config": config, "params": {"caption": caption_values(config)}, "wildcards": wildcards},
    )
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(caption)
    return template.render(snakemake=snakemake, categories=[], files=[])


@pytest.mark.parametrize("name", ["card.rst", "card_figure.rst"])
def test_the_card_captions_read_the_config(name):
    overrides = {
        "attacks": {"confidence_level": 0.9},
        "card": {"quantization_bits": [6, 3], "group_size": 32, "in_context_k": 5},
    }
    config = load_config(ROOT / "config.yaml", overrides=overrides)
    text = render((ROOT / CAPTION_DIR / name).read_text(), config)
    assert "90 %" in text and "95 %" not in text
    assert "6 and 3" in text and "32" in text and "5 forget QA pairs" in text
    assert "mine" in text and "wf" in text


def test_the_overview_caption_reads_the_config():
    """The overview's caption (rule card_overview: one page per benchmark and model, no method wildcard)."""
    overrides = {
        "attacks": {"confidence_level": 0.9},
        "card": {"quantization_bits": [6, 3], "group_size": 32, "in_context_k": 5},
    }
    config = load_config(ROOT / "config.yaml", overrides=overrides)
    caption = (ROOT / CAPTION_DIR / "card_overview.rst").read_text()
    snakemake = type(
        "Snakemake",
        (),
        {
            "config": config,
            "params": {"caption": caption_values(config)},
            "wildcards": {"benchmark": "wf", "model": "tiny"},
        },
    )
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(caption)
    text = template.render(snakemake=snakemake, categories=[], files=[])
    assert "90 %" in text and "95 %" not in text
    assert "6 and 3" in text and "groups of 32" in text and "5 forget QA pairs" in text
    assert "of tiny on wf" in text
