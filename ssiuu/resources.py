"""What a cluster job of the pipeline needs: GPU time, GPU memory and disk, per rule and wildcards.

Everything is derived from the configuration and from figures measured on one H100 80GB with the paper's 3B
models in bf16 (``benchmarks/gpu_memory.py``, tables in ``docs/cluster.md``); no data is read, so the dry run
can print every job's needs. The figures:

* **step time** of the shared training loop per method (:data:`STEP_SECONDS`, measured);
* **a forward pass** of one batch, :data:`FORWARD_SECONDS` = a third of a GA step (derived: a GA step is one
  forward and one backward, the backward about two forwards). A greedy decoding step of an evaluation batch is
  one forward pass, so generating ``T`` tokens for ``n`` prompts costs ``ceil(n / B) * (T + 1)`` passes
  (``B`` = ``eval_batch_size``, the prompt's pass included);
* **a model load** (read the safetensors, move them to the GPU), :data:`LOAD_SECONDS`: assumed, not measured;
* **GPU memory**: the caching allocator's reserved peak of a whole unlearning job (:data:`GPU_GIB`, measured).

The time of an unlearning job is an upper bound: the run decides where it stops, and the estimate tries
every learning rate to its ``max_steps``. A job's SLURM limit (:func:`runtime_minutes`) is :data:`SAFETY`
times its estimate, and a retry gets ``attempt`` times the limit, never above a 24-hour partition's
:data:`PARTITION_MINUTES`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssiuu.config import benchmark_config, benchmark_style, method_params, model_config, unlearn_settings
from ssiuu.layout import method_variant, parse_state
from ssiuu.references import HIDER, START

#: the GPU rules this module estimates (one GPU each on a cluster); a GPU rule it does not know keeps the time
#: limit its rule gives
GPU_RULES = (
    "split",
    "base_eval",
    "pretrain",
    "pretrain_never_learned",
    "reference_eval",
    "unlearn",
    "attack",
    "attack_harmful",
    "calibrate",
    "attribution",
    "logit_lens",
    "card_tests",
)
#: rules with an action that need no GPU: ``prepare_model`` loads and saves the weights on the CPU
CPU_RULES = ("prepare_model", "build_benchmark", "influence", "distributions", "tables", "figures", "claims")

#: median optimiser step (s) of the shared training loop on one H100 80GB, Llama-3.2-3B, bf16, QA pairs of
#: 73-113 tokens, batch 8 forget (+ 8 retain); ``python benchmarks/gpu_memory.py --arch llama-3.2-3b``
STEP_SECONDS: dict[str, float] = {
    "GA": 0.18,
    "GD": 0.27,
    "DPO": 0.44,
    "NPO": 0.29,
    "RMU": 0.06,
    "KLUE": 0.19,
    "SIMU": 0.25,
    "SSIUU-exact": 0.72,
    "SSIUU-fd": 0.67,
}
#: the same with ``gradient_checkpointing: true`` (``--gradient-checkpointing``), where measured
STEP_SECONDS_CHECKPOINTED: dict[str, float] = {"GD": 0.40, "SSIUU-fd": 1.02}
#: the allocator's reserved peak (GiB) over a whole unlearning job on QA pairs, the larger of Llama-3.2-3B and
#: Qwen2.5-3B (same command, ``--arch qwen2.5-3b``); GD at 256 tokens per sequence (``--prompt-tokens 240``)
#: bounds an attack on instruction data
GPU_GIB: dict[str, float] = {
    "GA": 31.3,
    "GD": 35.6,
    "DPO": 45.7,
    "NPO": 42.1,
    "RMU": 12.4,
    "KLUE": 39.7,
    "SIMU": 28.4,
    "SSIUU-exact": 59.1,
    "SSIUU-fd": 65.9,
    "GD-256-tokens": 44.2,
}
GPU_GIB_CHECKPOINTED: dict[str, float] = {"GD": 31.0, "SSIUU-fd": 56.3}

#: one forward pass of a batch (s): a GA step is one forward and one backward of about two forwards
FORWARD_SECONDS = STEP_SECONDS["GA"] / 3
#: one model load (s), read from a shared file system and moved to the GPU: assumed, not measured
LOAD_SECONDS = 60.0
#: a job's time limit is this many times its estimate (the load and the decoding steps are not measured)
SAFETY = 2.0
#: the shortest limit asked for (minutes): below it the queue's start-up dominates
MIN_MINUTES = 30
#: the longest limit a 24-hour partition accepts (minutes)
PARTITION_MINUTES = 24 * 60

#: published dataset sizes (nothing is read at planning time): FaithUn's clusters and question kinds per cluster
#: (base, paraphrase, multihop, same_answer), TOFU's QA pairs and its utility sets (Real Authors 100, World
#: Facts 117)
FAITHUN_CLUSTERS = 664
QUESTION_KINDS = 4
TOFU_QA = 4000
TOFU_UTILITY = 100 + 117
#: the split's probe asks each cluster's base question under up to 3 cyclic option orders
PROBE_ORDERS = 3
#: pre-finetuning scores the forget items and this many retain items before and after
#: (``ssiuu.pretrain.RETAIN_SAMPLE``, not imported: that module loads torch)
PRETRAIN_RETAIN_SAMPLE = 40
#: answer log-probabilities and margins of the FS items: one pass for the gold answer, one per option
LOGPROB_PASSES = 4
#: lm-eval utility tasks: (subtasks the per-task limit applies to, items in all, forward passes per item,
#: tokens generated per item). MMLU's one-token options share their context's pass; gsm8k generates up to 256
UTILITY_TASKS: dict[str, tuple[int, int, int, int]] = {
    "mmlu": (57, 14042, 1, 0),
    "hellaswag": (1, 10042, 4, 0),
    "arc_challenge": (1, 1172, 4, 0),
    "winogrande": (1, 1267, 2, 0),
    "gsm8k": (1, 1319, 1, 256),
}
#: any other task (the offline ssiuu_* tasks): four options of several tokens, at most this many items
OTHER_TASK = (1, 1000, 4, 0)
#: parameters of the paper's models (``config.json`` of their hub repositories: embeddings, 28 / 36 decoder
#: blocks, tied LM head), for the size of a saved model
MODEL_PARAMETERS: dict[str, int] = {
    "meta-llama/Llama-3.2-3B-Instruct": 3_212_749_824,
    "Qwen/Qwen2.5-3B-Instruct": 3_085_938_688,
}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
#: the rules that save a model in the config's dtype
SAVES_MODEL = ("unlearn", "pretrain", "pretrain_never_learned")
#: the disk of a job that saves no model of known size (JSON results, attribution tensors): Snakemake's usual
#: default
SMALL_OUTPUT_MB = 1000


# ------------------------------------------------------------------------------------------------ arithmetic
def generation_passes(prompts: int, new_tokens: int, batch_size: int) -> int:
    """Forward passes of a greedy generation: per batch, the prompts' pass and one per new token."""
    return math.ceil(prompts / batch_size) * (new_tokens + 1)


def runtime_minutes(seconds: float, attempt: int = 1) -> int:
    """The SLURM time limit of a job estimated at ``seconds``: SAFETY times the estimate, rounded up to 10
    minutes, at least MIN_MINUTES; a retry (``attempt`` 2, ...) gets ``attempt`` times that; never above
    PARTITION_MINUTES."""
    limit = max(MIN_MINUTES, 10 * math.ceil(SAFETY * seconds / 600))
    return min(PARTITION_MINUTES, limit * attempt)


def saved_model_mb(parameters: int, dtype: str) -> int:
    """The size of a saved model's safetensors (MB = 10^6 bytes), rounded up."""
    return math.ceil(parameters * DTYPE_BYTES[dtype] / 1e6)


# -------------------------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class BenchmarkSize:
    """Item counts of one benchmark's jobs, from the config and the published dataset sizes."""

    forget: int  # FS items: each unlearning check and attack evaluation point answers them
    evaluation: int  # answers generated by one final evaluation (forget, retain, test, ROUGE utility sets)
    damage: int  # retain and test items a calibration point also answers
    probe: int  # answers generated by the split's probe
    probe_train: int  # retain and test items the card's probe may train on (no eval_limit: ssiuu/card/run.py)
    probe_rows: int  # rows per item of the card's probe: one (MCQA) or one per candidate answer (ROUGE)
    pretrain: int  # QA pairs of the pre-finetuning (forget and retain)
    retain: int  # QA pairs of the never-learned pre-finetuning (retain only)
    new_tokens: int  # generation budget of one answer
    utility_tasks: tuple[str, ...]  # lm-eval tasks of the final evaluation (MCQA)
    utility_limit: int | None


def benchmark_size(config: dict[str, Any], benchmark: str) -> BenchmarkSize:
    """The item counts of ``benchmark`` (MCQA: FaithUn's 664 clusters or ``max_clusters``; ROUGE: TOFU's 4,000
    QA pairs or the fictitious authors' ``n_authors * qa_per_author``), ``eval_limit`` applied."""
    bcfg = benchmark_config(config, benchmark)
    split, limit = bcfg["split"], bcfg.get("eval_limit")

    def capped(n: int) -> int:
        return n if limit is None else min(n, limit)

    if benchmark_style(config, benchmark) == "mcqa":
        clusters = bcfg.get("max_clusters") or FAITHUN_CLUSTERS
        forget = math.ceil(split["forget"] * clusters)
        retain = math.ceil(split["retain"] * clusters)
        test = math.ceil(split["test"] * clusters) * QUESTION_KINDS
        kinds = len(bcfg.get("forget_question_kinds") or range(QUESTION_KINDS))
        damage = capped(retain) + capped(test)
        return BenchmarkSize(
            forget=forget,
            evaluation=forget * kinds + damage,
            damage=damage,
            probe=PROBE_ORDERS * clusters,
            probe_train=retain * QUESTION_KINDS + test,
            probe_rows=1,
            pretrain=0,
            retain=0,
            new_tokens=bcfg.get("max_new_tokens") or 16,
            utility_tasks=tuple(bcfg.get("utility_tasks") or ()),
            utility_limit=bcfg.get("utility_limit"),
        )
    if bcfg["kind"] == "tofu":
        total, utility = TOFU_QA, TOFU_UTILITY
    else:
        total, utility = bcfg["n_authors"] * bcfg["qa_per_author"], 2 * bcfg["utility_n"]
    forget = math.ceil(split["forget"] * total)
    retain = total - forget
    return BenchmarkSize(
        forget=forget,
        evaluation=forget + capped(retain) + utility,
        damage=capped(retain),
        probe=0,
        probe_train=retain,
        probe_rows=LOGPROB_PASSES,
        pretrain=total,
        retain=retain,
        new_tokens=bcfg.get("max_new_tokens") or 64,
        utility_tasks=(),
        utility_limit=None,
    )


# -------------------------------------------------------------------------------------------- times
class _Costs:
    """The forward passes and model loads of one benchmark's jobs under a config."""

    def __init__(self, config: dict[str, Any], benchmark: str) -> None:
        self.config = config
        self.size = benchmark_size(config, benchmark)
        self.batch = int(config["eval_batch_size"])

    def answers(self, prompts: int) -> float:
        """Seconds to generate answers to ``prompts`` items."""
        return generation_passes(prompts, self.size.new_tokens, self.batch) * FORWARD_SECONDS

    def logprobs(self, items: int) -> float:
        """Seconds of the answer log-probabilities and margins of ``items`` items."""
        return math.ceil(items / self.batch) * LOGPROB_PASSES * FORWARD_SECONDS

    def probe_features(self, items: int) -> float:
        """Seconds of the hidden states the card's probe reads from ``items`` items: one forward pass per batch of
        rows, a row per item (MCQA) or per candidate answer (ROUGE: the gold and the wrong answers, as many as
        the margins' LOGPROB_PASSES count)."""
        return math.ceil(items * self.size.probe_rows / self.batch) * FORWARD_SECONDS

    def lens(self, items: int) -> float:
        """Seconds of the logit lens over ``items`` items (a pass each for the gold answer and a distractor, and
        every layer's projection): counted as their log-probabilities and margins."""
        return self.logprobs(items)

    def utility(self) -> float:
        """Seconds of the lm-eval utility tasks (MCQA final evaluations)."""
        passes = 0
        for task in self.size.utility_tasks:
            subtasks, total, per_item, new_tokens = UTILITY_TASKS.get(task, OTHER_TASK)
            limit = self.size.utility_limit
            items = total if limit is None else min(total, subtasks * limit)
            passes += math.ceil(items * per_item / self.batch) * (new_tokens + 1)
        return passes * FORWARD_SECONDS

    def evaluation(self) -> float:
        """Seconds of one final evaluation: answers, the FS items' log-probabilities, the utility tasks."""
        return self.answers(self.size.evaluation) + self.logprobs(self.size.forget) + self.utility()

    def point(self, items: int, damage: bool = False) -> float:
        """Seconds of one attack evaluation point over ``items`` (and the damage items of a calibration)."""
        scored = self.answers(items) + self.logprobs(items)
        return scored + (self.answers(self.size.damage) if damage else 0.0)

    def draw(
        self,
        train_items: int,
        batch_size: int,
        epochs: int,
        eval_every: Any,
        items: int,
        damage: bool = False,
    ) -> float:
        """Seconds of one attack draw: its training steps (a GA step each) and its evaluation points."""
        steps_per_epoch = math.ceil(train_items / batch_size)
        steps = epochs * steps_per_epoch
        interval = max(steps, 1) if eval_every == "end" else (eval_every or steps_per_epoch)
        points = math.ceil(steps / interval) if steps else 0
        step = STEP_SECONDS["GA"] * max(1.0, batch_size / 8)
        return steps * step + points * self.point(items, damage)

    def harmful_draw(self, p: float, epochs: int, eval_every: Any, damage: bool = False) -> float:
        acfg = self.config["attacks"]["harmful"]
        train = math.ceil(p * self.size.forget)
        rest = self.size.forget - train
        return self.draw(train, acfg["batch_size"], epochs, eval_every, rest, damage)

    def benign_draw(self, epochs: int, eval_every: Any, damage: bool = False) -> float:
        acfg = self.config["attacks"]["benign"]
        return self.draw(
            acfg["n_instances"], acfg["batch_size"], epochs, eval_every, self.size.forget, damage
        )


def measured_method(config: dict[str, Any], method: str, benchmark: str) -> str:
    """The row of the measured tables that stands for ``method``: SSIUU by its HVP mode; the Hider (GD on the
    last block only) by GD, an upper bound; a method that was not measured by SSIUU-fd, the largest row."""
    base, _ = method_variant(method)
    if base == "SSIUU":
        hvp = method_params(config, base, benchmark).get("hvp", "exact")
        return "SSIUU-fd" if hvp == "finite_difference" else "SSIUU-exact"
    if base == HIDER:
        return "GD"
    return base if base in STEP_SECONDS else "SSIUU-fd"


def step_seconds(config: dict[str, Any], method: str, benchmark: str) -> float:
    """One optimiser step of ``method``: the measured step, times the batch's multiple of 8 and grad_accum."""
    row = measured_method(config, method, benchmark)
    table = STEP_SECONDS_CHECKPOINTED if config.get("gradient_checkpointing") else {}
    ucfg = unlearn_settings(config, benchmark, method)["unlearning"]
    scale = max(1.0, ucfg["batch_size"] / 8) * ucfg.get("grad_accum", 1)
    return table.get(row, STEP_SECONDS[row]) * scale


def unlearn_seconds(config: dict[str, Any], benchmark: str, method: str) -> float:
    """An unlearning job at worst: every learning rate tried to ``max_steps`` (a load, the steps and an FS check
    every ``eval_every`` steps each), then the final evaluation and the save (a load's time)."""
    costs = _Costs(config, benchmark)
    ucfg = unlearn_settings(config, benchmark, method)["unlearning"]
    steps, checks = ucfg["max_steps"], math.ceil(ucfg["max_steps"] / ucfg["eval_every"])
    one_try = (
        LOAD_SECONDS
        + steps * step_seconds(config, method, benchmark)
        + checks * costs.answers(costs.size.forget)
    )
    return len(ucfg["learning_rates"]) * one_try + costs.evaluation() + LOAD_SECONDS


def attack_seconds(config: dict[str, Any], benchmark: str, *, benign: bool = True) -> float:
    """An attack job: one load, then every harmful draw (and benign draw) of one checkpoint."""
    costs, acfg = _Costs(config, benchmark), config["attacks"]
    runs, harmful, total = int(acfg["runs"]), acfg["harmful"], LOAD_SECONDS
    for p in harmful["fractions"]:
        draw = costs.harmful_draw(p, harmful["epochs"], harmful["eval_every_steps"])
        total += runs * len(harmful["learning_rates"]) * draw
    if benign:
        draw = costs.benign_draw(acfg["benign"]["epochs"], acfg["benign"]["eval_every_steps"])
        total += runs * len(acfg["benign"]["learning_rates"]) * draw
    return total


def calibrate_seconds(config: dict[str, Any], benchmark: str, damage: bool) -> float:
    """A calibration job: every calibration draw, scored after every epoch (with the damage items: the starting
    model's draws)."""
    costs, cal = _Costs(config, benchmark), config["analysis"]["attack_calibration"]
    runs = int(cal["runs"])
    harmful = costs.harmful_draw(cal["harmful"]["fraction"], cal["harmful"]["epochs"], None, damage)
    benign = costs.benign_draw(cal["benign"]["epochs"], None, damage)
    per_rate = {"harmful": harmful, "benign": benign}
    return LOAD_SECONDS + sum(runs * len(cal[k]["learning_rates"]) * per_rate[k] for k in per_rate)


def pretrain_seconds(config: dict[str, Any], benchmark: str, retain_only: bool) -> float:
    """Pre-finetuning: ``epochs`` passes over the QA pairs at ``batch_size`` (a GD step, 16 sequences, per 16),
    ROUGE answers to the forget items before and after, the save."""
    costs, pcfg = _Costs(config, benchmark), benchmark_config(config, benchmark)["pretrain"]
    pairs = costs.size.retain if retain_only else costs.size.pretrain
    steps = pcfg["epochs"] * math.ceil(pairs / pcfg["batch_size"])
    step = STEP_SECONDS["GD"] * max(1.0, pcfg["batch_size"] / 16)
    return 2 * LOAD_SECONDS + steps * step + 2 * costs.answers(costs.size.forget + PRETRAIN_RETAIN_SAMPLE)


def card_seconds(config: dict[str, Any], benchmark: str) -> float:
    """The card's tests on one model (``card_tests``, :mod:`ssiuu.card.run`): a load; the forget items scored
    (answers, log-probabilities and margins: an attack's evaluation point) ``len(quantization_bits) + 2`` times:
    as they are, under each bit width and with ``in_context_k`` QA pairs in the prompt (counted as the plain
    prompts: the longer prompt lengthens one pass per batch, the prompts'; each decoding step is one pass, bound by
    kernel launches on the GPU, docs/cluster.md); the probe's hidden states of its training items (retain and
    test, at most ``probe_train_limit``) and of the forget items; the logit lens over the forget items. Not
    counted: the quantized copy (a copy of the weights, rounded elementwise, once per bit width) and the probe's
    logistic regressions, which run on the CPU (per layer, one fit and one per fold)."""
    costs, card = _Costs(config, benchmark), config["card"]
    forget, limit = costs.size.forget, card["probe_train_limit"]
    train = costs.size.probe_train if limit is None else min(costs.size.probe_train, limit)
    scored = (len(card["quantization_bits"]) + 2) * costs.point(forget)
    probe = costs.probe_features(train) + costs.probe_features(forget)
    return LOAD_SECONDS + scored + probe + costs.lens(forget)


def job_seconds(config: dict[str, Any], rule: str, wildcards: Mapping[str, str]) -> float | None:
    """The estimated GPU seconds of one job of ``rule`` (``None`` for a rule that runs no model on the GPU)."""
    if rule not in GPU_RULES:
        return None
    benchmark = wildcards["benchmark"]
    costs = _Costs(config, benchmark)
    if rule == "split":
        return LOAD_SECONDS + costs.answers(costs.size.probe)
    if rule in ("base_eval", "reference_eval"):
        return LOAD_SECONDS + costs.evaluation()
    if rule == "unlearn":
        return unlearn_seconds(config, benchmark, wildcards["method"])
    if rule in ("attack", "attack_harmful"):
        return attack_seconds(config, benchmark, benign=rule == "attack")
    if rule == "calibrate":
        return calibrate_seconds(config, benchmark, damage=wildcards["method"] == START)
    if rule in ("pretrain", "pretrain_never_learned"):
        return pretrain_seconds(config, benchmark, retain_only=rule == "pretrain_never_learned")
    if rule == "card_tests":
        return card_seconds(config, benchmark)
    analysis = config["analysis"]
    if rule == "attribution":
        # a forward and a backward (about three passes) per batch of forget items; an attacked state first runs
        # the harmful attack's draw in memory
        batches = math.ceil(costs.size.forget / analysis["attribution_batch_size"])
        attacked = parse_state(wildcards["state"])[2]
        harmful = config["attacks"]["harmful"]
        attack = costs.harmful_draw(analysis["distribution_attack"]["p"], harmful["epochs"], "end")
        return LOAD_SECONDS + 3 * batches * FORWARD_SECONDS + (attack if attacked else 0.0)
    # logit_lens: one load and one pass over the forget items per state (the start model, each lens method)
    states = 1 + len(analysis["logit_lens_methods"])
    return states * (LOAD_SECONDS + costs.lens(costs.size.forget))


# -------------------------------------------------------------------------------------------- memory, disk
def gpu_memory_gib(config: dict[str, Any], rule: str, wildcards: Mapping[str, str]) -> int | None:
    """The GPU memory (GiB, rounded up) of one job, from the measured reserved peaks: an unlearning job its
    method's; an attack (QA pairs, instruction data up to 256 tokens) GD's at 256 tokens; pre-finetuning
    (16 sequences a step) GD's; an attribution (a backward, an attacked state's in-memory attack) GA's. The
    inference-only rules (the card's tests among them) are not measured: ``None``."""
    checkpointed = GPU_GIB_CHECKPOINTED if config.get("gradient_checkpointing") else {}
    if rule == "unlearn":
        row = measured_method(config, wildcards["method"], wildcards["benchmark"])
    elif rule in ("attack", "attack_harmful", "calibrate"):
        row = "GD-256-tokens"
    elif rule in ("pretrain", "pretrain_never_learned"):
        row = "GD"
    elif rule == "attribution":
        row = "GA"
    else:
        return None
    return math.ceil(checkpointed.get(row, GPU_GIB[row]))


def disk_mb(config: dict[str, Any], rule: str, wildcards: Mapping[str, str]) -> int:
    """What one job writes (MB): a saved model (``prepare_model``: float32; unlearning and pre-finetuning: the
    config's dtype) of a model of :data:`MODEL_PARAMETERS`; else SMALL_OUTPUT_MB."""
    parameters = MODEL_PARAMETERS.get(model_config(config, wildcards["model"])["source"])
    if parameters is not None and rule == "prepare_model":
        return saved_model_mb(parameters, "float32")
    if parameters is not None and rule in SAVES_MODEL:
        return saved_model_mb(parameters, config["dtype"])
    return SMALL_OUTPUT_MB
