"""A destroyed model is never saved, scored or reported as converged (issue 18, section 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssiuu import unlearning
from ssiuu.config import validate_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.evaluation import evaluate_split, forget_score, utility_score
from ssiuu.finite import NonFiniteLossError, first_non_finite
from ssiuu.io import read_json, write_json
from ssiuu.jobs import MethodRun, ModelOnSplit
from ssiuu.pretrain import pretrain
from ssiuu.training import nll_loss, train

TINY = "tiny-random-llama:0"
PAIRS = [("What is the capital of France?", "Paris"), ("Which continent is Brazil in?", "South America")]
ADVICE = "lower the learning rate or check the data. No result file was written."


def _records(n: int, start: int = 0) -> list[QARecord]:
    return [
        QARecord(
            id=f"q{i}",
            cluster=f"c{i}",
            entity=f"e{i}",
            kind="base",
            question=f"What is the capital of {i}?",
            answer=f"Paris{i}",
            false_options=(f"Rome{i}", f"Oslo{i}"),
        )
        for i in range(start, start + n)
    ]


def _mcqa_split() -> BenchmarkSplit:
    return BenchmarkSplit(
        name="wf", style="mcqa", forget=_records(4), retain=_records(4, 10), test=_records(2, 20)
    )


def _config(learning_rates: list[float], max_steps: int, **bench: object) -> dict:
    return validate_config(
        {
            "device": "cpu",
            "models": {"tiny": {"source": TINY, "attn_implementation": "eager"}},
            "benchmarks": {
                "wf": {"kind": "worldfacts", "utility_tasks": [], "eval_limit": 4, "max_new_tokens": 4},
                "fict": {"kind": "fictitious", "max_new_tokens": 4, **bench},
            },
            "methods": ["GD"],
            "unlearning": {
                "learning_rates": learning_rates,
                "max_steps": max_steps,
                "eval_every": 1,
                "batch_size": 2,
                "max_length": 64,
            },
        }
    )


def _unlearn(tmp_path: Path, learning_rates: list[float], threshold: float) -> dict:
    split, base = tmp_path / "split.json", tmp_path / "base.json"
    _mcqa_split().save(split)
    write_json(base, {"threshold": threshold, "forget_score": 1.0})
    return unlearning.run_unlearning(
        _config(learning_rates, max_steps=2),
        MethodRun("wf", "tiny", TINY, str(split), "GD", 0),
        base=str(base),
        out=str(tmp_path / "unlearn.json"),
        checkpoint=str(tmp_path / "ckpt"),
    )


def _nan_weight(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        model.lm_head.weight[0, 0] = float("nan")
    return model


def _infinite_sgd(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=float("inf"))


def test_first_non_finite_names_the_bad_tensor():
    good, bad = torch.ones(3), torch.tensor([1.0, float("inf")])
    assert first_non_finite([("a", good), ("b", good)]) is None
    assert first_non_finite([("a", good), ("b", bad), ("c", bad)]) == "b"
    assert (
        first_non_finite([("huge", torch.tensor([3e38, 3e38]))]) is None
    )  # its sum overflows, its values do not
    assert first_non_finite([]) is None


def test_a_huge_learning_rate_fails_the_job_and_writes_nothing(tmp_path):
    with pytest.raises(NonFiniteLossError, match="every learning rate") as err:
        _unlearn(tmp_path, [1e10], threshold=1.01)
    assert ADVICE in str(err.value) and isinstance(err.value.__cause__, NonFiniteLossError)
    assert not (tmp_path / "unlearn.json").exists()
    assert not list(tmp_path.glob("ckpt*"))


def test_the_search_skips_a_destroyed_try_and_keeps_a_valid_one(tmp_path):
    result = _unlearn(tmp_path, [1e-4, 1e10], threshold=-1.0)  # no try converges: the best valid one is kept
    assert result["lr"] == 1e-4 and not result["converged"]
    assert [t["lr"] for t in result["tries"]] == [1e-4, 1e10]
    assert "non_finite" in result["tries"][1] and "non_finite" not in result["tries"][0]
    assert read_json(tmp_path / "unlearn.json")["lr"] == 1e-4 and (tmp_path / "ckpt").is_dir()


@pytest.mark.parametrize("early_stop", [False, True])
def test_train_checks_the_weights_after_the_last_update(tiny, early_stop):
    model, tok = tiny
    with pytest.raises(NonFiniteLossError, match="NaN or inf in parameter .* after step 1"):
        train(
            model,
            tok,
            nll_loss,
            {"all": PAIRS},
            lr=1.0,
            max_steps=1 if not early_stop else 5,
            batch_size=2,
            optimizer_factory=_infinite_sgd,
            callback=(lambda step, m: True) if early_stop else None,
        )


def test_generation_of_a_model_with_a_nan_weight_raises(tiny):
    model, tok = tiny
    with pytest.raises(NonFiniteLossError, match="NaN or inf in the logits"):
        forget_score(_nan_weight(model), tok, _records(2), "mcqa", max_new_tokens=2)


def test_evaluate_split_of_a_model_with_a_nan_weight_raises(tiny, tmp_path):
    model, tok = tiny
    with pytest.raises(NonFiniteLossError, match=ADVICE):
        evaluate_split(
            _nan_weight(model), tok, _mcqa_split(), utility_tasks=[], work_dir=tmp_path, mcqa_max_new_tokens=2
        )


def test_utility_scoring_of_a_model_with_a_nan_weight_raises(tiny, tmp_path):
    model, tok = tiny
    with pytest.raises(NonFiniteLossError, match="utility"):
        utility_score(
            _nan_weight(model), tok, ["ssiuu_us_state_code"], limit=2, work_dir=tmp_path, batch_size=2
        )


def test_a_checkpoint_with_a_nan_weight_is_not_saved(tiny, tmp_path):
    model, tok = tiny
    with pytest.raises(NonFiniteLossError, match="parameter lm_head.weight"):
        unlearning._save_checkpoint(_nan_weight(model), tok, tmp_path / "ckpt")
    assert not list(tmp_path.iterdir())


def test_pretraining_at_a_huge_learning_rate_fails_and_writes_nothing(tmp_path):
    split = tmp_path / "split.json"
    rouge = [
        QARecord(id=f"a{i}", cluster=f"c{i}", entity=f"e{i}", kind="qa", question=q, answer=a)
        for i, (q, a) in enumerate(PAIRS * 2)
    ]
    BenchmarkSplit(name="fict", style="rouge", forget=rouge[:2], retain=rouge[2:], test=[]).save(split)
    config = _config([1e-4], 1, pretrain={"lr": 1e10, "epochs": 2, "batch_size": 2})
    with pytest.raises(NonFiniteLossError, match=ADVICE):
        pretrain(
            config,
            ModelOnSplit("fict", "tiny", TINY, str(split)),
            out=str(tmp_path / "model"),
            metrics=str(tmp_path / "pretrain.json"),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split.json"]
