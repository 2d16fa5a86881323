"""The whole DAG on the smoke config (tiny random Llama): every rule runs for real, end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "workflow/configs/smoke.yaml"
#: the smoke configuration's own results and work roots, inside the run's directory
RESULTS, WORK = (yaml.safe_load(SMOKE.read_text())[key] for key in ("results_dir", "work_dir"))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    # SSIUU_SMOKE_DIR keeps the run for later use: .ci/run compares the real-SLURM run with it
    kept = os.environ.get("SSIUU_SMOKE_DIR")
    workdir = Path(kept) if kept else tmp_path_factory.mktemp("smoke")
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(SMOKE),
            "-d",
            str(workdir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in (workdir / WORK / "logs").rglob("*.log"))
        pytest.fail(f"smoke pipeline failed:\n{proc.stderr[-4000:]}\n{logs[-8000:]}")
    return workdir


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_smoke_dag_outputs(smoke_run):
    results = smoke_run / RESULTS
    split = _json(results / "wf/tiny/split.json")
    forget, retain = {r["cluster"] for r in split["forget"]}, {r["cluster"] for r in split["retain"]}
    assert forget and retain and not forget & retain
    base = _json(results / "wf/tiny/base.json")
    assert 0.0 <= base["forget_score"] <= 1.0 and base["threshold"] == pytest.approx(1.01)
    assert _json(results / "fict/tiny/pretrain.json")["steps"] > 0
    for bench in ("wf", "fict"):
        for method in ("GA", "GD", "DPO", "NPO", "RMU", "KLUE", "SSIUU", "SIMU"):
            res = _json(results / f"{bench}/tiny/{method}/seed0/unlearn.json")
            assert res["method"] == method and res["steps"] >= 1 and res["fs_curve"][0][0] == 0
            assert {"forget_score", "retain_score", "tries", "lr"} <= set(res)
            if method not in ("GD", "SSIUU"):  # smoke.yaml attacks only these two
                continue
            attacks = sorted((results / f"{bench}/tiny/{method}/seed0/attacks").glob("*.json"))
            kinds = {_json(a)["kind"] for a in attacks}
            assert kinds == {"harmful", "benign"}
            for a in attacks:
                data = _json(a)
                assert data["max_fs"] == max(fs for _, fs in data["fs_curve"])
                assert not set(data["attack_ids"]) & set(data["eval_ids"])
    # the controls (ssiuu/references.py): Start on both benchmarks and NeverLearned on the ROUGE one, each
    # attacked like the methods (which seeds each runs at: tests/test_profiles.py plans the smoke DAG at two seeds)
    controls = {"wf": ("Start", "Hider"), "fict": ("Start", "NeverLearned", "Hider")}
    for bench, names in controls.items():
        for method in names:
            assert (results / f"{bench}/tiny/{method}/seed0/unlearn.json").exists(), (bench, method)
            attacks = sorted((results / f"{bench}/tiny/{method}/seed0/attacks").glob("*.json"))
            assert {_json(a)["kind"] for a in attacks} == {"harmful", "benign"}, (bench, method)
    assert not list(results.glob("*/tiny/*/seed*/calibration")), "the calibration is not in the default run"
    analysis = results / "wf/tiny/analysis"
    assert (analysis / "influence/cumulative.csv").stat().st_size > 0
    assert (analysis / "distributions/correlation.csv").stat().st_size > 0
    assert (analysis / "distributions/per_example.csv").stat().st_size > 0  # claim 3: 2 draws
    assert (analysis / "logit_lens.csv").stat().st_size > 0
    tables = results / "tables"
    assert (tables / "table1.md").exists() and (tables / "table2.md").exists()
    figures = list((results / "figures").glob("*.png"))
    assert len(figures) >= 6


@pytest.mark.slow
def test_smoke_hider_changed_only_the_last_block_and_final_norm(smoke_run):
    """The known hider's checkpoint equals the starting model everywhere but in the last block and final norm."""
    from safetensors.torch import load_file

    start = load_file(next((smoke_run / WORK / "models/tiny/base").glob("*.safetensors")))
    hider = load_file(next((smoke_run / WORK / "checkpoints/wf/tiny/Hider/seed0").glob("*.safetensors")))
    last = max(int(n.split(".")[2]) for n in start if n.startswith("model.layers."))
    trained = {n for n in start if n.startswith(f"model.layers.{last}.") or n == "model.norm.weight"}
    assert set(hider) == set(start)
    for name, weight in start.items():
        assert torch.equal(hider[name], weight) != (name in trained), name
