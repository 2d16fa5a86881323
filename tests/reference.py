"""Independent reference log-likelihoods for tests: a full log-softmax over every position, written
without the package's answer-only LM-head path (ssiuu.forward), so the two can be compared."""

from __future__ import annotations

import torch


def token_logprobs(model, batch):
    """Per-token log-probabilities of the labels ``[B, T-1]`` and the answer mask."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    if logits.dtype in (torch.float16, torch.bfloat16):  # float32/float64 stay as they are
        logits = logits.float()
    picked = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * mask, mask


def answer_logprobs(model, batch):
    """log π(y|x) per example: the sum over answer tokens."""
    return token_logprobs(model, batch)[0].sum(-1)


def answer_nll(model, batch):
    """Mean NLL over every answer token of the batch."""
    picked, mask = token_logprobs(model, batch)
    return -picked.sum() / mask.sum()
