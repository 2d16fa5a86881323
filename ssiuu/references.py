"""What an attack teaches by itself: the reference models attacked beside the unlearned ones.

* ``Start`` (MCQA benchmarks, where no model that never learned the facts exists): the starting model,
  attacked with the same p, learning rates, epochs and run seeds. It unlearned nothing, so its attack pool
  is the whole forget set; the log-probability its held-out items gain is what the attack teaches of
  answer format alone.
* ``NeverLearned`` (ROUGE benchmarks, TOFU's "retain model"): a second model pre-finetuned exactly like
  the starting model but on the retain set only, attacked with the same items and draws. Its scores are the
  erasure floor: a method that truly erases should look like it.

Each reference gets an ``unlearn.json`` of its own (:func:`reference_eval`), so the attack rules, tables
and figures treat it as one more row.
"""

from __future__ import annotations

import time
from typing import Any

from ssiuu.jobs import MethodRun

#: Reference rows by benchmark style (the name is the method directory under ``results/``).
REFERENCES = {"mcqa": "Start", "rouge": "NeverLearned"}
REFERENCE_LABELS = {"Start": "Start model, attacked (reference)", "NeverLearned": "Never learned (control)"}


def is_reference(method: str) -> bool:
    return method in REFERENCES.values()


def reference_eval(
    config: dict[str, Any], run: MethodRun, *, out: str, base: str | None = None
) -> dict[str, Any]:
    """Rule ``reference_eval``: evaluate a reference model in the format of ``unlearn.json``.

    ``Start`` is the model ``base_eval`` scored already: its scores are read from ``base`` (the same weights,
    scored by the same evaluation), not computed twice."""
    import torch

    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.evaluation import SPLIT_METRICS
    from ssiuu.io import read_json, write_json
    from ssiuu.models import load_for
    from ssiuu.unlearning import evaluate

    split_obj = BenchmarkSplit.load(run.split)
    if REFERENCES.get(split_obj.style) != run.method:
        raise ValueError(
            f"reference {run.method!r} does not apply to the {split_obj.style} benchmark {run.benchmark!r}: "
            f"use {REFERENCES[split_obj.style]!r}"
        )
    start = time.perf_counter()
    if run.method == REFERENCES["mcqa"] and base is not None:
        metrics = {key: read_json(base)[key] for key in SPLIT_METRICS}
    else:
        model_obj, tokenizer = load_for(config, run.model, run.model_dir)
        with torch.no_grad():
            metrics = evaluate(config, run.benchmark, model_obj, tokenizer, split_obj)
    result = {
        **run.header(),
        "reference": True,
        "converged": None,
        "lr": None,
        "steps": 0,
        "params": {},
        **metrics,
        "wall_time_s": time.perf_counter() - start,
    }
    write_json(out, result)
    return result
