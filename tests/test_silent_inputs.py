"""The last silent inputs (issue 31, § 6): each fails with one line that names the file or key, the bad value
and the fix, instead of being accepted. Duplicates in a config list that names jobs; unknown fields in
benchmark records; duplicated TOFU rows and an Alpaca file holding one object; ``check-config``'s stderr; a YAML
syntax error in a configuration passed to the Makefile's run targets; the resume advice's process list; a model
directory without weights."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssiuu import cli
from ssiuu.config import ConfigError, load_config, validate_config
from ssiuu.data.instructions import load_alpaca
from ssiuu.data.records import BenchmarkSplit, RecordError, in_file, records_from_dicts
from ssiuu.data.tofu import load_tofu

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "workflow/configs/smoke.yaml"
FIX = Path(__file__).parent / "fixtures"


def smoke_with(key: str, value: Any) -> dict[str, Any]:
    """The smoke config with the dotted ``key`` set to ``value``."""
    config = yaml.safe_load(SMOKE.read_text())
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return config


# -- duplicates in a config list that names jobs ------------------------------------------------------------
#: (config key, list with a duplicate, the key the message names, the duplicated value as the message shows it)
DUPLICATES = [
    ("seeds", [0, 0], "seeds", "0"),
    ("seeds", [0, 1, 2, 1], "seeds", "1"),
    ("methods", ["GD", "SSIUU", "GD"], "methods", "'GD'"),
    ("attacks.methods", ["SSIUU", "SSIUU"], "attacks.methods", "'SSIUU'"),
    ("attacks.controls.mcqa", ["Start", "Hider", "Start"], "attacks.controls.mcqa", "'Start'"),
    ("attacks.controls.rouge", ["Hider", "Hider"], "attacks.controls.rouge", "'Hider'"),
    ("attacks.harmful.fractions", [0.3, 0.3], "attacks.harmful.fractions", "0.3"),
    ("attacks.harmful.learning_rates", [1e-4, 1.0e-4], "attacks.harmful.learning_rates", "0.0001"),
    ("attacks.benign.learning_rates", [1e-5, 1e-4, 1e-5], "attacks.benign.learning_rates", "1e-05"),
    ("unlearning.learning_rates", [1e-4, 1e-4], "unlearning.learning_rates", "0.0001"),
    (
        "unlearning.method_learning_rates",
        {"GD": [2e-4, 2e-4]},
        "unlearning.method_learning_rates.GD",
        "0.0002",
    ),
    (
        "benchmarks.wf.unlearning",
        {"learning_rates": [1e-4, 1e-4]},
        "benchmarks.wf.unlearning.learning_rates",
        "0.0001",
    ),
    (
        "benchmarks.wf.utility_tasks",
        ["ssiuu_arithmetic", "ssiuu_arithmetic"],
        "benchmarks.wf.utility_tasks",
        "'ssiuu_arithmetic'",
    ),
    (
        "benchmarks.wf.forget_question_kinds",
        ["base", "base"],
        "benchmarks.wf.forget_question_kinds",
        "'base'",
    ),
    ("analysis.lambda_ablation", [1e-2, 0.01], "analysis.lambda_ablation", "0.01"),
    ("analysis.influence_methods", ["GD", "GD"], "analysis.influence_methods", "'GD'"),
    ("analysis.heatmap_methods", ["SSIUU", "SSIUU"], "analysis.heatmap_methods", "'SSIUU'"),
    ("analysis.logit_lens_methods", ["GD", "GD"], "analysis.logit_lens_methods", "'GD'"),
    ("analysis.distribution_methods", ["GD", "GD"], "analysis.distribution_methods", "'GD'"),
    (
        "analysis.attack_calibration.methods",
        ["Start", "Start"],
        "analysis.attack_calibration.methods",
        "'Start'",
    ),
    (
        "analysis.attack_calibration.harmful",
        {"learning_rates": [1e-4, 1e-4]},
        "analysis.attack_calibration.harmful.learning_rates",
        "0.0001",
    ),
    (
        "analysis.attack_calibration.benign",
        {"learning_rates": [1e-6, 1e-6]},
        "analysis.attack_calibration.benign.learning_rates",
        "1e-06",
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "named", "duplicate"), DUPLICATES, ids=[f"{k}={v!r}" for k, v, _, _ in DUPLICATES]
)
def test_a_duplicate_in_a_job_list_is_one_line_naming_key_and_value(key, value, named, duplicate):
    with pytest.raises(ConfigError) as err:
        validate_config(smoke_with(key, value), source="BAD.yaml")
    header, *problems = str(err.value).splitlines()
    assert header.startswith("invalid configuration in BAD.yaml")
    assert len(problems) == 1, str(err.value)
    assert problems[0].strip().startswith(f"{named}: {duplicate} is listed twice"), problems[0]
    assert "list each value once" in problems[0]


#: attack learning rates that the draws' file names (one significant digit) would spell as another rate
RENAMED_RATES = [
    ("attacks.harmful.learning_rates", [1.5e-5], "1.5e-05", "2e-05"),
    ("attacks.benign.learning_rates", [1e-5, 1.2e-5], "1.2e-05", "1e-05"),
    ("analysis.attack_calibration.harmful", {"learning_rates": [3.3e-6]}, "3.3e-06", "3e-06"),
]


@pytest.mark.parametrize(
    ("key", "value", "rate", "spelled"), RENAMED_RATES, ids=[r[2] for r in RENAMED_RATES]
)
def test_an_attack_rate_its_file_names_would_round_is_refused(key, value, rate, spelled):
    with pytest.raises(ConfigError) as err:
        validate_config(smoke_with(key, value), source="BAD.yaml")
    problems = str(err.value).splitlines()[1:]
    assert len(problems) == 1, str(err.value)
    assert f"{rate} would run as {spelled}" in problems[0], problems[0]


def test_distinct_lists_pass():
    config = validate_config(smoke_with("seeds", [0, 1, 2]))
    assert config["seeds"] == [0, 1, 2]


def test_a_repeated_yaml_key_names_file_and_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0]\ndevice: cpu\nseeds: [1]\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(err.value).splitlines() == [
        f"{bad}:3:1: key 'seeds' appears twice in one mapping (first at line 1), and the second would silently "
        "replace the first; keep one"
    ]


def snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_dry_run_names_a_key_repeated_in_a_configfile(tmp_path):
    """Snakemake reads a --configfile before the Snakefile and keeps a repeated key's last value; the Snakefile
    reads each --configfile again and names the lines."""
    smoke = (ROOT / "workflow/configs/smoke.yaml").read_text()
    dup = tmp_path / "dup.yaml"
    dup.write_text(smoke + "threads: 1\n")
    plan = snakemake("-n", "--configfile", str(dup), "-d", str(tmp_path / "run"))
    assert plan.returncode != 0
    assert re.search(rf"{re.escape(str(dup))}:\d+:1: key 'threads' appears twice", plan.stdout + plan.stderr)


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("seeds", [0, 0], "seeds: 0 is listed twice"),
        (
            "attacks.harmful.learning_rates",
            [1e-4, 1e-4],
            "attacks.harmful.learning_rates: 0.0001 is listed twice",
        ),
    ],
    ids=["seeds", "harmful-rates"],
)
def test_the_dry_run_refuses_a_duplicate(tmp_path, key, value, line):
    bad = tmp_path / "BAD.yaml"
    bad.write_text(yaml.safe_dump(smoke_with(key, value)))
    proc = snakemake("-n", "--configfile", str(bad), "-d", str(tmp_path / "run"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert line in out, out
    assert not (tmp_path / "run" / "work").exists()  # nothing planned


# -- unknown fields in benchmark records -----------------------------------------------------------------------
def _record(rid: str, cluster: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "cluster": cluster,
        "entity": cluster,
        "kind": "base",
        "question": f"{rid}?",
        "answer": f"{rid} gold",
        "false_options": [f"{rid} x", f"{rid} y"],
    } | fields


def _misspelt(record: dict[str, Any]) -> dict[str, Any]:
    record["false_option"] = record.pop("false_options")
    return record


def _split_file(tmp_path: Path, mutate: Callable[[dict[str, Any]], Any]) -> tuple[Path, Callable[[], Any]]:
    data = {
        "name": "toy",
        "style": "mcqa",
        "forget": [_record("f0", "c0"), _record("f1", "c1")],
        "retain": [_record("r0", "c2")],
        "test": [_record("t0", "c3")],
        "utility": {},
        "meta": {},
    }
    mutate(data)
    path = tmp_path / "split.json"
    path.write_text(json.dumps(data))
    return path, lambda: BenchmarkSplit.load(path)


def _records_file(tmp_path: Path, records: list[Any]) -> tuple[Path, Callable[[], Any]]:
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"records": records}))

    def load() -> Any:
        with in_file(path):
            return records_from_dicts(json.loads(path.read_text())["records"], "records")

    return path, load


UNKNOWN_FIELDS = [
    pytest.param(
        lambda tmp: _split_file(tmp, lambda d: _misspelt(d["forget"][1])),
        ["forget[1] (id 'f1')", "unknown field 'false_option'", "did you mean false_options?"],
        id="split-false_option",
    ),
    pytest.param(
        lambda tmp: _split_file(tmp, lambda d: d["retain"][0].update(notes="x")),
        ["retain[0] (id 'r0')", "unknown field 'notes'"],
        id="split-extra-field",
    ),
    pytest.param(
        lambda tmp: _split_file(tmp, lambda d: d["utility"].update(u=[_record("u0", "u", Answer="y")])),
        ["utility['u'][0] (id 'u0')", "unknown field 'Answer'", "did you mean answer?"],
        id="split-utility-field",
    ),
    pytest.param(
        lambda tmp: _records_file(tmp, [_record("a", "c0"), _misspelt(_record("b", "c1"))]),
        ["records[1] (id 'b')", "unknown field 'false_option'"],
        id="records-false_option",
    ),
    pytest.param(
        lambda tmp: _records_file(tmp, [_record("a", "c0", perturbed_answer=["z"])]),
        ["records[0] (id 'a')", "unknown field 'perturbed_answer'", "did you mean perturbed_answers?"],
        id="records-perturbed_answer",
    ),
]
KNOWN = "id, cluster, entity, kind, question, answer, false_options, paraphrased_answer, perturbed_answers"


@pytest.mark.parametrize(("make", "expected"), UNKNOWN_FIELDS)
def test_an_unknown_record_field_names_file_record_and_known_fields(tmp_path, make, expected):
    path, load = make(tmp_path)
    with pytest.raises(RecordError) as info:
        load()
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    for part in [*expected, f"a record's fields are {KNOWN}"]:
        assert part in message, f"{part!r} not in {message!r}"


# -- duplicated TOFU rows, an Alpaca file that is one object -------------------------------------------------
def _tofu_rows(n: int) -> list[dict[str, Any]]:
    return [{"question": f"Who wrote book {i}?", "answer": f"Author {i} did."} for i in range(n)]


def _tofu(tmp_path: Path, name: str, text: str) -> tuple[Path, Callable[[], Any]]:
    root = tmp_path / "tofu"
    shutil.copytree(FIX / "tofu", root)
    path = root / name
    for old in root.glob(f"{Path(name).stem}.json*"):
        old.unlink()
    path.write_text(text)
    return path, lambda: load_tofu(root)


def _alpaca(tmp_path: Path, name: str, text: str) -> tuple[Path, Callable[[], Any]]:
    path = tmp_path / name
    path.write_text(text)
    return path, lambda: load_alpaca(str(path), n=1)


ROW = {"instruction": "Say hi.", "input": "", "output": "Hi."}
TOFU_ROWS = _tofu_rows(4)
FILE_PROBES = [
    pytest.param(
        lambda tmp: _tofu(tmp, "forget01.json", json.dumps([*TOFU_ROWS, TOFU_ROWS[1]])),
        ["TOFU 'forget01' row 4", "repeats row 1", "'Who wrote book 1?'", "remove one"],
        id="tofu-duplicate-row",
    ),
    pytest.param(
        lambda tmp: _tofu(
            tmp,
            "forget01.jsonl",
            "\n".join(json.dumps(r) for r in [TOFU_ROWS[0], TOFU_ROWS[0], TOFU_ROWS[2]]),
        ),
        ["TOFU 'forget01' row 1", "repeats row 0"],
        id="tofu-duplicate-row-jsonl",
    ),
    pytest.param(
        lambda tmp: _tofu(
            tmp,
            "retain99.json",
            json.dumps([*TOFU_ROWS, {**TOFU_ROWS[2], "question": " Who wrote book 2? "}]),
        ),
        ["TOFU 'retain99' row 4", "repeats row 2"],
        id="tofu-duplicate-row-spaces",
    ),
    pytest.param(
        lambda tmp: _tofu(tmp, "forget01.json", json.dumps({"data": TOFU_ROWS})),
        ["holds one JSON object", "keys ['data']", "JSON array"],
        id="tofu-object",
    ),
    pytest.param(
        lambda tmp: _alpaca(tmp, "alpaca_data.json", json.dumps(ROW)),
        ["holds one JSON object", "keys ['instruction', 'input', 'output']", "JSON array"],
        id="alpaca-one-row-object",
    ),
    pytest.param(
        lambda tmp: _alpaca(tmp, "alpaca_data.json", json.dumps(ROW, indent=2)),
        ["holds one JSON object", "JSON array"],
        id="alpaca-pretty-object",
    ),
    pytest.param(
        lambda tmp: _alpaca(tmp, "alpaca_data.json", json.dumps({"train": [ROW, ROW]})),
        ["holds one JSON object", "keys ['train']", "JSON array"],
        id="alpaca-wrapped-rows",
    ),
    pytest.param(
        lambda tmp: _alpaca(tmp, "train.jsonl", json.dumps(ROW, indent=2)),
        ["holds one JSON object", "one object per line"],
        id="alpaca-pretty-object-jsonl",
    ),
]


@pytest.mark.parametrize(("make", "expected"), FILE_PROBES)
def test_a_repeated_row_or_a_single_object_file_is_refused(tmp_path, make, expected):
    path, load = make(tmp_path)
    with pytest.raises(RecordError) as info:
        load()
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_one_json_line_is_one_row(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    assert load_alpaca(str(path), n=1) == [("Say hi.", "Hi.")]


# -- check-config: one line on stderr, whatever stdout is ------------------------------------------------------
CHECK_CONFIG_PROBES = [
    ("seeds: [0, 1\nmethods: [GA]\n", ["{bad}:2:8: invalid YAML: expected ',' or ']', but got ':'"]),
    (
        "seeds: [0, 0]\n",
        [
            "invalid configuration in {bad} (see workflow/schemas/config.schema.yaml):",
            "  seeds: 0 is listed twice",
        ],
    ),
    ("device: gpu\n", ["invalid configuration in {bad}", "  device: 'gpu' is not a device"]),
    (None, ["config file {bad} does not exist"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), CHECK_CONFIG_PROBES, ids=["yaml", "duplicate", "device", "missing"]
)
def test_check_config_prints_only_the_message_when_piped(tmp_path, text, expected):
    bad = tmp_path / "bad.yaml"
    if text is not None:
        bad.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "ssiuu", "--config", str(bad), "check-config"],
        cwd=ROOT,
        capture_output=True,  # stdout and stderr are pipes, as in CI or a log
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"ssiuu check-config: error: {expected[0].format(bad=bad)}"), proc.stderr
    assert len(lines) == len(expected), proc.stderr  # no traceback, no log line
    for line, start in zip(lines[1:], expected[1:], strict=True):
        assert line.startswith(start.format(bad=bad)), proc.stderr


def test_check_config_verbose_adds_the_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0, 1\n")
    assert cli.main(["--verbose", "--config", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last):" in err
    assert err.splitlines()[-1].startswith(f"ssiuu check-config: error: {bad}:")


# -- a YAML syntax error in the configuration of the Makefile's run targets -----------------------------------
@pytest.fixture
def fake_venv(tmp_path) -> Path:
    """A venv for the Makefile whose ``python`` is this one and whose ``snakemake`` only records its arguments
    (in ``snakemake.calls`` beside it), so that no test starts a pipeline."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (bin_dir / "snakemake").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "snakemake.calls"}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return bin_dir.parent


def make(venv: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``make`` in the checkout with ``venv`` taken as installed: (the process, the snakemake calls)."""
    proc = subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    calls = venv.parent / "snakemake.calls"
    return proc, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("target", ["dry-run", "run"])
def test_make_names_file_and_line_of_a_yaml_error_before_snakemake(tmp_path, fake_venv, target):
    bad = tmp_path / "bad.yaml"
    bad.write_text("device: cpu\nmethods: [GD, SSIUU\nseeds: [0]\n")
    proc, calls = make(fake_venv, target, f"CONFIG={bad}")
    assert proc.returncode != 0
    assert f"ssiuu check-config: error: {bad}:3:6: invalid YAML" in proc.stderr, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert calls == []  # Snakemake never started


@pytest.mark.parametrize(("target", "runs"), [("dry-run", 1), ("run", 2)])
def test_make_passes_the_checked_configuration_to_snakemake(fake_venv, target, runs):
    proc, calls = make(fake_venv, target, "CONFIG=workflow/configs/smoke.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "workflow/configs/smoke.yaml: valid" in proc.stdout
    assert len(calls) == runs and all("--configfile workflow/configs/smoke.yaml" in c for c in calls), calls
    assert ("-n" in calls[0].split()) == (target == "dry-run")
    if target == "run":  # the report goes to the configuration's own results root
        assert "--report results/smoke/report.html" in calls[1], calls


def test_make_run_without_config_runs_config_yaml(fake_venv):
    proc, calls = make(fake_venv, "run")
    assert proc.returncode == 0, proc.stderr
    assert "check-config" not in proc.stdout  # the Snakefile reads config.yaml and names a YAML error's line
    assert len(calls) == 2 and not any("--configfile" in c for c in calls), calls
    assert "--report results/report.html" in calls[1], calls


# -- the resume advice lists this checkout's jobs only -----------------------------------------------------------
def _job_shell(checkout: str) -> subprocess.Popen:
    """A process shaped like a job's shell: the rules' prefix (workflow/rules/common.smk) and a command whose output
    goes to a log, as every rule's does (bash runs a last command without a redirection in its own place)."""
    script = f'set -euo pipefail; export PYTHONPATH="{checkout}${{PYTHONPATH:+:$PYTHONPATH}}"; sleep 30 > /dev/null 2>&1'
    return subprocess.Popen(["bash", "-c", script])


def test_the_resume_advice_lists_this_checkouts_jobs_only():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`(pgrep [^`]+)`", readme)
    assert len(commands) == 1, "README.md's resume advice names one pgrep command"
    common = (ROOT / "workflow/rules/common.smk").read_text()
    assert 'export PYTHONPATH="{workflow.basedir}${{{{PYTHONPATH' in common  # what the test's shells imitate
    checkout = str(ROOT.resolve())
    ours, other = _job_shell(checkout), _job_shell(checkout + "-other")
    try:
        time.sleep(0.3)
        listed = subprocess.run(
            ["bash", "-c", commands[0]], cwd=ROOT, capture_output=True, text=True, timeout=30
        ).stdout
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()
    pids = {int(line.split()[0]) for line in listed.splitlines()}
    assert ours.pid in pids and other.pid not in pids, listed


def test_every_job_sends_its_output_to_a_log(tmp_path):
    """So its shell stays beside the job (bash replaces itself only by a last command without a redirection)
    and keeps the checkout's path on its command line, which the resume advice's pgrep matches."""
    proc = snakemake("-n", "-p", "--configfile", str(SMOKE), "-d", str(tmp_path), "all", "calibration")
    commands = [line for line in proc.stdout.splitlines() if "python -m ssiuu" in line]
    assert proc.returncode == 0 and commands, proc.stdout + proc.stderr
    assert [c for c in commands if not re.search(r">>? \S+\.log 2>&1", c)] == []


# -- a model directory without weights ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from ssiuu.models import prepare_model

    return prepare_model("tiny-random-llama", tmp_path_factory.mktemp("tiny") / "model")


def _only(*names: str) -> Callable[[Path, Path], None]:
    """Copy ``names`` of the tiny checkpoint."""

    def make(src: Path, dst: Path) -> None:
        for name in names:
            shutil.copy(src / name, dst / name)

    return make


def _missing_shard(src: Path, dst: Path) -> None:
    _only("config.json", "tokenizer.json", "tokenizer_config.json")(src, dst)
    index = {"metadata": {}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}
    (dst / "model.safetensors.index.json").write_text(json.dumps(index))
    shutil.copy(src / "model.safetensors", dst / "model-00001-of-00002.safetensors")


MODEL_DIRS = [
    pytest.param(_only("config.json"), ["no weights", "model.safetensors"], id="config-only"),
    pytest.param(
        _only("config.json", "tokenizer.json", "tokenizer_config.json"),
        ["no weights", "model.safetensors"],
        id="no-weights",
    ),
    pytest.param(
        _only("config.json", "model.safetensors"), ["no tokenizer", "tokenizer.json"], id="no-tokenizer"
    ),
    pytest.param(
        _missing_shard,
        ["model-00002-of-00002.safetensors", "model.safetensors.index.json"],
        id="missing-shard",
    ),
]


@pytest.mark.parametrize(("make", "expected"), MODEL_DIRS)
def test_a_model_directory_without_weights_names_the_missing_file(tmp_path, tiny_checkpoint, make, expected):
    from ssiuu.models import ModelLoadError, load_model

    make(tiny_checkpoint, tmp_path)
    with pytest.raises(ModelLoadError) as info:
        load_model(str(tmp_path), device="cpu")
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"model directory {tmp_path} "), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "hf download" not in message and "HF_HOME" not in message
