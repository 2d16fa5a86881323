"""Retraining attacks (paper §3.1, App. D.2): paired draws (docs/results.md), attack/evaluation split, score,
the per-item values of every evaluation point."""

from __future__ import annotations

import math
import statistics

import pytest

from ssiuu import attacks, layout
from ssiuu.attacks import attack_score, draw_attack_data, recorded_items, recovery_summary
from ssiuu.data.records import QARecord
from ssiuu.evaluation.logprob import recovered_fraction
from ssiuu.io import read_json


def _records(n: int) -> list[QARecord]:
    return [
        QARecord(
            id=f"q{i}",
            cluster=f"c{i}",
            entity=f"e{i}",
            kind="base",
            question=f"Question {i}?",
            answer=f"gold{i}",
            false_options=(f"wrong{i}a", f"wrong{i}b"),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(("p", "expected"), [(0.1, 1), (0.3, 2), (0.01, 1), (0.5, 3), (1.0, 6)])
def test_attack_data_is_ceil_p_of_the_forget_items_and_evaluation_is_the_rest(p, expected):
    """Hand-made case: 6 forget items; the attack data and the evaluation items split them, in id order."""
    forget = _records(6)
    attack, evaluation = draw_attack_data(forget, p, seed=7)
    assert len(attack) == expected  # ⌈p·6⌉, at least 1
    assert len(evaluation) == 6 - expected
    assert not {r.id for r in attack} & {r.id for r in evaluation}
    assert {r.id for r in attack} | {r.id for r in evaluation} == {r.id for r in forget}
    assert [r.id for r in evaluation] == sorted(r.id for r in evaluation)
    again, _ = draw_attack_data(list(reversed(forget)), p, seed=7)  # the records' order does not matter
    assert [r.id for r in again] == [r.id for r in attack]


def test_the_draw_seed_is_of_run_and_p_alone_and_distinct_for_distinct_draws():
    ps = [None, 0.01, 0.05, 0.1, 0.3, 0.33, 0.5, 0.99, 1.0]
    seeds = {(run, p): attacks.attack_seed(run, p) for run in range(20) for p in ps}
    assert len(set(seeds.values())) == len(seeds)
    assert attacks.attack_seed(3, 0.1) == attacks.attack_seed(3, 0.1)
    with pytest.raises(ValueError, match="run"):
        attacks.attack_seed(-1, 0.1)


def test_ceil_is_exact_where_p_times_n_is_an_integer_in_decimal():
    """0.3 × 10 is 3.0000000000000004 in binary floating point: the draw is 3 items, not 4."""
    attack, evaluation = draw_attack_data(_records(10), 0.3, seed=0)
    assert (len(attack), len(evaluation)) == (3, 7)


def test_draw_rejects_bad_fraction_and_no_items():
    forget = _records(3)
    with pytest.raises(ValueError, match="fraction"):
        draw_attack_data(forget, 0.0, seed=0)
    with pytest.raises(ValueError, match="no forget items"):
        draw_attack_data([], 0.1, seed=0)


def test_score_is_the_max_of_the_curve_including_step_zero():
    assert attack_score([[0, 0.3], [2, 0.55], [4, 0.4]]) == 0.55
    assert attack_score([[0, 0.7], [2, 0.1]]) == 0.7
    with pytest.raises(ValueError):
        attack_score([])


def test_recovered_fraction_on_a_hand_computed_curve():
    """start −1.0, unlearned −3.0 (mean over two items); the attack reaches −2.5 then −1.5: 0.25 then 0.75."""
    curve = [
        {"step": 0, "fs": 0.0, "logprob": -3.0, "item_logprobs": [-2.0, -4.0]},
        {"step": 1, "fs": 0.0, "logprob": -2.5, "item_logprobs": [-2.0, -3.0]},
        {"step": 2, "fs": 0.5, "logprob": -1.5, "item_logprobs": [-1.0, -2.0]},
    ]
    summary = recovery_summary(curve, start=[-0.5, -1.5])
    assert summary["logprob_drop"] == pytest.approx(2.0)
    assert [pt["recovered_fraction"] for pt in curve] == pytest.approx([0.0, 0.25, 0.75])
    assert [pt["logprob_gain"] for pt in curve] == pytest.approx([0.0, 0.5, 1.5])
    assert summary["max_recovered_fraction"] == pytest.approx(0.75)
    assert summary["max_logprob_gain"] == pytest.approx(1.5)
    assert math.isnan(recovered_fraction(-1.0, -1.0, -1.0))  # unlearning moved nothing: undefined


def _unlearn_entries(correct: list[bool], offset: float = 0.0) -> list[dict]:
    """Per-item forget entries of an unlearn.json: score fields, log-probability and margin per item."""
    return [
        {
            "id": f"q{i}",
            "correct": c,
            "rougeL_recall": 0.1 * i,
            "logprob": -3.0 - i - offset,
            "margin": -0.5 + 0.25 * i - offset,
        }
        for i, c in enumerate(correct)
    ]


def _split_and_unlearn(tmp_path, correct: list[bool], style: str = "mcqa"):
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.io import write_json

    forget = _records(len(correct))
    split = tmp_path / "split.json"
    BenchmarkSplit(
        name="wf", style=style, forget=forget, retain=_records(len(correct) + 2)[len(correct) :], test=[]
    ).save(split)
    unlearn = tmp_path / "unlearn.json"
    write_json(unlearn, {"per_item": {"forget": _unlearn_entries(correct)}})
    base = tmp_path / "base.json"
    write_json(
        base,
        {
            "per_item": {
                "forget": [
                    {"id": r.id, "correct": True, "rougeL_recall": 1.0, "logprob": -1.0} for r in forget
                ]
            }
        },
    )
    return str(split), str(unlearn), str(base)


def test_a_draw_taking_every_item_has_nothing_to_score_and_trains_nothing(monkeypatch, tmp_path):
    """p = 1 draws every forget item as attack data: no evaluation items, no model load, no training."""
    from ssiuu.config import validate_config

    split, unlearn, base = _split_and_unlearn(tmp_path, [True] * 4)
    monkeypatch.setattr(attacks, "load_for", lambda *a, **k: pytest.fail("nothing to score: no model load"))
    monkeypatch.setattr(attacks, "train", lambda *a, **k: pytest.fail("nothing to score: no training"))
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    out = layout.path(
        "harmful", results=tmp_path, benchmark="wf", model="m", method="RMU", seed=0, p=1.0, lr=1e-5, run=0
    )
    where = {"benchmark": "wf", "model": "m", "method": "RMU", "seed": 0, "checkpoint": "unused"}
    files = {"split": split, "unlearn_result": unlearn, "base_result": base}
    (result,) = attacks.run_attacks(config, out=[out], **where, **files)
    assert (
        sorted(result["attack_ids"]) == ["q0", "q1", "q2", "q3"] and result["n_attack"] == 0
    )  # none trained
    assert result["eval_ids"] == [] and result["curve"] == []
    assert result["max_fs"] is None and result["end_fs"] is None and result["end_margin"] is None
    assert read_json(out) == result
    elsewhere = layout.path(
        "harmful", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0, p=0.1, lr=1e-5, run=0
    )
    with pytest.raises(ValueError, match="names {'method': 'GD'}"):
        attacks.run_attacks(config, out=[elsewhere], **where, **files)


def test_step_zero_and_start_come_from_the_recorded_per_item_values(monkeypatch, tmp_path):
    """Step 0 is the unlearned model's own evaluation of the evaluation items; the benign attack scores every
    forget item, those answered right by chance too (the §6.2.2 score reads the step-0 zeros)."""
    from ssiuu.config import validate_config

    split, unlearn, base = _split_and_unlearn(tmp_path, [False, True, False, False])
    monkeypatch.setattr(attacks, "restored_checkpoint", lambda *a, **k: (object(), object()))
    monkeypatch.setattr(attacks, "benign_pairs", lambda *a, **k: [("q", "a")])
    monkeypatch.setattr(attacks, "train", lambda *a, **k: None)  # the step-0 point alone
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    out = layout.path(
        "benign", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0, lr=1e-5, run=0
    )
    (result,) = attacks.run_attacks(
        config,
        benchmark="wf",
        model="m",
        method="GD",
        seed=0,
        checkpoint="unused",
        split=split,
        unlearn_result=unlearn,
        base_result=base,
        out=[out],
    )
    assert result["eval_ids"] == ["q0", "q1", "q2", "q3"]
    point = result["curve"][0]
    assert point["item_scores"] == [0.0, 1.0, 0.0, 0.0] and point["item_logprobs"] == [-3.0, -4.0, -5.0, -6.0]
    assert point["item_margins"] == [-0.5, -0.25, 0.0, 0.25]
    assert point["margin"] == pytest.approx(-0.125) and point["fs"] == pytest.approx(0.25)
    assert result["end_fs"] == point["fs"] and result["end_margin"] == point["margin"]
    wrongly = [i for i, s in zip(result["eval_ids"], point["item_scores"]) if s == 0]
    assert wrongly == ["q0", "q2", "q3"]  # the §6.2.2 items, read from the file
    assert result["start_logprobs"] == [-1.0] * 4
    assert result["logprob_drop"] == pytest.approx(-1.0 - statistics.fmean([-3.0, -4.0, -5.0, -6.0]))
    no_logprob = {"per_item": {"forget": [{"id": "q0", "correct": True, "margin": 0.1}]}}
    assert recorded_items(no_logprob, _records(1), "mcqa") is None
    no_margin = {"per_item": {"forget": [{"id": "q0", "correct": True, "logprob": -1.0}]}}
    assert recorded_items(no_margin, _records(1), "mcqa") is None  # an unlearn.json written before margins
    assert recorded_items(no_margin, _records(1), "mcqa", fields=("logprobs",)) == {"logprobs": [-1.0]}


def test_step_zero_is_scored_when_the_unlearning_result_holds_no_margins(monkeypatch, tmp_path):
    """An unlearn.json without per-item margins: the step-0 point is computed on the checkpoint, not read."""
    from ssiuu.config import validate_config
    from ssiuu.io import write_json

    split, unlearn, base = _split_and_unlearn(tmp_path, [False, True, False])
    old = read_json(unlearn)
    for item in old["per_item"]["forget"]:
        del item["margin"]
    write_json(unlearn, old)
    scored = []

    def point(model, tokenizer, records, style, *, step, **_):
        scored.append(step)
        n = len(records)
        return attacks.point_of(step, [0.0] * n, [-2.0] * n, [0.5] * n)

    monkeypatch.setattr(attacks, "restored_checkpoint", lambda *a, **k: (object(), object()))
    monkeypatch.setattr(attacks, "evaluation_point", point)
    monkeypatch.setattr(attacks, "benign_pairs", lambda *a, **k: [("q", "a")])
    monkeypatch.setattr(attacks, "train", lambda *a, **k: None)
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    out = layout.path(
        "benign", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0, lr=1e-5, run=0
    )
    where = {"benchmark": "wf", "model": "m", "method": "GD", "seed": 0, "checkpoint": "unused"}
    (result,) = attacks.run_attacks(
        config, out=[out], split=split, unlearn_result=unlearn, base_result=base, **where
    )
    assert scored == [0] and result["curve"][0]["item_margins"] == [0.5] * 3


def test_every_model_is_attacked_with_the_same_draws_and_scored_on_the_same_items(monkeypatch, tmp_path):
    """Paired draws: two unlearned models (different methods, seeds and per-item answers) and the reference get
    the same attack data, training order and evaluation items for each (kind, p, run); other runs draw others."""
    from ssiuu.config import validate_config
    from ssiuu.io import write_json

    n = 20
    split, _, base = _split_and_unlearn(tmp_path, [False] * n)
    models = {
        ("GD", 0): {"per_item": {"forget": _unlearn_entries([i % 2 == 0 for i in range(n)])}},
        ("RMU", 3): {"per_item": {"forget": _unlearn_entries([i % 5 == 0 for i in range(n)], offset=1.0)}},
        ("Start", 0): {
            "reference": True,
            "per_item": {"forget": _unlearn_entries([True] * n, offset=-2.0)},
        },
    }
    trained, benign_seeds = [], []

    def train(model, tokenizer, loss, streams, *, seed, **_):
        trained.append((streams["attack"], seed))

    def benign(config, seed):
        benign_seeds.append(seed)
        return [(f"instruction {seed} {i}", "answer") for i in range(4)]

    monkeypatch.setattr(attacks, "restored_checkpoint", lambda *a, **k: (object(), object()))
    monkeypatch.setattr(attacks, "benign_pairs", benign)
    monkeypatch.setattr(attacks, "train", train)
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    draws = [("harmful", {"p": p, "run": r}) for p in (0.1, 0.3) for r in (0, 1, 2)]
    draws += [("benign", {"run": r}) for r in (0, 1)]
    sets: dict[tuple, list] = {}
    for (method, seed), unlearned in models.items():
        unlearn = tmp_path / f"{method}{seed}.json"
        write_json(unlearn, unlearned)
        names = {"benchmark": "wf", "model": "m", "method": method, "seed": seed, "lr": 1e-5}
        out = [layout.path(kind, results=tmp_path, **names, **draw) for kind, draw in draws]
        trained.clear()
        results = attacks.run_attacks(
            config,
            out=out,
            **{k: names[k] for k in ("benchmark", "model", "method", "seed")},
            checkpoint="unused",
            split=split,
            unlearn_result=str(unlearn),
            base_result=base,
        )
        for (kind, draw), result, (data, train_seed) in zip(draws, results, trained, strict=True):
            assert result["seed"] == seed and train_seed == result["attack_seed"]
            key = (kind, draw.get("p"), draw["run"])
            sets.setdefault(key, []).append(
                (result["attack_ids"], result["eval_ids"], result["attack_seed"], data)
            )
            items = dict(zip(result["eval_ids"], result["curve"][0]["item_margins"], strict=True))
            recorded = {e["id"]: e["margin"] for e in unlearned["per_item"]["forget"]}
            assert items == {i: recorded[i] for i in result["eval_ids"]}  # aligned with eval_ids
    all_ids = [f"q{i}" for i in range(n)]
    for (kind, p, _), per_model in sets.items():
        assert len(per_model) == 3 and all(m == per_model[0] for m in per_model[1:])  # identical for all
        attack_ids, eval_ids, _, data = per_model[0]
        if kind == "harmful":
            assert len(attack_ids) == math.ceil(p * n) and sorted(attack_ids + eval_ids) == sorted(all_ids)
            assert data == [(f"Question {i[1:]}?", f"gold{i[1:]}") for i in attack_ids]
        else:
            assert attack_ids == [] and eval_ids == sorted(all_ids)
    for p in (0.1, 0.3):  # other runs, other draws
        assert len({tuple(sets[("harmful", p, r)][0][0]) for r in (0, 1, 2)}) == 3
    assert sets[("benign", None, 0)][0][3] != sets[("benign", None, 1)][0][3]
    assert len(set(benign_seeds)) == 2 and len(benign_seeds) == 6


def test_attack_sets_ignore_the_model(tmp_path):
    """The sets of a draw are of the split, p and the seed: nothing of the unlearned model enters."""
    from ssiuu.attacks import attack_sets
    from ssiuu.data.records import BenchmarkSplit

    split, _, _ = _split_and_unlearn(tmp_path, [True] * 10)
    split_obj = BenchmarkSplit.load(split)
    attack, evaluation = attack_sets("harmful", split_obj, 0.3, seed=1)
    assert (len(attack), len(evaluation)) == (3, 7)
    assert attack_sets("benign", split_obj, None, seed=1) == (
        [],
        sorted(split_obj.forget_train, key=lambda r: r.id),
    )
    with pytest.raises(ValueError, match="needs --p"):
        attack_sets("harmful", split_obj, None, seed=1)


def _tiny_checkpoint(tmp_path, analysis=None):
    """(config, job arguments) of harmful attacks on a saved tiny random Llama, 8 wrongly answered items."""
    from ssiuu.config import validate_config
    from ssiuu.models import tiny_random_llama

    split, unlearn, base = _split_and_unlearn(tmp_path, [False] * 8)
    model_obj, tokenizer = tiny_random_llama(0)
    model_obj.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    config = validate_config(
        {
            "models": {"m": {"source": "tiny-random-llama:0"}},
            "benchmarks": {"wf": {"kind": "worldfacts", "max_new_tokens": 4}},
            "attacks": {"harmful": {"epochs": 2, "batch_size": 2}},
            "analysis": analysis or {},
        }
    )
    where = {
        "benchmark": "wf",
        "model": "m",
        "method": "GD",
        "seed": 0,
        "checkpoint": str(tmp_path / "ckpt"),
        "split": split,
        "unlearn_result": unlearn,
        "base_result": base,
    }
    return config, where


def test_draws_sharing_one_process_compute_what_separate_processes_compute(tmp_path):
    """One job runs every draw of a checkpoint (harmful, benign and calibration draws, in any order) on one loaded
    checkpoint, restoring its weights before each draw: every result equals the same draw computed alone from a
    fresh load of the checkpoint."""
    config, where = _tiny_checkpoint(tmp_path, {"attack_calibration": {"harmful": {"epochs": 3}}})
    config["attacks"]["benign"] |= {"n_instances": 6, "batch_size": 3}
    names = {"benchmark": "wf", "model": "m", "method": "GD", "seed": 0, "lr": 1e-3}
    draws = [("harmful", {"p": p, "run": r}) for p in (0.3, 0.5) for r in (0, 1)]
    draws += [
        ("benign", {"run": 1}),
        ("calibration_harmful", {"p": 0.3, "run": 0}),
        ("harmful", {"p": 0.3, "run": 2}),
    ]
    together = attacks.run_attacks(
        config, out=[layout.path(k, results=tmp_path / "together", **names, **d) for k, d in draws], **where
    )
    for (kind, draw), result in zip(draws, together, strict=True):
        alone_path = layout.path(kind, results=tmp_path / "alone", **names, **draw)
        (alone,) = attacks.run_attacks(config, out=[alone_path], **where)
        assert result["kind"] == kind.removeprefix("calibration_") and result["run"] == draw["run"]
        assert result["n_attack"] >= 2 and len(result["curve"]) >= 2  # step 0 and trained points
        moved = result["curve"][-1]["item_logprobs"] != result["curve"][0]["item_logprobs"]
        assert moved  # the attack trained the weights
        assert {k: v for k, v in result.items() if k != "wall_time_s"} == {
            k: v for k, v in alone.items() if k != "wall_time_s"
        }
        assert read_json(layout.path(kind, results=tmp_path / "together", **names, **draw)) == result
    assert together[5]["config"]["epochs"] == 3 and together[0]["config"]["epochs"] == 2


def test_every_point_of_a_tiny_attack_carries_margins_aligned_with_the_evaluation_items(tmp_path):
    """On the tiny model: every evaluation point holds FS, log-probability and margin per evaluation item; the
    last point's margins are those of the attacked model, item by item in eval_ids order; end_* are its means."""
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.evaluation.logprob import answer_margins

    config, where = _tiny_checkpoint(tmp_path)
    result, model_obj, tokenizer = attacks.attack(config, kind="harmful", p=0.3, lr=1e-3, run=0, **where)
    assert len(result["curve"]) == 3 and result["n_eval"] == 5 == len(result["eval_ids"])
    for point in result["curve"]:
        for field in ("item_scores", "item_logprobs", "item_margins"):
            assert len(point[field]) == len(result["eval_ids"])
        assert point["margin"] == pytest.approx(statistics.fmean(point["item_margins"]))
        assert point["fs"] == pytest.approx(statistics.fmean(point["item_scores"]))
    last = result["curve"][-1]
    assert result["end_fs"] == last["fs"] and result["end_margin"] == last["margin"]
    assert last["item_margins"] != result["curve"][0]["item_margins"]  # the attack moved them
    records = {r.id: r for r in BenchmarkSplit.load(where["split"]).forget_train}
    direct = answer_margins(
        model_obj,
        tokenizer,
        [records[i] for i in result["eval_ids"]],
        max_length=config["unlearning"]["max_length"],
        batch_size=1,
    )
    assert last["item_margins"] == pytest.approx(direct, abs=1e-5)


def test_a_calibration_draw_cut_to_e_epochs_is_the_e_epoch_attack(tmp_path):
    """The calibration sweep reads every epoch count off one long draw (ssiuu/report/calibration.py): the draw's
    first two epochs equal a two-epoch attack, point for point (constant learning rate, seeded data order)."""
    from ssiuu.report.calibration import first_epochs

    config, where = _tiny_checkpoint(tmp_path, {"attack_calibration": {"harmful": {"epochs": 4}}})
    where = where | {"method": "Start"}  # the starting model's draws record the damage the rule bounds
    names = {"benchmark": "wf", "model": "m", "method": "Start", "seed": 0, "lr": 1e-3, "p": 0.3, "run": 0}
    (attack,) = attacks.run_attacks(config, out=[layout.path("harmful", results=tmp_path, **names)], **where)
    calibration_path = layout.path("calibration_harmful", results=tmp_path, **names)
    (long,) = attacks.run_attacks(config, out=[calibration_path], **where)
    hider = {"method": "Hider"}  # another model's calibration draw is the same draw without the damage scores
    (other,) = attacks.run_attacks(
        config, out=[layout.path("calibration_harmful", results=tmp_path, **names | hider)], **where | hider
    )
    assert "retain_ids" not in other and all("retain_score" not in pt for pt in other["curve"])
    assert long["config"]["epochs"] == 4 and attack["config"]["epochs"] == 2
    assert long["steps_per_epoch"] == attack["steps_per_epoch"] >= 1
    assert len(long["curve"]) == 5 and long["curve"][-1]["step"] == 4 * long["steps_per_epoch"]
    damage = {"retain_score", "item_retain_scores"}  # a calibration draw also scores the retain items
    assert all(damage <= set(pt) for pt in long["curve"]) and not damage & set(attack["curve"][-1])
    cut = [{k: v for k, v in pt.items() if k not in damage} for pt in first_epochs(long, 2)["curve"]]
    assert cut == attack["curve"]
    assert long["curve"][-1]["item_logprobs"] != attack["curve"][-1]["item_logprobs"]  # it trained on
    with pytest.raises(ValueError, match="not an attack result path; expected one of"):
        unlearn_path = layout.path(
            "unlearn", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0
        )
        attacks.run_attacks(config, out=[unlearn_path], **where)


def test_a_calibration_draw_records_the_damage_to_the_retain_and_test_items_as_the_final_evaluation(tmp_path):
    """A calibration draw (only it) scores, at every evaluation point, the retain and test items of the final
    evaluation (the first eval_limit of each) as that evaluation scores them; step 0 reads them from the
    checkpoint's unlearn.json where recorded (the same weights), and scores them where not."""
    from ssiuu.config import calibration_config, validate_config
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.io import write_json
    from ssiuu.models import tiny_random_llama
    from ssiuu.unlearning import evaluate

    records = _records(14)
    split = tmp_path / "split.json"
    BenchmarkSplit(name="wf", style="mcqa", forget=records[:8], retain=records[8:11], test=records[11:]).save(
        split
    )
    model_obj, tokenizer = tiny_random_llama(0)
    model_obj.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    config = validate_config(
        {
            "models": {"m": {"source": "tiny-random-llama:0"}},
            "benchmarks": {
                "wf": {"kind": "worldfacts", "max_new_tokens": 4, "eval_limit": 2, "utility_tasks": []}
            },
            "attacks": {"harmful": {"epochs": 1, "batch_size": 2}},
            "analysis": {"attack_calibration": {"harmful": {"epochs": 2}}},
        }
    )
    forget = _unlearn_entries([False] * 8)
    unlearn, recorded = tmp_path / "unlearn.json", tmp_path / "recorded.json"
    write_json(unlearn, {"per_item": {"forget": forget}})
    # recorded retain/test answers the tiny model would not give: step 0 must read them, not score the model
    parts = {
        part: [{"id": r.id, "correct": 1.0} for r in recs]
        for part, recs in (("retain", records[8:10]), ("test", records[11:13]))
    }
    write_json(recorded, {"per_item": {"forget": forget} | parts})
    where = {
        "benchmark": "wf",
        "model": "m",
        "method": "Start",
        "seed": 0,
        "checkpoint": str(tmp_path / "ckpt"),
    }
    where |= {"split": str(split), "base_result": None}
    names = {"benchmark": "wf", "model": "m", "method": "Start", "seed": 0, "lr": 1e-3, "p": 0.3, "run": 100}
    out = layout.path("calibration_harmful", results=tmp_path, **names)
    (result,) = attacks.run_attacks(config, out=[out], unlearn_result=str(unlearn), **where)
    assert result["retain_ids"] == ["q8", "q9"] and result["test_ids"] == ["q11", "q12"]  # eval_limit = 2
    assert len(result["curve"]) == 3  # step 0 and two epochs
    for point in result["curve"]:
        for part in ("retain", "test"):
            assert len(point[f"item_{part}_scores"]) == 2
            assert point[f"{part}_score"] == pytest.approx(statistics.fmean(point[f"item_{part}_scores"]))
    # the attacked model's damage scores are the final evaluation's retain/test answers on the same weights
    calibrated = calibration_config(config, "harmful")
    options = {"kind": "harmful", "p": 0.3, "lr": 1e-3, "run": 100, **where}
    alone, model_after, tok = attacks.attack(calibrated, unlearn_result=str(unlearn), damage=True, **options)
    assert alone["curve"] == result["curve"]
    final = evaluate(config, "wf", model_after, tok, BenchmarkSplit.load(split))
    for part in ("retain", "test"):
        expected = [float(item["correct"]) for item in final["per_item"][part]]
        assert [item["id"] for item in final["per_item"][part]] == result[f"{part}_ids"]
        assert result["curve"][-1][f"item_{part}_scores"] == expected
    again, _, _ = attacks.attack(calibrated, unlearn_result=str(recorded), damage=True, **options)
    assert again["curve"][0]["item_retain_scores"] == again["curve"][0]["item_test_scores"] == [1.0, 1.0]
    assert again["curve"][1:] == result["curve"][1:]
    plain, _, _ = attacks.attack(calibrated, unlearn_result=str(unlearn), **options)
    assert "retain_ids" not in plain and not {"retain_score", "test_score"} & set(plain["curve"][-1])


def test_eval_interval_spells_every_epoch_a_step_count_or_the_end():
    assert attacks.eval_interval(None, steps_per_epoch=3, max_steps=6) == 3
    assert attacks.eval_interval(2, steps_per_epoch=3, max_steps=6) == 2
    assert attacks.eval_interval("end", steps_per_epoch=3, max_steps=6) == 6


def test_a_draw_scored_at_the_end_is_the_per_epoch_draw_without_its_middle_points(tmp_path):
    """``eval_every_steps: end`` scores step 0 and the last step only, and trains exactly as a draw scored every
    epoch: its two points equal that draw's first and last, item for item."""
    from ssiuu.config import validate_config

    config, where = _tiny_checkpoint(tmp_path)
    names = {"benchmark": "wf", "model": "m", "method": "GD", "seed": 0, "lr": 1e-3, "p": 0.3, "run": 0}
    (every_epoch,) = attacks.run_attacks(
        config, out=[layout.path("harmful", results=tmp_path / "a", **names)], **where
    )
    config_end = validate_config(
        config | {"attacks": {"harmful": config["attacks"]["harmful"] | {"eval_every_steps": "end"}}}
    )
    (at_end,) = attacks.run_attacks(
        config_end, out=[layout.path("harmful", results=tmp_path / "b", **names)], **where
    )
    assert len(every_epoch["curve"]) == 3 and len(at_end["curve"]) == 2
    assert at_end["curve"] == [every_epoch["curve"][0], every_epoch["curve"][-1]]
    assert at_end["config"]["eval_every_steps"] == "end"
