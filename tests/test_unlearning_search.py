"""The learning-rate search of rule ``unlearn``: the lowest converging rate wins; without one, the best try."""

from __future__ import annotations

import types

import pytest

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

        def train(model, tokenizer, loss, streams, *, max_steps, callback, **_k):
            for step in range(1, max_steps + 1):
                if callback(step, model):
                    return TrainResult(steps=step)
            return TrainResult(steps=max_steps)

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
    assert result["steps"] == 2  # stopped at the first check below the threshold
    # the final evaluation reuses the last FS check's answers: they were given by the saved weights
    assert result["reused"] == {"q0": "try 1", "q1": "try 1", "q2": "try 1"}


def test_without_convergence_the_try_that_forgot_most_is_reported(search):
    result, saved = search([0.6, 0.4, 0.7])
    assert not result["converged"] and result["lr"] == 3e-5 and result["forget_score"] == 0.4 and saved == [1]
    assert [t["converged"] for t in result["tries"]] == [False, False, False]
    # a tie keeps the lower learning rate
    result, saved = search([0.5, 0.5, 0.5])
    assert result["lr"] == 1e-5 and saved == [0]
