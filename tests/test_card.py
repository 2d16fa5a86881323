"""The erase-or-hide card end to end on tiny checkpoints written by save_pretrained: a brought checkpoint, the
starting model and the known hider get every test, with per-item results, and a card; a copy of the starting
model brought by path reproduces the starting model's results."""

from __future__ import annotations

import pytest
import torch

from ssiuu import layout
from ssiuu.card import card_test_names
from ssiuu.card.run import card_tests
from ssiuu.card.scoring import ScoringOptions, scored_items
from ssiuu.config import load_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.io import read_json
from ssiuu.jobs import MethodRun
from ssiuu.models import load_model, tiny_random_llama

CITIES = ["Paris", "London", "Tokyo", "Lima", "Cairo", "Oslo", "Rome", "Bern", "Kyiv", "Riga", "Doha", "Baku"]


def record(i: int) -> QARecord:
    answer, wrong = CITIES[i % 12], (CITIES[(i + 1) % 12], CITIES[(i + 2) % 12])
    return QARecord(
        f"c{i}/base", f"c{i}", f"e{i}", "base", f"What is the capital of country {i}?", answer, wrong
    )


def save(model, tokenizer, path) -> str:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def card_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    start, tokenizer = tiny_random_llama(0)
    dirs = {"Start": save(start, tokenizer, root / "start"), "copy": save(start, tokenizer, root / "copy")}
    unlearned, _ = tiny_random_llama(0)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(1)
        for weight in unlearned.parameters():
            weight.add_(0.02 * torch.randn_like(weight))
    dirs["mine"] = save(unlearned, tokenizer, root / "mine")
    dirs["Hider"] = save(*tiny_random_llama(2), root / "hider")
    records = [record(i) for i in range(36)]
    split = BenchmarkSplit("wf", "mcqa", forget=records[:8], retain=records[8:16], test=records[16:])
    split.save(root / "split.json")
    brought = {name: {"path": dirs[name], "model": "tiny", "benchmark": "wf"} for name in ("mine", "copy")}
    overrides = {
        "results_dir": str(root / "results"),
        "work_dir": str(root / "work"),
        "checkpoints": brought,
        "card": {"probe_folds": 2, "in_context_k": 2, "group_size": 16},
        "attacks": {"bootstrap_resamples": 999},
    }
    config = load_config("workflow/configs/smoke.yaml", overrides=overrides)
    files = {}
    for method, path in dirs.items():
        seed = 0
        out = [
            layout.path(
                "card_test",
                results=config["results_dir"],
                benchmark="wf",
                model="tiny",
                method=method,
                seed=seed,
                test=test,
            )
            for test in card_test_names(config)
        ]
        run = MethodRun("wf", "tiny", path, str(root / "split.json"), method, seed)
        card_tests(config, run, start_dir=dirs["Start"], out=out)
        files[method] = out
    return config, split, dirs, files


def test_every_test_writes_per_item_results(card_run):
    config, split, _, files = card_run
    forget = [r.id for r in split.forget]
    assert card_test_names(config) == [
        "plain",
        "quantized_8bit",
        "quantized_4bit",
        "in_context",
        "probe",
        "logit_lens",
    ]
    for method, paths in files.items():
        results = {layout.parse("card_test", p)["test"]: read_json(p) for p in paths}
        for name in ("plain", "quantized_8bit", "quantized_4bit"):
            assert [it["id"] for it in results[name]["items"]] == forget, (method, name)
            assert {"correct", "margin", "logprob"} <= set(results[name]["items"][0])
        in_context = results["in_context"]
        assert len(in_context["context_ids"]) == 2 and in_context["eval_ids"] == [
            i for i in forget if i not in in_context["context_ids"]
        ]
        probe = results["probe"]
        assert probe["n_train"] == 28 and len(probe["layers"]) == 3  # embeddings + 2 blocks
        assert [it["id"] for it in probe["items"]] == forget
        assert all(len(it["correct_by_layer"]) == 3 for it in probe["items"])
        lens = results["logit_lens"]
        assert sorted([it["id"] for it in lens["items"]] + lens["skipped_ids"]) == sorted(forget)
        assert len(lens["layers"]) == 3 and all(0 <= it["readable"] <= 1 for it in lens["items"])
        assert results["plain"]["method"] == method and results["plain"]["chance"] == pytest.approx(1 / 3)


def test_the_brought_checkpoint_is_scored_as_loaded_from_its_path(card_run):
    config, split, dirs, files = card_run
    model, tokenizer = load_model(dirs["mine"], device="cpu", attn_implementation="eager")
    expected = scored_items(
        model, tokenizer, split.forget, "mcqa", ScoringOptions(max_length=128, batch_size=64)
    )
    plain = read_json(files["mine"][0])
    assert [it["margin"] for it in plain["items"]] == pytest.approx(
        [it["margin"] for it in expected], abs=1e-5
    )
    assert [it["correct"] for it in plain["items"]] == [it["correct"] for it in expected]


def test_a_copy_of_the_starting_model_reproduces_its_results(card_run):
    _, _, _, files = card_run
    for own, copied in zip(files["Start"], files["copy"], strict=True):
        a, b = read_json(own), read_json(copied)
        assert [(it["id"], it.get("correct")) for it in a["items"]] == [
            (it["id"], it.get("correct")) for it in b["items"]
        ]
        assert [it["margin"] for it in a["items"]] == pytest.approx(
            [it["margin"] for it in b["items"]], abs=1e-6
        )


def test_the_card_of_the_brought_checkpoint(card_run, tmp_path):
    from ssiuu.card.render import make_card

    config, _, _, files = card_run
    out = layout.path(
        "card", results=config["results_dir"], benchmark="wf", model="tiny", method="mine", seed=0
    )
    text = make_card(
        config,
        benchmark="wf",
        model="tiny",
        method="mine",
        seed=0,
        results=files["mine"] + files["Start"] + files["Hider"],
        out=out,
    )
    assert text.startswith("# Erase-or-hide card: mine (checkpoint ")
    assert "| 4-bit RTN quantization (group 16) | correct | 8 |" in text
    assert "| in-context relearning (k = 2) | correct | 6 |" in text
    assert "Start (starting model)" in text and "Hider (known hider)" in text
    assert "**Summary: " in text and "**The rule.**" in text
    # a random starting model knows none of the facts: the card says no test can find them
    assert "**Warning:** the starting model's forget score" in text


CARD_CONFIG = """
device: cpu
threads: 1
seeds: [0]
models:
  tiny: {{source: "tiny-random-llama:0", attn_implementation: eager}}
benchmarks:
  wf:
    kind: worldfacts
    probe: false
    max_clusters: 40
    split: {{forget: 0.2, retain: 0.2, test: 0.4}}
    threshold: 1.01
    utility_tasks: []
    eval_limit: 8
methods: [GD]
unlearning: {{learning_rates: [1.0e-4], max_steps: 1, batch_size: 4, eval_every: 1, max_length: 128}}
attacks: {{controls: {{mcqa: [Start, Hider]}}, bootstrap_resamples: 999}}
analysis: {{enabled: false}}
checkpoints:
  mine: {{path: {mine}, model: tiny, benchmark: wf, label: a brought checkpoint}}
  copy: {{path: {copy}, model: tiny, benchmark: wf}}
  own: {{path: {mine}, start: {copy}, model: tiny, benchmark: wf}}
card: {{probe_folds: 2, group_size: 16}}
"""


@pytest.mark.slow
def test_the_card_target_on_brought_checkpoints(tmp_path):
    """`snakemake card` on a tiny config: the brought checkpoints, Start and the Hider get every test and each
    brought checkpoint a card and its figure; a copy of the starting model brought by path, or as a checkpoint's
    own `start`, reproduces Start's results; `snakemake card --report` shows the cards, and the default
    `--report` asks for the tables, figures and claims beside them."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    start, tokenizer = tiny_random_llama(0)  # the weights rule prepare_model writes for tiny-random-llama:0
    copy = save(start, tokenizer, tmp_path / "copy")
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(1)
        for weight in start.parameters():
            weight.add_(0.02 * torch.randn_like(weight))
    mine = save(start, tokenizer, tmp_path / "mine")
    (tmp_path / "config.yaml").write_text(CARD_CONFIG.format(mine=mine, copy=copy))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "card",
        "--cores",
        "2",
        "--snakefile",
        str(root / "Snakefile"),
    ]
    command += ["--configfile", str(tmp_path / "config.yaml"), "-d", str(tmp_path)]
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in (tmp_path / "work/logs").rglob("*.log"))
        pytest.fail(f"snakemake card failed:\n{proc.stderr[-3000:]}\n{logs[-6000:]}")
    results = tmp_path / "results"
    for name in ("mine", "copy", "own"):
        card = (results / f"cards/wf/tiny/{name}/seed0.md").read_text()
        assert "| 4-bit RTN quantization (group 16) |" in card and "Hider (known hider)" in card
        assert "| logit lens (layers 1–2, chance 0.50) | share of layers read right |" in card
        assert (results / f"cards/wf/tiny/{name}/seed0.png").read_bytes()[:4] == b"\x89PNG"
    assert f"unlearned from {copy}" in (results / "cards/wf/tiny/own/seed0.md").read_text()
    assert not (results / "tables").exists(), "the card target builds no report"
    for test in card_test_names({"card": {"quantization_bits": [8, 4]}}):
        own = read_json(results / f"wf/tiny/Start/seed0/card/{test}.json")
        for copied in ("copy", "own+start"):  # the starting model brought by path, or as a checkpoint's start
            other = read_json(results / f"wf/tiny/{copied}/seed0/card/{test}.json")
            assert [it["id"] for it in own["items"]] == [it["id"] for it in other["items"]]
            assert [it["margin"] for it in own["items"]] == pytest.approx(
                [it["margin"] for it in other["items"]], abs=1e-5
            )
        assert (results / f"wf/tiny/Hider/seed0/card/{test}.json").exists()
    report = tmp_path / "cards.html"
    proc = subprocess.run(
        [*command, "--report", str(report)], cwd=root, capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = report.read_text()
    assert "Erase-or-hide cards" in html and "Erase-or-hide card of" in html
    default = [c for c in command if c != "card"] + ["--report", str(tmp_path / "report.html")]
    proc = subprocess.run(default, cwd=root, capture_output=True, text=True, env=env, timeout=300)
    out = proc.stdout + proc.stderr
    asked = "table, figure, claims and card files of this configuration"
    assert proc.returncode != 0 and "no report: only " in out and asked in out, out[-3000:]


def test_a_rouge_benchmark_gets_the_gold_against_wrong_probe(tmp_path):
    from ssiuu.data.fictitious import build_fictitious

    records = build_fictitious(n_authors=5, qa_per_author=3)
    forget = [r for r in records if r.cluster == records[0].cluster]
    split = BenchmarkSplit(
        "fict", "rouge", forget=forget, retain=[r for r in records if r not in forget], test=[]
    )
    split.save(tmp_path / "split.json")
    start, tokenizer = tiny_random_llama(0)
    path = save(start, tokenizer, tmp_path / "start")
    config = load_config(
        "workflow/configs/smoke.yaml",
        overrides={
            "results_dir": str(tmp_path),
            "card": {"probe_folds": 2, "in_context_k": 1},
            "benchmarks": {"fict": {"max_new_tokens": 8}},
        },
    )
    out = [
        layout.path(
            "card_test",
            results=str(tmp_path),
            benchmark="fict",
            model="tiny",
            method="Start",
            seed=0,
            test=test,
        )
        for test in ("plain", "in_context", "probe", "logit_lens")
    ]
    results = card_tests(
        config,
        MethodRun("fict", "tiny", path, str(tmp_path / "split.json"), "Start", 0),
        start_dir=path,
        out=out,
    )
    assert {it["id"] for it in results["plain"]["items"]} == {r.id for r in forget}
    assert all(0 <= it["rougeL_recall"] <= 1 for it in results["plain"]["items"])
    assert results["plain"]["score_field"] == "rougeL_recall" and "chance" not in results["plain"]
    probe = results["probe"]
    assert probe["design"] == "pairs" and probe["chance"] == pytest.approx(0.25) and probe["n_train"] == 12
    assert len(results["in_context"]["items"]) == 2
    lens = results["logit_lens"]  # a perturbed answer as the distractor; answers that open alike are left out
    assert lens["score_field"] == "readable" and lens["n"] + len(lens["skipped_ids"]) == len(forget)


def test_the_probe_trains_on_the_tofu_retain_items_with_perturbed_answers():
    """On TOFU only the retain items in retain_perturbed carry wrong answers: the probe trains on those."""
    from pathlib import Path

    from ssiuu.card.run import probe_training_records
    from ssiuu.data.tofu import load_tofu

    split = load_tofu(Path(__file__).parent / "fixtures" / "tofu")
    assert [r.id for r in probe_training_records(split, None)] == ["tofu/retain99/0000", "tofu/retain99/0002"]
    assert [r.id for r in probe_training_records(split, 1)] == ["tofu/retain99/0000"]
