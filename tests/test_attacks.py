"""Retraining attacks (paper §3.1, App. D.2): attack pool, attack/evaluation split, score, aggregation."""

from __future__ import annotations

import math
import statistics

import pytest

from ssiuu import attacks
from ssiuu.attacks import aggregate_runs, attack_pool, attack_score, draw_attack_data
from ssiuu.data.records import QARecord


def _records(n: int) -> list[QARecord]:
    return [
        QARecord(id=f"q{i}", cluster=f"c{i}", entity=f"e{i}", kind="base", question=f"Question {i}?",
                 answer=f"gold{i}", false_options=(f"wrong{i}a", f"wrong{i}b"))
        for i in range(n)
    ]


def test_pool_holds_only_wrongly_answered_items_for_mcqa_and_everything_for_rouge():
    recs = _records(6)
    correct = {r.id: i % 3 == 0 for i, r in enumerate(recs)}  # q0, q3 right
    assert [r.id for r in attack_pool(recs, correct, "mcqa")] == ["q1", "q2", "q4", "q5"]
    assert attack_pool(recs, {}, "rouge") == recs
    with pytest.raises(ValueError, match="no per-item answer"):
        attack_pool(recs, {"q0": True}, "mcqa")


@pytest.mark.parametrize(("p", "expected"), [(0.1, 1), (0.3, 3), (0.01, 1), (1.0, 4)])
def test_attack_data_size_disjointness_and_determinism(p, expected):
    forget = _records(10)
    pool = forget[:4]  # the wrongly answered ones
    attack, evaluation = draw_attack_data(forget, pool, p, seed=7)
    assert len(attack) == min(expected, len(pool))  # round(p*n) >= 1, capped at the pool
    assert {r.id for r in attack} <= {r.id for r in pool}
    assert not {r.id for r in attack} & {r.id for r in evaluation}
    assert {r.id for r in attack} | {r.id for r in evaluation} == {r.id for r in forget}
    again, _ = draw_attack_data(forget, list(reversed(pool)), p, seed=7)  # pool order does not matter
    assert [r.id for r in again] == [r.id for r in attack]


def test_draw_rejects_bad_fraction_and_empty_pool():
    forget = _records(3)
    with pytest.raises(ValueError, match="fraction"):
        draw_attack_data(forget, forget, 0.0, seed=0)
    with pytest.raises(ValueError, match="pool is empty"):
        draw_attack_data(forget, [], 0.1, seed=0)


def test_score_is_the_max_of_the_curve_including_step_zero():
    assert attack_score([[0, 0.3], [2, 0.55], [4, 0.4]]) == 0.55
    assert attack_score([[0, 0.7], [2, 0.1]]) == 0.7
    with pytest.raises(ValueError):
        attack_score([])


def test_aggregate_is_mean_over_runs_of_max_over_learning_rates():
    results = [
        {"run": 0, "lr": 1e-5, "max_fs": 0.6}, {"run": 0, "lr": 1e-6, "max_fs": 0.4},
        {"run": 1, "lr": 1e-5, "max_fs": 0.2}, {"run": 1, "lr": 1e-6, "max_fs": 0.5},
        {"run": 2, "lr": 1e-5, "max_fs": 0.3},
    ]
    got = aggregate_runs(results)
    per_run = [0.6, 0.5, 0.3]
    assert got["runs"] == 3
    assert math.isclose(got["mean"], sum(per_run) / 3)
    assert math.isclose(got["std"], statistics.stdev(per_run))
    with pytest.raises(ValueError):
        aggregate_runs([])


def test_empty_pool_scores_the_unlearned_model_without_training(monkeypatch, tmp_path):
    """A model that forgot nothing has no attack data: its score is its own FS, and nothing is trained."""
    from ssiuu.config import validate_config
    from ssiuu.data.records import BenchmarkSplit
    from ssiuu.io import write_json

    forget = _records(4)
    split = tmp_path / "split.json"
    split_obj = BenchmarkSplit(name="wf", style="mcqa", forget=forget, retain=_records(2), test=[])
    split_obj.save(split)
    unlearn = tmp_path / "unlearn.json"
    write_json(unlearn, {"per_item": {"forget": [{"id": r.id, "correct": True} for r in forget]}})
    monkeypatch.setattr(attacks, "load_for", lambda *a, **k: (object(), object()))
    monkeypatch.setattr("ssiuu.evaluation.forget_score", lambda *a, **k: pytest.fail("step 0 is recorded"))
    monkeypatch.setattr(attacks, "train", lambda *a, **k: pytest.fail("an empty pool must not train"))
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    out = tmp_path / "attack.json"
    result = attacks.run_attack(config, kind="harmful", p=0.1, lr=1e-5, run=0, benchmark="wf", model="m",
                                method="RMU", seed=0, checkpoint="unused", split=str(split),
                                unlearn_result=str(unlearn), out=str(out))
    assert result["n_attack"] == 0 and result["attack_ids"] == []
    assert result["eval_ids"] == [r.id for r in forget]
    assert result["max_fs"] == 1.0 and result["fs_curve"] == [[0, 1.0]]
    assert out.exists()


def test_step_zero_comes_from_the_recorded_per_item_answers():
    """The attack's step-0 FS is the unlearned model's own evaluation, averaged over the attack's eval items."""
    from ssiuu.attacks import recorded_forget_score

    recs = _records(4)
    mcqa = {"per_item": {"forget": [{"id": "q0", "correct": True}, {"id": "q1", "correct": False},
                                    {"id": "q2", "correct": True}, {"id": "q3", "correct": False},
                                    {"id": "q0/para", "correct": True}]}}
    assert recorded_forget_score(mcqa, recs, "mcqa") == 0.5
    assert recorded_forget_score(mcqa, recs[:1] + recs[2:3], "mcqa") == 1.0
    rouge = {"per_item": {"forget": [{"id": f"q{i}", "rougeL_recall": v} for i, v in enumerate((0.1, 0.2, 0.6, 0.3))]}}
    assert recorded_forget_score(rouge, recs[1:3], "rouge") == pytest.approx(0.4)
    # a missing item or a missing score means the model must be scored again
    assert recorded_forget_score(rouge, recs, "mcqa") is None
    assert recorded_forget_score({"per_item": {"forget": mcqa["per_item"]["forget"][:3]}}, recs, "mcqa") is None
    assert recorded_forget_score({}, recs, "mcqa") is None
