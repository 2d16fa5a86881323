"""The learning-rate search of rule ``unlearn``: the lowest converging rate wins; without one, the best try."""

from __future__ import annotations

import types

import pytest
import torch

import ssiuu.evaluation
import ssiuu.methods
from ssiuu import unlearning
from ssiuu.config import validate_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.io import read_json, write_json
from ssiuu.jobs import MethodRun
from ssiuu.training import TrainResult


def _records(n: int) -> list[QARecord]:
    return [
        QARecord(
            id=f"q{i}",
            cluster=f"c{i}",
            entity=f"e{i}",
            kind="base",
            question=f"Q{i}?",
            answer=f"a{i}",
            false_options=(f"x{i}", f"y{i}"),
        )
        for i in range(n)
    ]


@pytest.fixture
def search(monkeypatch, tmp_path):
    """Run the search with stubbed training: the k-th try (k-th model loaded) ends at ``final_fs[k]``."""

    def run(final_fs: list[float]) -> tuple[dict, list[int]]:
        loaded, saved = [], []

        def load_for(*_a, **_k):
            loaded.append(len(loaded))
            return types.SimpleNamespace(try_index=loaded[-1]), object()

        class Method:
            def __init__(self, *a, **k): ...

            loss = staticmethod(lambda *a: None)
            streams = staticmethod(lambda: {})
            optimizer_factory = staticmethod(lambda: None)
            parameter_mask = staticmethod(lambda: None)

        def train(model, tokenizer, loss, streams, *, max_steps, check, **_k):  # train's contract: the
            for step in range(1, max_steps + 1):  # first step whose check passes
                if check(step, model):
                    return TrainResult(steps=step, losses=[0.0] * step, logs=[{}] * step)
            return TrainResult(steps=max_steps, losses=[0.0] * max_steps, logs=[{}] * max_steps)

        monkeypatch.setattr(unlearning, "load_for", load_for)
        monkeypatch.setattr(unlearning, "train", train)
        monkeypatch.setattr(ssiuu.methods, "get_method", lambda name: Method)

        def answer_items(m, tok, records, style, **_k):  # every FS check answers at the try's final FS
            return [
                {"id": r.id, "correct": final_fs[m.try_index], "generation": f"try {m.try_index}"}
                for r in records
            ]

        def evaluate(config, benchmark, m, tok, split, forget_answers):
            return {"forget_score": final_fs[m.try_index], "reused": forget_answers}

        monkeypatch.setattr(ssiuu.evaluation, "answer_items", answer_items)
        monkeypatch.setattr(unlearning, "evaluate", evaluate)
        monkeypatch.setattr(unlearning, "_save_checkpoint", lambda m, tok, path: saved.append(m.try_index))
        split = tmp_path / "split.json"
        BenchmarkSplit(name="wf", style="mcqa", forget=_records(3), retain=_records(5)[3:], test=[]).save(
            split
        )
        base = tmp_path / "base.json"
        write_json(base, {"threshold": 0.33, "forget_score": 1.0})
        config = validate_config(
            {
                "benchmarks": {"wf": {"kind": "worldfacts"}},
                "unlearning": {"learning_rates": [1e-5, 3e-5, 1e-4], "max_steps": 4, "eval_every": 2},
            }
        )
        out = tmp_path / "unlearn.json"
        unlearning.run_unlearning(
            config,
            MethodRun("wf", "m", "unused", str(split), "GD", 0),
            base=str(base),
            out=str(out),
            checkpoint=str(tmp_path / "ckpt"),
        )
        return read_json(out), saved

    return run


def test_the_lowest_converging_rate_wins_and_the_search_stops(search):
    result, saved = search([0.6, 0.2, 0.1])
    assert result["converged"] and result["lr"] == 3e-5 and saved == [1]
    assert [t["lr"] for t in result["tries"]] == [1e-5, 3e-5]  # 1e-4 is never tried
    assert result["steps"] == result["stop_step"] == 1  # stopped at the first step below the threshold
    assert result["stop_fs"] == pytest.approx(0.2) and result["fs_curve"] == [
        [0, 1.0],
        [1, result["stop_fs"]],
    ]
    # the final evaluation reuses the last FS check's answers: they were given by the saved weights
    assert result["reused"] == {"q0": "try 1", "q1": "try 1", "q2": "try 1"}


def test_without_convergence_the_try_that_forgot_most_is_reported(search):
    result, saved = search([0.6, 0.4, 0.7])
    assert not result["converged"] and result["lr"] == 3e-5 and result["forget_score"] == 0.4 and saved == [1]
    assert [t["converged"] for t in result["tries"]] == [False, False, False]
    # a tie keeps the lower learning rate
    result, saved = search([0.5, 0.5, 0.5])
    assert result["lr"] == 1e-5 and saved == [0]


@pytest.mark.parametrize(
    ("method", "threshold", "checks", "stop"),
    [("GD", 0.33, [3, 6, 9, 7], 7), ("SSIUU", 0.33, [3, 6, 9, 7], 7), ("GD", 0.15, [3, 6, 9, 7, 8], 9)],
)
def test_the_job_stops_at_the_first_step_at_the_threshold_with_those_weights(
    monkeypatch, tmp_path, method, threshold, checks, stop
):
    """Real training of a tiny model, FS = 1 − step/10 scripted by step (the loss marks the model with its
    step): the checks at 3, 6, 9 (FS 0.7, 0.4, 0.1) reach the threshold at 9, so training goes back to 6 and
    checks single steps; the first step at the threshold (7 at 0.33; 9 at 0.15, not checked again) is the
    stop step. unlearn.json records it, the checkpoint holds the weights of a straight run of that many steps,
    and the final evaluation reuses the answers given at that step."""
    from ssiuu.config import method_params, unlearning_config
    from ssiuu.models import tiny_random_llama
    from ssiuu.training import train

    base_cls = ssiuu.methods.METHODS[method.lower()]

    class Marked(base_cls):
        def loss(self, model, batches, step):
            model.marker_step = step
            return super().loss(model, batches, step)

    def fs_at(step):
        return (10 - step) / 10

    saved = []
    monkeypatch.setattr(unlearning, "load_for", lambda *a, **k: tiny_random_llama(0))
    monkeypatch.setattr(ssiuu.methods, "get_method", lambda name: Marked)
    monkeypatch.setattr(
        ssiuu.evaluation,
        "answer_items",
        lambda m, tok, records, style, **k: [
            {"id": r.id, "correct": fs_at(m.marker_step), "generation": f"step {m.marker_step}"}
            for r in records
        ],
    )
    monkeypatch.setattr(unlearning, "evaluate", lambda config, b, m, tok, split, answers: {"reused": answers})
    monkeypatch.setattr(
        unlearning,
        "_save_checkpoint",
        lambda m, tok, path: saved.append({n: p.detach().clone() for n, p in m.named_parameters()}),
    )
    split = BenchmarkSplit(name="wf", style="mcqa", forget=_records(3), retain=_records(5)[3:], test=[])
    split.save(tmp_path / "split.json")
    write_json(tmp_path / "base.json", {"threshold": threshold, "forget_score": 1.0})
    config = validate_config(
        {
            "benchmarks": {"wf": {"kind": "worldfacts"}},
            "unlearning": {"learning_rates": [1e-3], "max_steps": 9, "eval_every": 3, "batch_size": 2},
        }
    )
    unlearning.run_unlearning(
        config,
        MethodRun("wf", "m", "unused", str(tmp_path / "split.json"), method, 0),
        base=str(tmp_path / "base.json"),
        out=str(tmp_path / "unlearn.json"),
        checkpoint=str(tmp_path / "ckpt"),
    )
    result = read_json(tmp_path / "unlearn.json")
    assert result["stop_step"] == result["steps"] == stop and result["converged"]
    assert [s for s, _ in result["fs_curve"]] == [0, *checks]  # every check, in the order made
    fs = dict(result["fs_curve"])
    assert result["stop_fs"] == fs[stop] == pytest.approx(fs_at(stop)) and fs[stop] <= threshold
    assert all(fs[s] > threshold for s in fs if s < stop)  # no earlier step checked reached it
    (entry,) = result["tries"]
    assert (entry["stop_step"], entry["stop_fs"], entry["fs_curve"]) == (stop, fs[stop], result["fs_curve"])
    assert len(entry["loss_curve"]) == stop
    assert [t["step"] for t in result["loss_terms"]] == list(range(1, stop + 1))
    assert result["reused"] == {r: f"step {stop}" for r in ("q0", "q1", "q2")}
    if method == "SSIUU":
        assert result["regulariser_to_gd_ratio"]["steps"] == stop - 1  # step 1 has no A_{t−1}
        assert result["regulariser_to_gd_ratio"]["max"] > 0
    else:
        assert "regulariser_to_gd_ratio" not in result

    # the saved weights are those of a straight run of ``stop`` steps
    model, tok = tiny_random_llama(0)
    ucfg = unlearning_config(config, "wf", method)
    straight = Marked(
        model,
        tok,
        forget=unlearning.pairs_of(split.forget_train),
        retain=unlearning.pairs_of(split.retain_train),
        seed=0,
        **method_params(config, method, "wf"),
    )
    train(
        model,
        tok,
        straight.loss,
        straight.streams(),
        lr=1e-3,
        max_steps=stop,
        batch_size=ucfg["batch_size"],
        grad_accum=ucfg["grad_accum"],
        seed=0,
        max_length=ucfg["max_length"],
    )
    (weights,) = saved
    for name, p in model.named_parameters():
        assert torch.equal(weights[name], p), name
