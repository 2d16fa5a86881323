"""Logit lens (Fig. 4): does an intermediate representation still prefer the gold answer to a distractor?

For every layer ``l`` (0 = embedding output, ``l`` = output of decoder layer ``l``, ``L`` = last layer) the hidden
state at the *answer position* — the last prompt token, where the first answer token is predicted — is projected
through the model's final norm (``model.model.norm``) and unembedding (``lm_head``). A record counts as correct
at layer ``l`` when ``P_l(gold first token) > P_l(distractor first token)``; chance is 0.5.

Choices:

* Multi-token answers are compared by their **first token** only. Records whose gold answer and distractor
  start with the same token cannot be told apart and are skipped; the count is reported.
* The distractor is drawn per record with ``random.Random(seed)`` from ``record.false_options`` (TOFU-style
  records: ``perturbed_answers``), records taken in the given order.
* The prompt is the QA question wrapped like training data (``encode_fn`` = ``ssiuu.training.encode_pairs``, which
  applies the chat template); ``prompt_fn`` can swap in e.g. ``ssiuu.data.templates.mcqa_prompt``. Gold and
  distractor pairs are encoded separately and each first token is read at its own answer position, so a
  tokeniser that merges across the prompt/answer boundary is still handled.
* Hugging Face returns ``hidden_states[-1]`` with the final norm already applied; the lens therefore applies only
  ``lm_head`` there (checked at run time against the model's logits), so layer ``L`` equals the model's own
  output distribution.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from ssiuu.attribution import EncodeFn, _default_encode, final_norm_and_head
from ssiuu.data.records import QARecord
from ssiuu.model_parts import decoder_layers, model_device
from ssiuu.progress import progress


def pick_distractors(records: Sequence[QARecord], seed: int) -> list[str]:
    """One random distractor per record (``false_options``, else ``perturbed_answers``), seeded."""
    rng = random.Random(seed)
    out = []
    for r in records:
        options = r.false_options or r.perturbed_answers
        if not options:
            raise ValueError(
                f"record {r.id!r} has neither false_options nor perturbed_answers: the logit lens needs a distractor"
            )
        out.append(rng.choice(list(options)))
    return out


def answer_positions(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(position, token)`` per row: the first labelled token and the position that predicts it."""
    labelled = labels != -100
    if not bool(labelled.any(dim=1).all()):
        raise ValueError(
            "a row has no answer tokens (all labels -100): the answer was truncated; raise max_length"
        )
    first = labelled.int().argmax(dim=1)
    if bool((first == 0).any()):
        raise ValueError("an answer starts at position 0: there is no prompt token to predict it from")
    rows = torch.arange(labels.shape[0], device=labels.device)
    return first - 1, labels[rows, first]


@torch.no_grad()
def logit_lens_logprobs(
    model: nn.Module, input_ids: Tensor, attention_mask: Tensor, positions: Tensor, tokens: Tensor
) -> Tensor:
    """``[n_layers + 1, B]``: log-probability of ``tokens[b]`` under the lens at ``positions[b]``, per layer."""
    norm, head = final_norm_and_head(model)
    n_layers = len(decoder_layers(model))
    out = model(
        input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, use_cache=False
    )
    hidden = out.hidden_states
    if hidden is None or len(hidden) != n_layers + 1:
        got = None if hidden is None else len(hidden)
        raise RuntimeError(
            f"expected {n_layers + 1} hidden states (embeddings + {n_layers} layers), got {got}"
        )
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    states = torch.stack([h[rows, positions] for h in hidden])  # [L+1, B, H]
    lens = [head(norm(states[layer])) for layer in range(n_layers)]
    own = out.logits[rows, positions].float()
    final_raw = head(states[n_layers]).float()
    if torch.allclose(final_raw, own, rtol=1e-3, atol=1e-3):
        lens.append(final_raw)  # HF: the last hidden state already went through the final norm
    else:
        final_normed = head(norm(states[n_layers])).float()
        if not torch.allclose(final_normed, own, rtol=1e-3, atol=1e-3):
            raise RuntimeError(
                f"{type(model).__name__}: lm_head(hidden_states[-1]) reproduces the model's logits neither with nor "
                "without the final norm (logit scaling or soft-capping?); the logit lens does not support this model"
            )
        lens.append(final_normed)
    logp = torch.log_softmax(torch.stack([x.float() for x in lens]), dim=-1)  # [L+1, B, V]
    return logp.gather(-1, tokens.view(1, -1, 1).expand(logp.shape[0], -1, 1)).squeeze(-1)


@dataclass(frozen=True)
class LensItems:
    """The lens on each record it could read: ``ids`` of the evaluated records, ``gold`` and ``distractor``
    [n_layers + 1, n] the lens log-probabilities of their first tokens, ``skipped`` the ids of the records whose
    gold answer and distractor share their first token."""

    ids: list[str]
    gold: Tensor
    distractor: Tensor
    skipped: list[str]

    @property
    def hits(self) -> Tensor:
        """[n_layers + 1, n] bool: the lens prefers the gold answer to the distractor."""
        return self.gold > self.distractor


def _first_token_lens(
    model: nn.Module, tokenizer: Any, pairs: list[tuple[str, str]], encode: EncodeFn, max_length: int
) -> tuple[Tensor, Tensor]:
    """``(scores [n_layers + 1, B], tokens [B])``: the lens log-probability of each answer's first token, read
    at its own answer position, and that token."""
    enc = encode(tokenizer, pairs, max_length=max_length)
    device = model_device(model)
    input_ids, mask, labels = (enc[k].to(device) for k in ("input_ids", "attention_mask", "labels"))
    positions, tokens = answer_positions(labels)
    return logit_lens_logprobs(model, input_ids, mask, positions, tokens), tokens


def logit_lens_items(
    model: nn.Module,
    tokenizer: Any,
    records: Sequence[QARecord],
    *,
    batch_size: int = 8,
    seed: int = 0,
    prompt_fn: Callable[[QARecord], str] | None = None,
    encode_fn: EncodeFn | None = None,
    max_length: int = 256,
    desc: str = "logit lens",
) -> LensItems:
    """Per record and layer, the lens log-probabilities of the gold answer's and the distractor's first tokens
    (module docstring); records whose two first tokens are the same are skipped (all of them, possibly)."""
    if not records:
        raise ValueError("the logit lens needs at least one record")
    encode = encode_fn or _default_encode()
    prompt_of = prompt_fn or (lambda r: r.question)
    distractors = pick_distractors(records, seed)
    was_training = model.training
    model.eval()
    gold: list[Tensor] = []
    wrong: list[Tensor] = []
    ids: list[str] = []
    skipped: list[str] = []
    try:
        for start in progress(range(0, len(records), batch_size), desc=desc):
            batch = records[start : start + batch_size]
            pairs = [
                [(prompt_of(r), answer) for r, answer in zip(batch, answers, strict=True)]
                for answers in ([r.answer for r in batch], distractors[start : start + len(batch)])
            ]
            (gold_scores, gold_tokens), (wrong_scores, wrong_tokens) = (
                _first_token_lens(model, tokenizer, rows, encode, max_length) for rows in pairs
            )
            keep = (gold_tokens != wrong_tokens).cpu()
            gold.append(gold_scores.cpu()[:, keep])
            wrong.append(wrong_scores.cpu()[:, keep])
            ids += [r.id for r, kept in zip(batch, keep.tolist(), strict=True) if kept]
            skipped += [r.id for r, kept in zip(batch, keep.tolist(), strict=True) if not kept]
    finally:
        model.train(was_training)
    return LensItems(ids, torch.cat(gold, dim=1), torch.cat(wrong, dim=1), skipped)


def logit_lens_accuracy(
    model: nn.Module,
    tokenizer: Any,
    records: Sequence[QARecord],
    **options: Any,
) -> pd.DataFrame:
    """Per layer, accuracy of ``P(gold first token) > P(distractor first token)`` under the logit lens (Fig. 4);
    ``options`` are :func:`logit_lens_items`'s.

    Columns ``layer`` (0 = embeddings … L), ``accuracy``, ``n_evaluated``, ``n_skipped`` (records whose gold and
    distractor share their first token). Raises if every record is skipped.
    """
    lens = logit_lens_items(model, tokenizer, records, **options)
    if not lens.ids:
        raise ValueError(
            f"all {len(records)} records were skipped: gold answers and distractors share their first token"
        )
    hits = lens.hits  # [L+1, n_evaluated]
    return pd.DataFrame(
        {
            "layer": range(hits.shape[0]),
            "accuracy": hits.float().mean(dim=1).numpy(),
            "n_evaluated": hits.shape[1],
            "n_skipped": len(lens.skipped),
        }
    )
