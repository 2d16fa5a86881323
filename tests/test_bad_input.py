"""Bad configs and failing commands (issue 18, sections 2 and 4): each probe gets one short line that
names the key, the bad value and the fix, at the dry run; the CLI leaves a traceback in the job's log and
one summary line last; a run whose Snakemake was killed resumes with one documented command."""

from __future__ import annotations

import copy
import subprocess
import sys
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssiuu import cli
from ssiuu.config import ConfigError, load_config, validate_config
from ssiuu.validation import method_hparams

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "workflow/configs/smoke.yaml"
SPLIT_18 = {"forget": 0.5, "retain": 0.6, "test": 0.7}


def smoke_with(key: str, value: Any) -> dict[str, Any]:
    """The smoke config with the dotted ``key`` set to ``value``."""
    config = copy.deepcopy(yaml.safe_load(SMOKE.read_text()))
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return config


#: (config key, bad value, what the message must hold besides the key)
PROBES = [
    ("methods", ["GD", "FOO"], ["methods.1", "'FOO'", "use one of", "SSIUU"]),
    ("methods", ["gd"], ["methods.0", "'gd'", "did you mean GD?"]),
    ("attacks.methods", ["FOO"], ["attacks.methods.0", "'FOO'", "use one of"]),
    ("analysis.influence_methods", ["FOO"], ["analysis.influence_methods.0", "'FOO'"]),
    ("analysis.heatmap_methods", ["SSIUUU"], ["analysis.heatmap_methods.0", "did you mean SSIUU?"]),
    ("analysis.logit_lens_methods", ["FOO"], ["analysis.logit_lens_methods.0", "'FOO'"]),
    ("analysis.distribution_methods", ["FOO"], ["analysis.distribution_methods.0", "'FOO'"]),
    ("analysis.attack_calibration.methods", ["FOO"], ["analysis.attack_calibration.methods.0", "'FOO'"]),
    ("methods", ["hider"], ["methods.0", "'hider'", "did you mean Hider?"]),
    ("methods", ["Start"], ["methods.0", "'Start'", "is not a method"]),  # a reference, not trained
    ("analysis.attack_calibration.first_run", 0, ["first_run: 0 < attacks.runs", "the tables' draws"]),
    (
        "unlearning.method_learning_rates",
        {"FOO": [1e-4]},
        ["unlearning.method_learning_rates.FOO", "use one of"],
    ),
    ("unlearning.method_max_steps", {"FOO": 3}, ["unlearning.method_max_steps.FOO", "use one of"]),
    ("analysis.distribution_attack.p", 1.5, ["analysis.distribution_attack.p", "1.5", "maximum of 1"]),
    ("analysis.distribution_attack.p", 0, ["analysis.distribution_attack.p", "minimum of 0"]),
    ("benchmarks.wf.split", SPLIT_18, ["benchmarks.wf.split", "= 1.8 > 1", "sum to at most 1"]),
    (
        "method_params.GD",
        {"bogus_kw": 1},
        ["method_params.GD.bogus_kw", "'bogus_kw'", "use one of retain_weight"],
    ),
    ("method_params.GD", {"retain_weigth": 1}, ["did you mean retain_weight?"]),
    ("method_params.SSIUU", {"seed": 1}, ["method_params.SSIUU.seed", "lambda_"]),
    ("device", "gpu", ["device: 'gpu'", "use auto, cpu, cuda, cuda:N or mps"]),
    ("device", "cuda:x", ["device: 'cuda:x'", "cuda:N"]),
    ("unlearning.learning_rates", ["1e-4"], ["unlearning.learning_rates.0", "'1e-4'", "write 1.0e-4"]),
    ("unlearning.max_steps", "1e3", ["unlearning.max_steps", "write 1000"]),
    ("analysis.distribution_attack.lr", "5E-6", ["analysis.distribution_attack.lr", "write 5.0e-6"]),
    ("bogus_key", 1, ["bogus_key: unknown key", "allowed here: analysis, attacks"]),
    ("unlearning.max_stepz", 3, ["unlearning.max_stepz: unknown key (did you mean max_steps?)"]),
]


@pytest.mark.parametrize(("key", "value", "expected"), PROBES, ids=[f"{k}={v!r}" for k, v, _ in PROBES])
def test_bad_config_names_key_value_and_fix(key, value, expected):
    with pytest.raises(ConfigError) as err:
        validate_config(smoke_with(key, value), source="BAD.yaml")
    message = str(err.value)
    assert message.startswith("invalid configuration in BAD.yaml")
    assert len(message.splitlines()) == 2, message  # the header and one line for the one problem
    for part in expected:
        assert part in message


def test_the_calibration_takes_the_controls():
    calibrated = ["Start", "NeverLearned", "Hider", "GD"]
    config = validate_config(smoke_with("analysis.attack_calibration.methods", calibrated))
    assert config["analysis"]["attack_calibration"]["methods"] == calibrated


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_good_devices_pass(device):
    assert validate_config(smoke_with("device", device))["device"] == device


def test_every_problem_is_listed_at_once():
    config = smoke_with("methods", ["GD", "FOO"]) | {
        "device": "gpu",
        "method_params": {"GD": {"bogus_kw": 1}},
    }
    config["benchmarks"]["wf"]["split"] = SPLIT_18
    lines = str(pytest.raises(ConfigError, validate_config, config).value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "methods.1",
        "method_params.GD.bogus_kw",
        "benchmarks.wf.split",
        "device",
    ]


def test_method_table_is_the_registry():
    """The Snakefile reads method names and hyper-parameters from the sources (no torch); they are the registry's."""
    from ssiuu.methods import METHODS

    assert method_hparams() == {cls.__name__: frozenset(cls.hparams()) for cls in METHODS.values()}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: cpu\nmethods: [GD, SSIUU\nseeds: [0]\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert len(str(err.value).splitlines()) == 1
    assert str(err.value).startswith(f"{bad}:3:6: invalid YAML")
    assert "at line 2" in str(err.value)  # where the unclosed bracket opened


# -- the CLI: the traceback in the log, one summary line last ------------------------------------------
def run_cli(capsys, monkeypatch, error: Exception | None, *config: str) -> tuple[int, list[str]]:
    """``main`` on ``tables`` with ``dispatch`` raising ``error``: (exit status, stderr lines)."""
    if error is not None:
        monkeypatch.setattr(cli, "dispatch", lambda *_: (_ for _ in ()).throw(error))
    rc = cli.main(
        [
            *(a for c in config for a in ("--config", c)),
            "tables",
            "--results",
            "unused.json",
            "--out-dir",
            "unused",
        ]
    )
    return rc, capsys.readouterr().err.strip().splitlines()


def test_cli_config_error_has_traceback_and_one_line(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: gpu\nmethods: [GD, FOO]\n")
    rc, err = run_cli(capsys, monkeypatch, None, str(bad))
    assert rc == 2
    assert any(line.startswith("Traceback") for line in err)
    assert err[-3:] == [
        f"ssiuu tables: error: invalid configuration in {bad} (see workflow/schemas/config.schema.yaml):",
        "  methods.1: 'FOO' is not a method; use one of DPO, GA, GD, Hider, KLUE, NPO, RMU, SIMU, SSIUU",
        "  device: 'gpu' is not a device; use auto, cpu, cuda, cuda:N or mps",
    ]


def test_cli_yaml_error_is_one_line(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [GD\n")
    rc, err = run_cli(capsys, monkeypatch, None, str(bad))
    assert rc == 2 and err[-1].startswith(f"ssiuu tables: error: {bad}:2:1: invalid YAML")


@pytest.mark.parametrize(
    ("error", "rc", "summary"),
    [
        ("nonfinite", 2, "ssiuu tables: error: loss is nan at step 3"),
        (ValueError("benchmark wf: no records"), 2, "ssiuu tables: error: benchmark wf: no records"),
        (FileNotFoundError("work/split.json"), 2, "ssiuu tables: error: work/split.json"),
        (KeyError("forget"), 1, "ssiuu tables: error: KeyError: 'forget'"),
    ],
)
def test_cli_failure_has_traceback_then_one_line(capsys, monkeypatch, error, rc, summary):
    if error == "nonfinite":
        from ssiuu.training import NonFiniteLossError

        error = NonFiniteLossError("loss is nan at step 3")
    status, err = run_cli(capsys, monkeypatch, error, str(SMOKE))
    assert status == rc
    assert "Traceback (most recent call last):" in err
    assert err[-1] == summary


def test_cli_on_a_terminal_shows_the_line_alone(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    rc, err = run_cli(capsys, monkeypatch, ValueError("benchmark wf: no records"), str(SMOKE))
    assert rc == 2
    assert [line for line in err if " INFO " not in line] == ["ssiuu tables: error: benchmark wf: no records"]


def test_cli_check_config(capsys):
    assert cli.main(["--config", str(SMOKE), "check-config"]) == 0
    assert capsys.readouterr().out.strip() == f"{SMOKE}: valid"


# -- the same probes through a real dry run ----------------------------------------------------------------
def snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


DRY_RUN_PROBES = [
    (smoke_with("methods", ["GD", "FOO"]), ["methods.1: 'FOO' is not a method"]),
    (smoke_with("device", "gpu"), ["device: 'gpu' is not a device"]),
    (
        smoke_with("benchmarks.wf.split", SPLIT_18),
        ["benchmarks.wf.split: forget 0.5 + retain 0.6 + test 0.7 = 1.8"],
    ),
    (smoke_with("method_params.GD", {"bogus_kw": 1}), ["method_params.GD.bogus_kw"]),
    (
        "device: cpu\nbogus_key: 1\nunlearning:\n  learning_rates: [1e-4]\n  max_stepz: 3\n",
        ["bogus_key: unknown key", "write 1.0e-4", "max_stepz: unknown key (did you mean max_steps?)"],
    ),
]


@pytest.mark.parametrize(
    ("config", "expected"), DRY_RUN_PROBES, ids=["method", "device", "split", "hparam", "many"]
)
def test_dry_run_fails_with_short_named_errors(tmp_path, config, expected):
    bad = tmp_path / "BAD.yaml"
    bad.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    proc = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path / "run"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"invalid configuration in {bad}" in out
    for part in expected:
        assert part in out, out
    assert len(out.splitlines()) < 20, out  # no schema dump
    assert not (tmp_path / "run" / "work").exists()  # nothing planned, nothing written


def test_dry_run_names_the_line_of_a_yaml_error_in_config_yaml(tmp_path):
    (tmp_path / "config.yaml").write_text("device: cpu\nmethods: [GD, SSIUU\nseeds: [0]\n")
    proc = snakemake("-n", "-d", str(tmp_path))
    assert proc.returncode != 0
    assert "config.yaml:3:6: invalid YAML: expected ',' or ']'" in proc.stdout + proc.stderr


# -- resuming after Snakemake itself was killed ---------------------------------------------------------
def test_resume_after_kill_is_one_documented_command(tmp_path):
    """The README names the command; the profile's rerun-incomplete redoes a job left incomplete."""
    readme = (ROOT / "README.md").read_text()
    assert "snakemake --workflow-profile workflow/profiles/default --unlock && make run" in readme
    profile = ROOT / "workflow/profiles/default"
    assert yaml.safe_load((profile / "config.yaml").read_text())["rerun-incomplete"] is True
    # the state a killed Snakemake leaves: an output on disk marked incomplete in .snakemake/incomplete
    output = f"{yaml.safe_load(SMOKE.read_text())['work_dir']}/models/tiny/base"
    (tmp_path / output).mkdir(parents=True)
    (tmp_path / output / "config.json").write_text("{}")
    marker = tmp_path / ".snakemake/incomplete" / urlsafe_b64encode(output.encode()).decode()
    marker.parent.mkdir(parents=True)
    marker.write_text('{"external_jobid": null}')
    plain = snakemake("-n", "--configfile", str(SMOKE), "-d", str(tmp_path))
    assert "IncompleteFilesException" in plain.stdout + plain.stderr  # the marker is the one Snakemake reads
    resumed = snakemake(
        "-n", "--workflow-profile", str(profile), "--configfile", str(SMOKE), "-d", str(tmp_path)
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"output: {output}\n" in resumed.stdout
