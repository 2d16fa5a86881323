"""The card's logit-lens test: is the gold answer readable from the residual stream, layer by layer?

It reads each forget item through the pipeline's logit lens (:func:`ssiuu.analysis.logit_lens.logit_lens_items`,
Fig. 4's: the hidden state at the answer position projected through the final norm and the unembedding; the
item counts as read right at a layer when the gold answer's first token is more probable than a distractor's,
drawn with ``seed``; chance 0.5). Łucki et al. (2024) read unlearned knowledge back this way.

Per item the card summarises the decoder layers 1 … L (layer 0, the embedding of the last prompt token, is the
same for every question and says nothing about it):

* ``readable``: the share of those layers at which the lens prefers the gold answer (in [0, 1]; chance 0.5);
* ``margin``: the mean over those layers of log P(gold first token) − log P(distractor first token), in nats.

Items whose gold answer and distractor start with the same token cannot be told apart and are left out
(``skipped_ids``; on ROUGE benchmarks, whose answers often open alike, they can be many, or all: the card then
shows n = 0 and no verdict); the per-layer accuracies over the items read are in ``layers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ssiuu.data.records import QARecord

#: the lens's chance level: a coin between the gold answer and the distractor
LENS_CHANCE = 0.5


def lens_summary(hits: torch.Tensor, gaps: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per item, ``(readable, margin)`` over the decoder layers 1 … L of ``hits`` and ``gaps`` [L + 1, n]: the
    share of layers that read the gold answer right, and the mean log-probability gap gold − distractor."""
    if hits.shape[0] < 2:
        raise ValueError("the logit lens needs at least one decoder layer besides the embeddings")
    readable = hits[1:].float().mean(dim=0)
    margin = gaps[1:].double().mean(dim=0)
    return readable.tolist(), margin.tolist()


def lens_items(
    model: Any,
    tokenizer: Any,
    records: Sequence[QARecord],
    *,
    seed: int = 0,
    max_length: int = 256,
    batch_size: int = 16,
) -> dict[str, Any]:
    """The logit-lens test of ``model`` on ``records`` (module docstring): its items and means (None without an
    item read), the per-layer accuracies and the items left out."""
    from ssiuu.analysis.logit_lens import logit_lens_items

    lens = logit_lens_items(
        model, tokenizer, records, batch_size=batch_size, seed=seed, max_length=max_length, desc="card lens"
    )
    hits, gaps = lens.hits, lens.gold - lens.distractor
    readable, margins = lens_summary(hits, gaps)
    items = [
        {"id": item_id, "readable": share, "margin": gap, "correct_by_layer": hits[:, i].tolist()}
        for i, (item_id, share, gap) in enumerate(zip(lens.ids, readable, margins, strict=True))
    ]
    n = len(items)
    accuracy = hits.float().mean(dim=1).tolist() if n else [None] * hits.shape[0]
    return {
        "seed": seed,
        "chance": LENS_CHANCE,
        "layers": [{"layer": layer, "accuracy": value} for layer, value in enumerate(accuracy)],
        "skipped_ids": lens.skipped,
        "n": n,
        "readable": sum(readable) / n if n else None,
        "margin": sum(margins) / n if n else None,
        "items": items,
    }
