"""ssiuu/resources.py: each formula on a tiny config computed by hand, and the paper protocol's limits."""

from __future__ import annotations

import pytest

from ssiuu import resources
from ssiuu.config import load_config
from ssiuu.resources import (
    benchmark_size,
    disk_mb,
    generation_passes,
    gpu_memory_gib,
    job_seconds,
    runtime_minutes,
    saved_model_mb,
)

LLAMA = "meta-llama/Llama-3.2-3B-Instruct"


def tiny_config(**overrides) -> dict:
    """Two small benchmarks and every setting the hand computations below read, written out."""
    config = {
        "dtype": "bfloat16",
        "eval_batch_size": 64,
        "models": {"llama": {"source": LLAMA}, "other": {"source": "some/other-model"}},
        "benchmarks": {
            "wf": {
                "kind": "worldfacts",
                "max_clusters": 100,
                "split": {"forget": 0.25, "retain": 0.1, "test": 0.65},
                "eval_limit": 40,
                "forget_question_kinds": ["base"],
                "max_new_tokens": None,
                "utility_tasks": ["ssiuu_arithmetic"],
                "utility_limit": 40,
            },
            "fict": {
                "kind": "fictitious",
                "n_authors": 10,
                "qa_per_author": 10,
                "split": {"forget": 0.2},
                "utility_n": 40,
                "eval_limit": 40,
                "max_new_tokens": 32,
                "pretrain": {"lr": 1.0e-4, "epochs": 2, "batch_size": 8},
            },
        },
        "methods": ["GD", "SSIUU"],
        "unlearning": {
            "learning_rates": [1.0e-4, 3.0e-4],
            "method_learning_rates": {},
            "max_steps": 30,
            "eval_every": 3,
            "batch_size": 4,
            "grad_accum": 1,
        },
        "attacks": {
            "runs": 2,
            "harmful": {
                "fractions": [0.1],
                "learning_rates": [1.0e-4],
                "epochs": 2,
                "batch_size": 4,
                "eval_every_steps": "end",
            },
            "benign": {
                "n_instances": 32,
                "learning_rates": [1.0e-4],
                "epochs": 1,
                "batch_size": 8,
                "eval_every_steps": "end",
            },
        },
    }
    return load_config(overrides={**config, **overrides})


@pytest.fixture(scope="module")
def config() -> dict:
    return tiny_config()


def test_the_unit_costs_are_the_measured_figures():
    # a forward pass is a third of GA's measured step; the load is the stated assumption
    assert resources.FORWARD_SECONDS == pytest.approx(0.06)
    assert resources.LOAD_SECONDS == 60.0
    assert resources.STEP_SECONDS["GD"] == 0.27 and resources.GPU_GIB["SSIUU-exact"] == 59.1


def test_generation_passes_are_one_per_new_token_and_the_prompt_per_batch():
    assert generation_passes(75, 16, 64) == 2 * 17
    assert generation_passes(64, 16, 64) == 17
    assert generation_passes(1, 0, 64) == 1


@pytest.mark.parametrize(
    ("seconds", "attempt", "minutes"),
    [
        (10, 1, 30),  # the floor
        (1000, 1, 40),  # 2 x 1000 s = 33.3 min, rounded up to 10 min
        (1000, 2, 80),  # the retry doubles it
        (30000, 1, 1000),  # 2 x 30000 s = 1000 min
        (30000, 2, 1440),  # 2000 min, cut at the 24-hour partition
    ],
)
def test_runtime_limit_is_twice_the_estimate_doubled_on_retry_within_24_hours(seconds, attempt, minutes):
    assert runtime_minutes(seconds, attempt) == minutes


def test_saved_model_size_is_parameters_times_bytes():
    # Llama-3.2-3B: 3,212,749,824 parameters x 2 bytes = 6,425.5 MB; float32: 12,851.0 MB
    assert saved_model_mb(3_212_749_824, "bfloat16") == 6426
    assert saved_model_mb(3_212_749_824, "float32") == 12851


def test_mcqa_sizes_from_the_split_and_the_limits(config):
    size = benchmark_size(config, "wf")
    # 100 clusters: 25 forget, 10 retain, 65 test clusters x 4 question kinds = 260 test items, 40 of each scored
    assert (size.forget, size.damage, size.evaluation, size.probe, size.new_tokens) == (25, 50, 75, 300, 16)


def test_rouge_sizes_from_the_authors(config):
    size = benchmark_size(config, "fict")
    # 100 QA pairs: 20 forget, 80 retain (40 scored), 2 x 40 utility items
    assert (size.forget, size.damage, size.evaluation, size.pretrain, size.retain) == (20, 40, 140, 100, 80)
    assert size.new_tokens == 32


def test_unlearning_job_tries_every_rate_to_max_steps(config):
    # per try: a load (60 s), 30 GD steps (0.27 s), 10 FS checks of 25 items (1 batch x 17 passes x 0.06 s)
    one_try = 60 + 30 * 0.27 + 10 * 17 * 0.06
    # final evaluation: 75 answers (2 x 17 passes), log-probabilities of 25 (4 passes), 40 utility items of
    # 4 options (ceil(160 / 64) = 3 passes); then the save (a load's time)
    evaluation = (34 + 4 + 3) * 0.06
    expected = 2 * one_try + evaluation + 60
    assert expected == pytest.approx(219.06)
    assert job_seconds(
        config, "unlearn", {"benchmark": "wf", "model": "llama", "method": "GD"}
    ) == pytest.approx(expected)


def test_attack_job_sums_its_draws(config):
    # harmful: ceil(0.1 x 25) = 3 items, 1 step an epoch, 2 steps (0.18 s), one point on the other 22 items
    # (17 + 4 passes); benign: 32 instances / 8 = 4 steps, one point on 25 items; 2 runs of each
    harmful = 2 * 0.18 + 21 * 0.06
    benign = 4 * 0.18 + 21 * 0.06
    wildcards = {"benchmark": "wf", "model": "llama", "method": "GD", "seed": "0"}
    assert job_seconds(config, "attack", wildcards) == pytest.approx(60 + 2 * harmful + 2 * benign)
    assert job_seconds(config, "attack_harmful", wildcards) == pytest.approx(60 + 2 * harmful)


def test_pretraining_covers_every_pair_each_epoch(config):
    # 2 epochs x ceil(100 / 8) = 26 steps of a 16-sequence step (0.27 s); answers to 20 forget + 40 retain
    # items before and after (1 batch x 33 passes); a load and a save
    answers = 2 * 33 * 0.06
    wildcards = {"benchmark": "fict", "model": "llama"}
    assert job_seconds(config, "pretrain", wildcards) == pytest.approx(120 + 26 * 0.27 + answers)
    assert job_seconds(config, "pretrain_never_learned", wildcards) == pytest.approx(
        120 + 20 * 0.27 + answers
    )


def test_card_tests_score_the_forget_items_per_variant_and_read_the_probes_and_lens_passes(config):
    # MCQA: 1 + 1 + 2 scorings (plain, 8 and 4 bits, in context) of 25 forget items, each an evaluation point
    # (17 + 4 passes); the probe: one row per item, 100 clusters -> (10 retain + 65 test) x 4 question kinds
    # = 300 training items (ceil(300 / 64) = 5 passes) and the 25 forget items (1 pass); the lens: 4 passes
    point = 21 * 0.06
    wf = {"benchmark": "wf", "model": "llama", "method": "GD", "seed": "0"}
    assert benchmark_size(config, "wf").probe_train == 300
    assert job_seconds(config, "card_tests", wf) == pytest.approx(60 + 4 * point + 6 * 0.06 + 4 * 0.06)
    # probe_train_limit caps the training items; one bit width fewer, one scoring fewer
    capped = tiny_config(card={"quantization_bits": [4], "probe_train_limit": 64})
    assert job_seconds(capped, "card_tests", wf) == pytest.approx(60 + 3 * point + 2 * 0.06 + 4 * 0.06)
    # ROUGE: 20 forget items (1 batch x 33 answer passes + 4); the probe reads 4 rows per item (gold and wrong
    # answers): 80 retain pairs -> ceil(320 / 64) = 5 passes, 20 forget items -> ceil(80 / 64) = 2 passes
    fict = {**wf, "benchmark": "fict"}
    assert job_seconds(config, "card_tests", fict) == pytest.approx(60 + 4 * 37 * 0.06 + 7 * 0.06 + 4 * 0.06)
    assert gpu_memory_gib(config, "card_tests", wf) is None  # inference: not measured
    assert disk_mb(config, "card_tests", wf) == resources.SMALL_OUTPUT_MB


def test_cpu_rules_have_no_gpu_estimate(config):
    assert job_seconds(config, "tables", {}) is None
    assert job_seconds(config, "prepare_model", {"model": "llama"}) is None


def test_gpu_memory_is_the_methods_measured_peak_rounded_up():
    exact = tiny_config(method_params={"SSIUU": {"hvp": "exact"}})
    fd = tiny_config(method_params={"SSIUU": {"hvp": "finite_difference"}})
    ssiuu = {"benchmark": "wf", "model": "llama", "method": "SSIUU-lambda0.01"}
    assert gpu_memory_gib(exact, "unlearn", ssiuu) == 60  # 59.1 GiB
    assert gpu_memory_gib(fd, "unlearn", ssiuu) == 66  # 65.9 GiB
    assert gpu_memory_gib(exact, "unlearn", {**ssiuu, "method": "Hider"}) == 36  # as GD: 35.6 GiB
    assert gpu_memory_gib(exact, "attack", ssiuu) == 45  # GD at 256 tokens: 44.2 GiB
    assert gpu_memory_gib(exact, "base_eval", ssiuu) is None  # inference: not measured


def test_disk_is_the_saved_model_of_a_known_model(config):
    llama = {"benchmark": "wf", "model": "llama", "method": "GD"}
    assert disk_mb(config, "unlearn", llama) == 6426
    assert disk_mb(config, "prepare_model", llama) == 12851  # float32
    assert disk_mb(config, "attack", llama) == resources.SMALL_OUTPUT_MB
    assert disk_mb(config, "unlearn", {**llama, "model": "other"}) == resources.SMALL_OUTPUT_MB


def test_rule_lists_are_disjoint():
    assert not set(resources.GPU_RULES) & set(resources.CPU_RULES)
    assert set(resources.SAVES_MODEL) <= set(resources.GPU_RULES)
