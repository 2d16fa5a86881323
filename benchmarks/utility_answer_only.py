"""The lm-eval utility score with lm-eval's HFLM (the pipeline's) against AnswerOnlyHFLM (defined here).

    .venv/bin/python benchmarks/utility_answer_only.py --model-dir work/models/smollm2/base   # after `make run`

lm-eval's ``HFLM`` scores a request ``(context, continuation)`` with a log-softmax over the whole vocabulary at
every position, context included; requests whose one-token continuations share a context share one forward
pass. ``AnswerOnlyHFLM`` instead scores every request through :func:`ssiuu.forward.answer_logits` (the path of
the training losses): the LM head at the positions that predict a continuation token only, the prefix every
row of a batch shares once. Runs ``ssiuu.evaluation.utility.utility_score`` on the config's utility tasks and
item limit (the lm-eval part of every final evaluation) with each class, interleaved within every repeat in
rotating order. Printed: seconds per variant (median over repeats), their ratio, and whether every task's
accuracy, standard error and item count is identical.
"""

from __future__ import annotations

import lm_eval.models.huggingface
import torch
from final_eval_kinds import eval_parser, interleaved
from lm_eval.models.huggingface import HFLM

from ssiuu.config import benchmark_config, load_config
from ssiuu.evaluation.utility import utility_score
from ssiuu.forward import answer_logits, upcast
from ssiuu.models import load_for
from ssiuu.progress import progress

#: an lm-eval log-likelihood request: ((context, continuation) strings, context tokens, continuation tokens)
Request = tuple[tuple[str, str], list[int], list[int]]


class AnswerOnlyHFLM(HFLM):
    """``HFLM`` for decoder-only models whose log-likelihood requests skip the context's LM-head work."""

    def _loglikelihood_tokens(
        self, requests: list[Request], disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list[tuple[float, bool]]:
        """``(log P(continuation | context), greedy)`` per request, in request order (lm-eval's contract)."""
        if self.backend != "causal":
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        batch_size = int(override_bs or (self.batch_size if self.batch_size != "auto" else 16))
        # longest first, like HFLM: similar lengths share a batch and the first batch is the widest
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i][1]) - len(requests[i][2]))
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        bar = progress(total=len(requests), desc="Running loglikelihood requests", disable=disable_tqdm)
        try:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                for i, scored in zip(chunk, self._score([requests[i] for i in chunk]), strict=True):
                    results[i] = scored
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], scored)
                bar.update(len(chunk))
        finally:
            bar.close()
        return results  # type: ignore[return-value]

    def _score(self, requests: list[Request]) -> list[tuple[float, bool]]:
        """One batch: right-padded context + continuation rows (context truncated on the left to the model's
        length, as ``HFLM`` does), labels on the continuation tokens only."""
        rows, labels = [], []
        for _, context, continuation in requests:
            if not 0 < len(continuation) <= self.max_length:
                raise ValueError(
                    f"an lm-eval continuation of {len(continuation)} tokens: it must hold 1 to "
                    f"{self.max_length} tokens (the model's length) to have a log-likelihood"
                )
            tokens = (context + continuation)[-(self.max_length + 1) :]
            rows.append(tokens)
            labels.append([-100] * (len(tokens) - len(continuation)) + list(continuation))
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = {
            "input_ids": torch.full((len(rows), width), pad, dtype=torch.long),
            "attention_mask": torch.zeros((len(rows), width), dtype=torch.long),
            "labels": torch.full((len(rows), width), -100, dtype=torch.long),
        }
        for b, (tokens, label) in enumerate(zip(rows, labels, strict=True)):
            batch["input_ids"][b, : len(tokens)] = torch.tensor(tokens)
            batch["attention_mask"][b, : len(tokens)] = 1
            batch["labels"][b, : len(tokens)] = torch.tensor(label)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            logits, targets, row_of = answer_logits(self.model, batch)
        logp = torch.log_softmax(upcast(logits), dim=-1).gather(1, targets[:, None]).squeeze(1)
        hit = (logits.argmax(-1) == targets).to(torch.long)
        n = len(requests)
        total = torch.zeros(n, dtype=logp.dtype, device=logp.device).index_add(0, row_of, logp)
        misses = torch.zeros(n, dtype=torch.long, device=hit.device).index_add(0, row_of, 1 - hit)
        return [(float(t), bool(m == 0)) for t, m in zip(total.cpu(), misses.cpu(), strict=True)]


def main() -> None:
    args = eval_parser(__doc__, split=False).parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    bcfg = benchmark_config(config, args.benchmark)
    model, tok = load_for(config, args.model, args.model_dir)

    def score(lm_class: type) -> dict:
        lm_eval.models.huggingface.HFLM = lm_class  # utility_score imports the class at each call
        return utility_score(
            model,
            tok,
            bcfg["utility_tasks"],
            limit=bcfg["utility_limit"],
            work_dir=f"{config['work_dir']}/lm_eval",
            batch_size=config["eval_batch_size"],
        )

    seconds, results = interleaved(
        {"HFLM": lambda: score(HFLM), "AnswerOnlyHFLM": lambda: score(AnswerOnlyHFLM)}, args.repeats
    )
    for name, value in seconds.items():
        print(f"{name}: {value:.1f}s")
    print(f"HFLM / AnswerOnlyHFLM: {seconds['HFLM'] / seconds['AnswerOnlyHFLM']:.2f}x")
    print(f"US: {results['HFLM']['US']} vs {results['AnswerOnlyHFLM']['US']}")
    print(f"accuracy, stderr and n of every task identical: {results['HFLM'] == results['AnswerOnlyHFLM']}")


if __name__ == "__main__":
    main()
