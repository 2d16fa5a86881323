import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ssiuu.config import (
    ConfigError,
    learning_rates,
    load_config,
    method_params,
    method_variant,
    unlearning_config,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_filled_from_the_schema():
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})
    assert config["benchmarks"]["wf"]["split"] == {"forget": 0.05, "retain": 0.10, "test": 0.70}
    assert config["attacks"]["harmful"]["learning_rates"] == [1e-5, 5e-6, 1e-6]
    assert config["methods"] == ["GA", "GD", "DPO", "NPO", "RMU", "KLUE", "SSIUU", "SIMU"]
    assert config["shared_prefix_forward"] == "auto"


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"unlearning": {"max_stepz": 3}}, "max_stepz"),
        ({"benchmarks": {"x": {"kind": "foo"}}}, "benchmarks.x.kind"),
        ({"attacks": {"harmful": {"learning_rates": [-1]}}}, "attacks.harmful.learning_rates.0"),
        ({"methods": ["GA", "XYZ"]}, "XYZ"),
        ({"dtype": "float8"}, "dtype"),
        ({"shared_prefix_forward": "sometimes"}, "shared_prefix_forward"),
    ],
)
def test_bad_config_names_the_key(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(bad)


def test_shipped_configs_validate():
    for extra in [
        "workflow/configs/smoke.yaml",
        *(["workflow/configs/paper.yaml"] if (ROOT / "workflow/configs/paper.yaml").exists() else []),
    ]:
        config = load_config(ROOT / "config.yaml", ROOT / extra)
        assert config["models"]


def test_method_variants_and_ssiuu_lambda_per_style():
    assert method_variant("SSIUU-lambda0.01") == ("SSIUU", {"lambda": 0.01})
    assert method_variant("GD") == ("GD", {})
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}, "fi": {"kind": "fictitious"}}})
    assert method_params(config, "SSIUU", "wf")["lambda_"] == 1e-3
    assert method_params(config, "SSIUU", "fi")["lambda_"] == 1e-4
    assert method_params(config, "SSIUU-lambda1", "wf")["lambda_"] == 1


def test_snakemake_rejects_a_bad_config_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"unlearning": {"max_stepz": 3}}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "max_stepz" in proc.stdout + proc.stderr


def test_cli_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "ssiuu", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("prepare-model", "split", "unlearn", "attack", "attribution", "logit-lens", "tables"):
        assert command in out


def test_benchmark_unlearning_overrides_only_its_own_keys():
    config = validate_config(
        {
            "benchmarks": {
                "wf": {"kind": "worldfacts"},
                "fi": {"kind": "fictitious", "unlearning": {"learning_rates": [5e-4, 2e-4], "max_steps": 7}},
            },
            "unlearning": {
                "learning_rates": [1e-5, 3e-5],
                "max_steps": 30,
                "method_learning_rates": {"RMU": [1e-3]},
            },
        }
    )
    assert unlearning_config(config, "fi")["max_steps"] == 7
    assert unlearning_config(config, "fi")["batch_size"] == config["unlearning"]["batch_size"]
    assert unlearning_config(config, "wf")["max_steps"] == 30
    assert learning_rates(config, "GD", "fi") == [2e-4, 5e-4]  # ascending, whatever the order given
    assert learning_rates(config, "GD", "wf") == [1e-5, 3e-5]
    assert learning_rates(config, "RMU", "fi") == [1e-3]  # a method's own list still wins
    with pytest.raises(ConfigError, match="max_stepz"):
        validate_config({"benchmarks": {"fi": {"kind": "fictitious", "unlearning": {"max_stepz": 3}}}})


def test_generation_budget_reaches_the_final_evaluation(monkeypatch):
    """`benchmarks.<b>.max_new_tokens` sets the decoding budget of the evaluation; null keeps the style defaults."""
    import ssiuu.evaluation
    from ssiuu import unlearning

    seen = {}
    monkeypatch.setattr(ssiuu.evaluation, "evaluate_split", lambda *a, **k: seen.update(k) or {})
    config = validate_config(
        {"benchmarks": {"fi": {"kind": "fictitious", "max_new_tokens": 24}, "wf": {"kind": "worldfacts"}}}
    )
    unlearning.evaluate(config, "fi", None, None, None)
    assert seen["rouge_max_new_tokens"] == 24 and seen["mcqa_max_new_tokens"] == 24
    seen.clear()
    unlearning.evaluate(config, "wf", None, None, None)
    assert "rouge_max_new_tokens" not in seen and "mcqa_max_new_tokens" not in seen
    with pytest.raises(ConfigError, match="max_new_tokens"):
        validate_config({"benchmarks": {"fi": {"kind": "fictitious", "max_new_tokens": 0}}})


def test_forget_question_kinds_reach_the_final_evaluation_and_must_hold_base(monkeypatch):
    """`benchmarks.<b>.forget_question_kinds` selects the forget questions of the final evaluation; FS needs base."""
    import ssiuu.evaluation
    from ssiuu import unlearning

    seen = {}
    monkeypatch.setattr(ssiuu.evaluation, "evaluate_split", lambda *a, **k: seen.update(k) or {})
    config = validate_config(
        {"benchmarks": {"wf": {"kind": "worldfacts", "forget_question_kinds": ["base"]}}}
    )
    unlearning.evaluate(config, "wf", None, None, None)
    assert seen["forget_kinds"] == ["base"]
    assert (
        validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}})["benchmarks"]["wf"][
            "forget_question_kinds"
        ]
        is None
    )
    with pytest.raises(
        ConfigError, match=r"benchmarks\.wf\.forget_question_kinds: \['multihop'\] lacks 'base'"
    ):
        validate_config({"benchmarks": {"wf": {"kind": "worldfacts", "forget_question_kinds": ["multihop"]}}})
    with pytest.raises(ConfigError, match="forget_question_kinds"):
        validate_config({"benchmarks": {"wf": {"kind": "worldfacts", "forget_question_kinds": ["bas"]}}})


def test_method_max_steps_override_the_step_budget_per_method_and_benchmark():
    config = validate_config(
        {
            "benchmarks": {
                "wf": {"kind": "worldfacts"},
                "fi": {
                    "kind": "fictitious",
                    "unlearning": {"max_steps": 12, "method_max_steps": {"RMU": 36}},
                },
            },
            "unlearning": {"max_steps": 30, "method_max_steps": {"RMU": 90}},
        }
    )
    assert unlearning_config(config, "wf", "RMU")["max_steps"] == 90
    assert unlearning_config(config, "wf", "GD")["max_steps"] == 30
    assert unlearning_config(config, "wf")["max_steps"] == 30
    assert unlearning_config(config, "fi", "RMU")["max_steps"] == 36
    assert unlearning_config(config, "fi", "SSIUU-lambda0.01")["max_steps"] == 12
    with pytest.raises(ConfigError, match="method_max_steps"):
        validate_config({"unlearning": {"method_max_steps": {"RMU": 0}}})
