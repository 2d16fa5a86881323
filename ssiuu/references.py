"""The controls: rows attacked beside the unlearned models, whose answer is known in advance.

* ``Start``, the **yardstick** (both benchmark styles): the starting model — the base model on MCQA
  benchmarks, the pre-finetuned one on ROUGE benchmarks — attacked with the same draws. It unlearned nothing
  and knows the facts: what an attack brings back on a model from which nothing was removed, and the R of
  docs/results.md's recovered share and difference in differences.
* ``NeverLearned``, the **known eraser** (ROUGE benchmarks, TOFU's "retain model"): a second model
  pre-finetuned exactly like the starting model but on the retain set only, so the forget facts were never in
  it. A method that truly erases should look like it under the attacks. No such model exists for an MCQA
  benchmark (the facts come from pre-training).
* ``Hider``, the **known hider** (both styles): :class:`ssiuu.methods.hider.Hider`, GD on the last decoder
  block and the final norm only, so the knowledge stays in the frozen blocks below by construction. Trained
  and attacked per unlearning seed like a method (rule ``unlearn``).

``Start`` and ``NeverLearned`` are fixed models (:data:`REFERENCES`): they do not depend on the unlearning
seed, and the attack draws are the same for every model and seed of a run, so each is evaluated and
attacked once, at seed :data:`REFERENCE_SEED` only; a table pairs them with the methods of every seed. Each
gets an ``unlearn.json`` of its own (:func:`reference_eval`), so the attack rules, tables and figures treat
it as one more row.
"""

from __future__ import annotations

import time
from typing import Any

from ssiuu.jobs import MethodRun

START, NEVER_LEARNED, HIDER = "Start", "NeverLearned", "Hider"
#: Control rows by benchmark style (each name is its method directory under ``results/``).
CONTROLS: dict[str, tuple[str, ...]] = {
    "mcqa": (START, HIDER),
    "rouge": (START, NEVER_LEARNED, HIDER),
}
#: The controls that are fixed models (evaluated by rule ``reference_eval``, attacked at REFERENCE_SEED only).
REFERENCES: dict[str, tuple[str, ...]] = {
    style: tuple(c for c in controls if c != HIDER) for style, controls in CONTROLS.items()
}
#: The one unlearning seed at which a reference (Start, NeverLearned) exists.
REFERENCE_SEED = 0
CONTROL_LABELS = {
    START: "Start model, attacked (yardstick)",
    NEVER_LEARNED: "Never learned (known eraser)",
    HIDER: "Hider: last block only (known hider)",
}
#: the former name of :data:`CONTROL_LABELS`
REFERENCE_LABELS = CONTROL_LABELS


def is_control(method: str) -> bool:
    """Whether a row is a control (Start, NeverLearned, Hider) rather than a method under test."""
    return method in CONTROL_LABELS


def is_reference(method: str) -> bool:
    """Whether a row is a fixed reference model (Start, NeverLearned): one copy, at :data:`REFERENCE_SEED`."""
    return method in (START, NEVER_LEARNED)


def control_seeds(method: str, seeds: list[int]) -> list[int]:
    """The unlearning seeds at which ``method`` has a result: :data:`REFERENCE_SEED` for a reference, else
    ``seeds``."""
    return [REFERENCE_SEED] if is_reference(method) else list(seeds)


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
    if run.method not in REFERENCES.get(split_obj.style, ()):
        raise ValueError(
            f"reference {run.method!r} does not apply to the {split_obj.style} benchmark {run.benchmark!r}: "
            f"use one of {list(REFERENCES.get(split_obj.style, ()))}"
        )
    start = time.perf_counter()
    if run.method == START and base is not None:
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
