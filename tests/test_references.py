"""The controls: Start (the yardstick, on both benchmark styles) is the model base_eval scored, so its unlearn.json
takes those scores instead of scoring the same weights twice; NeverLearned (the known eraser, other weights) is
evaluated; the Hider (the known hider) is a method, trained per seed, which reference_eval refuses."""

from __future__ import annotations

import pytest

import ssiuu.models
from ssiuu.config import load_config
from ssiuu.data.records import BenchmarkSplit, QARecord
from ssiuu.evaluation import SPLIT_METRICS
from ssiuu.io import read_json, write_json
from ssiuu.jobs import MethodRun
from ssiuu.references import (
    CONTROLS,
    REFERENCE_SEED,
    REFERENCES,
    control_seeds,
    is_control,
    is_reference,
    reference_eval,
)


def split_of(tmp_path, style: str):
    records = [
        QARecord(
            id=f"q{i}",
            cluster=f"c{i}",
            entity=f"e{i}",
            kind="base",
            question=f"Q{i}?",
            answer=f"a{i}",
            false_options=("x", "y") if style == "mcqa" else (),
        )
        for i in range(2)
    ]
    split = tmp_path / "split.json"
    BenchmarkSplit(name="b", style=style, forget=records[:1], retain=records[1:], test=[]).save(split)
    return split


@pytest.mark.parametrize("benchmark, style", [("worldfacts", "mcqa"), ("fictitious", "rouge")])
def test_start_takes_the_scores_of_base_json_without_loading_a_model(tmp_path, monkeypatch, benchmark, style):
    split = split_of(tmp_path, style)
    base = {key: f"value of {key}" for key in SPLIT_METRICS} | {"threshold": 0.33, "style": style}
    write_json(tmp_path / "base.json", base)
    monkeypatch.setattr(ssiuu.models, "load_for", lambda *a, **k: pytest.fail("Start loaded a model"))
    config = load_config("config.yaml")
    out = tmp_path / "unlearn.json"
    reference_eval(
        config,
        MethodRun(benchmark, "smollm2", "unused", str(split), "Start", 0),
        out=str(out),
        base=str(tmp_path / "base.json"),
    )
    result = read_json(out)
    assert {key: result[key] for key in SPLIT_METRICS} == {key: base[key] for key in SPLIT_METRICS}
    assert result["reference"] is True and result["method"] == "Start"


@pytest.mark.parametrize("method, style", [("NeverLearned", "mcqa"), ("Hider", "mcqa"), ("Hider", "rouge")])
def test_reference_eval_refuses_what_is_no_reference_of_the_benchmark(tmp_path, method, style):
    with pytest.raises(ValueError, match="does not apply"):
        reference_eval(
            load_config("config.yaml"),
            MethodRun("b", "smollm2", "unused", str(split_of(tmp_path, style)), method, 0),
            out=str(tmp_path / "unlearn.json"),
        )


def test_controls_per_style_and_their_seeds():
    assert CONTROLS == {"mcqa": ("Start", "Hider"), "rouge": ("Start", "NeverLearned", "Hider")}
    assert REFERENCES == {"mcqa": ("Start",), "rouge": ("Start", "NeverLearned")}
    assert all(is_control(x) for xs in CONTROLS.values() for x in xs) and not is_control("SSIUU")
    assert is_reference("Start") and is_reference("NeverLearned") and not is_reference("Hider")
    assert control_seeds("Start", [0, 1, 2]) == control_seeds("NeverLearned", [3]) == [REFERENCE_SEED] == [0]
    assert control_seeds("Hider", [0, 1]) == control_seeds("GD", [0, 1]) == [0, 1]
