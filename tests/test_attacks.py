"""Retraining attacks (paper §3.1, App. D.2): attack pool, attack/evaluation split, score, aggregation."""

from __future__ import annotations

import math
import statistics

import pytest

from ssiuu import attacks, layout
from ssiuu.attacks import attack_pool, attack_score, draw_attack_data, recorded_items, recovery_summary
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


def test_pool_holds_only_wrongly_answered_items_for_mcqa_and_everything_for_rouge():
    recs = _records(6)
    correct = {r.id: i % 3 == 0 for i, r in enumerate(recs)}  # q0, q3 right
    assert [r.id for r in attack_pool(recs, correct, "mcqa")] == ["q1", "q2", "q4", "q5"]
    assert attack_pool(recs, {}, "rouge") == recs
    with pytest.raises(ValueError, match="no per-item answer"):
        attack_pool(recs, {"q0": True}, "mcqa")


@pytest.mark.parametrize(("p", "expected"), [(0.1, 1), (0.3, 2), (0.01, 1), (0.5, 3), (1.0, 6)])
def test_attack_data_is_ceil_p_of_the_pool_and_evaluation_is_the_rest_of_the_pool(p, expected):
    """Hand-made case: 10 forget items, 6 answered wrongly; chance-correct items are never scored (§6.2.2)."""
    forget = _records(10)
    correct = {r.id: i in (0, 3, 7, 9) for i, r in enumerate(forget)}
    pool = attack_pool(forget, correct, "mcqa")
    assert [r.id for r in pool] == ["q1", "q2", "q4", "q5", "q6", "q8"]
    attack, evaluation = draw_attack_data(pool, p, seed=7)
    assert len(attack) == expected  # ⌈p·6⌉, at least 1
    assert len(evaluation) == 6 - expected
    assert not {r.id for r in attack} & {r.id for r in evaluation}
    assert {r.id for r in attack} | {r.id for r in evaluation} == {r.id for r in pool}
    assert not {r.id for r in evaluation} & {"q0", "q3", "q7", "q9"}
    again, _ = draw_attack_data(list(reversed(pool)), p, seed=7)  # pool order does not matter
    assert [r.id for r in again] == [r.id for r in attack]


def test_ceil_is_exact_where_p_times_n_is_an_integer_in_decimal():
    """0.3 × 10 is 3.0000000000000004 in binary floating point: the draw is 3 items, not 4."""
    attack, evaluation = draw_attack_data(_records(10), 0.3, seed=0)
    assert (len(attack), len(evaluation)) == (3, 7)


def test_draw_rejects_bad_fraction_and_empty_pool():
    forget = _records(3)
    with pytest.raises(ValueError, match="fraction"):
        draw_attack_data(forget, 0.0, seed=0)
    with pytest.raises(ValueError, match="pool is empty"):
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


def _split_and_unlearn(tmp_path, correct: list[bool], style: str = "mcqa"):
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.io import write_json

    forget = _records(len(correct))
    split = tmp_path / "split.json"
    BenchmarkSplit(
        name="wf", style=style, forget=forget, retain=_records(len(correct) + 2)[len(correct) :], test=[]
    ).save(split)
    unlearn = tmp_path / "unlearn.json"
    write_json(
        unlearn,
        {
            "per_item": {
                "forget": [
                    {"id": r.id, "correct": c, "rougeL_recall": 0.1 * i, "logprob": -3.0 - i}
                    for i, (r, c) in enumerate(zip(forget, correct))
                ]
            }
        },
    )
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


def test_empty_pool_has_nothing_to_score_and_trains_nothing(monkeypatch, tmp_path):
    """A model that forgot nothing has no attack pool: no evaluation items, no model load, no training."""
    from ssiuu.config import validate_config

    split, unlearn, base = _split_and_unlearn(tmp_path, [True] * 4)
    monkeypatch.setattr(attacks, "load_for", lambda *a, **k: pytest.fail("nothing to score: no model load"))
    monkeypatch.setattr(attacks, "train", lambda *a, **k: pytest.fail("an empty pool must not train"))
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    out = layout.path(
        "harmful", results=tmp_path, benchmark="wf", model="m", method="RMU", seed=0, p=0.1, lr=1e-5, run=0
    )
    where = {"benchmark": "wf", "model": "m", "method": "RMU", "seed": 0, "checkpoint": "unused"}
    files = {"split": split, "unlearn_result": unlearn, "base_result": base}
    (result,) = attacks.run_attacks(config, out=[out], **where, **files)
    assert result["n_attack"] == 0 and result["attack_ids"] == [] and result["eval_ids"] == []
    assert result["max_fs"] is None and result["curve"] == []
    assert read_json(out) == result
    elsewhere = layout.path(
        "harmful", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0, p=0.1, lr=1e-5, run=0
    )
    with pytest.raises(ValueError, match="names {'method': 'GD'}"):
        attacks.run_attacks(config, out=[elsewhere], **where, **files)


def test_step_zero_and_start_come_from_the_recorded_per_item_values(monkeypatch, tmp_path):
    """Step 0 is the unlearned model's own evaluation of the evaluation items; the benign attack scores the pool."""
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
    assert result["eval_ids"] == ["q0", "q2", "q3"]  # q1 was answered right by chance
    point = result["curve"][0]
    assert point["item_scores"] == [0.0, 0.0, 0.0] and point["item_logprobs"] == [-3.0, -5.0, -6.0]
    assert result["start_logprobs"] == [-1.0, -1.0, -1.0]
    assert result["logprob_drop"] == pytest.approx(-1.0 - statistics.fmean([-3.0, -5.0, -6.0]))
    assert (
        recorded_items({"per_item": {"forget": [{"id": "q0", "correct": True}]}}, _records(1), "mcqa") is None
    )


def test_a_reference_model_draws_from_the_whole_forget_set(tmp_path):
    """The starting model answers every forget item right, yet as a reference it is attacked on all of them."""
    from ssiuu.attacks import attack_sets
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.io import read_json

    split, unlearn, _ = _split_and_unlearn(tmp_path, [True] * 10)
    split_obj, result = BenchmarkSplit.load(split), read_json(unlearn)
    assert attack_sets("harmful", split_obj, result, 0.3, seed=1)[2] == []
    attack, evaluation, pool = attack_sets("harmful", split_obj, result | {"reference": True}, 0.3, seed=1)
    assert len(pool) == 10 and (len(attack), len(evaluation)) == (3, 7)


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


def test_a_calibration_draw_cut_to_e_epochs_is_the_e_epoch_attack(tmp_path):
    """The calibration sweep reads every epoch count off one long draw (ssiuu/report/calibration.py): the draw's
    first two epochs equal a two-epoch attack, point for point (constant learning rate, seeded data order)."""
    from ssiuu.report.calibration import first_epochs

    config, where = _tiny_checkpoint(tmp_path, {"attack_calibration": {"harmful": {"epochs": 4}}})
    names = {"benchmark": "wf", "model": "m", "method": "GD", "seed": 0, "lr": 1e-3, "p": 0.3, "run": 0}
    (attack,) = attacks.run_attacks(config, out=[layout.path("harmful", results=tmp_path, **names)], **where)
    calibration_path = layout.path("calibration_harmful", results=tmp_path, **names)
    (long,) = attacks.run_attacks(config, out=[calibration_path], **where)
    assert long["config"]["epochs"] == 4 and attack["config"]["epochs"] == 2
    assert long["steps_per_epoch"] == attack["steps_per_epoch"] >= 1
    assert len(long["curve"]) == 5 and long["curve"][-1]["step"] == 4 * long["steps_per_epoch"]
    assert first_epochs(long, 2)["curve"] == attack["curve"]
    assert long["curve"][-1]["item_logprobs"] != attack["curve"][-1]["item_logprobs"]  # it trained on
    with pytest.raises(ValueError, match="not an attack result path; expected one of"):
        unlearn_path = layout.path(
            "unlearn", results=tmp_path, benchmark="wf", model="m", method="GD", seed=0
        )
        attacks.run_attacks(config, out=[unlearn_path], **where)


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
