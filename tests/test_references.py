"""The Start reference is the model base_eval scored: its unlearn.json takes those scores instead of scoring
the same weights twice; NeverLearned (other weights) is evaluated."""

from __future__ import annotations

import pytest

import ssiuu.models
from ssiuu.config import load_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.evaluation import SPLIT_METRICS
from ssiuu.io import read_json, write_json
from ssiuu.jobs import MethodRun
from ssiuu.references import reference_eval


def test_start_takes_the_scores_of_base_json_without_loading_a_model(tmp_path, monkeypatch):
    records = [
        QARecord(
            id=f"q{i}",
            cluster=f"c{i}",
            entity=f"e{i}",
            kind="base",
            question=f"Q{i}?",
            answer=f"a{i}",
            false_options=("x", "y"),
        )
        for i in range(2)
    ]
    split = tmp_path / "split.json"
    BenchmarkSplit(name="wf", style="mcqa", forget=records[:1], retain=records[1:], test=[]).save(split)
    base = {key: f"value of {key}" for key in SPLIT_METRICS} | {"threshold": 0.33, "style": "mcqa"}
    write_json(tmp_path / "base.json", base)
    monkeypatch.setattr(ssiuu.models, "load_for", lambda *a, **k: pytest.fail("Start loaded a model"))
    config = load_config("config.yaml")
    out = tmp_path / "unlearn.json"
    reference_eval(
        config,
        MethodRun("worldfacts", "smollm2", "unused", str(split), "Start", 0),
        out=str(out),
        base=str(tmp_path / "base.json"),
    )
    result = read_json(out)
    assert {key: result[key] for key in SPLIT_METRICS} == {key: base[key] for key in SPLIT_METRICS}
    assert result["reference"] is True and result["method"] == "Start"
