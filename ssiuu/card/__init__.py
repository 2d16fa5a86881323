"""The erase-or-hide report card: hidden-knowledge tests on one unlearned checkpoint, beside the controls.

Each test scores the forget items one by one, so the card gives every score with n and an interval:

* ``plain``: no attack, the forget score and margin as the final evaluation reads them;
* ``quantized_<b>bit``: weight-only round-to-nearest quantization to b bits (:mod:`ssiuu.card.quantize`);
* ``in_context``: k forget QA pairs in the prompt, the other forget items scored (:mod:`ssiuu.card.in_context`);
* ``probe``: a linear probe on the hidden states, trained on the retain and test items (:mod:`ssiuu.card.probe`);
* ``logit_lens``: the share of layers whose logit lens reads the gold answer right (:mod:`ssiuu.card.lens`).

:mod:`ssiuu.card.run` runs them on one model (rule ``card_tests``), :mod:`ssiuu.card.render` writes the card and
:mod:`ssiuu.card.figure` its figure (rule ``card_page``), :mod:`ssiuu.card.overview` every card of one benchmark
and model at a glance (rule ``card_overview``), :mod:`ssiuu.card.checkpoints` checks the checkpoints a config
brings. This module imports nothing heavy, so the rules can read the test names.
"""

from __future__ import annotations

from typing import Any

PLAIN, IN_CONTEXT, PROBE, LENS = "plain", "in_context", "probe", "logit_lens"


def quantized_test(bits: int) -> str:
    """The name of the quantization test at ``bits`` bits: ``quantized_4bit``."""
    return f"quantized_{bits}bit"


def card_test_names(config: dict[str, Any]) -> list[str]:
    """The card's tests under ``config`` (its ``card`` section), in the card's order."""
    quantized = [quantized_test(bits) for bits in config["card"]["quantization_bits"]]
    return [PLAIN, *quantized, IN_CONTEXT, PROBE, LENS]
