"""Nothing lost: regenerating tables, figures and claims never deletes or half-writes a published file. Each report
rule builds its outputs aside (ssiuu/aside.py) and they replace the published ones only when every one was built;
a failure leaves them as they were and the console ends with its one-line reason. Run on a copy of the committed
results in a temporary directory, never on results/ itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_regenerate import REGENERATE as REGENERATE_COMMAND

from ssiuu.aside import AsideError, main, publish

ROOT = Path(__file__).resolve().parents[1]
#: `make regenerate`'s Snakemake command without its --configfile, run with the checkout's Snakefile elsewhere
REGENERATE = REGENERATE_COMMAND[2:]


def published_files(results: Path) -> dict[str, bytes]:
    """Every file the report's rules publish: tables, figures and claims."""
    files = [*(results / "tables").rglob("*"), *(results / "figures").rglob("*"), *results.glob("claims.*")]
    return {str(f.relative_to(results)): f.read_bytes() for f in files if f.is_file()}


def test_a_truncated_result_file_leaves_every_published_file_in_place(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    truncated = next(iter(sorted(results.rglob("unlearn.json"))))
    text = truncated.read_text()
    truncated.write_text(text[: len(text) // 2])
    before = published_files(results)
    assert len([f for f in before if f.startswith("tables/")]) >= 4

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
    command += ["--configfile", str(results / "config.yaml"), *REGENERATE]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]

    after = published_files(results)
    assert sorted(after) == sorted(before), sorted(set(before) ^ set(after))
    changed = [name for name in before if after[name] != before[name]]
    assert not changed, changed
    assert not [f for f in results.glob(".aside/**/*") if f.is_file()]  # nothing half-built left behind
    # the one-line reason, last on the console after Snakemake's report of the failed jobs
    relative = truncated.relative_to(tmp_path)
    reasons = [line for line in run.stderr.splitlines()[-12:] if " failed (" in line]
    assert reasons, run.stderr[-3000:]
    for reason in reasons:
        assert f": error: {relative}: not valid JSON" in reason, reason


def stage_with(tmp_path: Path, names: list[str]) -> Path:
    stage = tmp_path / "results" / ".aside" / "tables"
    stage.mkdir(parents=True)
    for name in names:
        (stage / name).write_text(f"new {name}")
    return stage


@pytest.fixture
def published(tmp_path: Path) -> list[Path]:
    tables = tmp_path / "results" / "tables"
    tables.mkdir(parents=True)
    outputs = [tables / "table1.md", tables / "table1.csv"]
    for out in outputs:
        out.write_text(f"old {out.name}")
    return outputs


def test_publish_replaces_every_output_once_all_were_built(tmp_path: Path, published: list[Path]) -> None:
    stage = stage_with(tmp_path, ["table1.md", "table1.csv", "extra.tex"])
    moved = publish(stage, published)
    assert [p.read_text() for p in published] == ["new table1.md", "new table1.csv"]
    assert (published[0].parent / "extra.tex").read_text() == "new extra.tex"  # what the build wrote besides
    assert set(moved) == {*published, published[0].parent / "extra.tex"}
    assert not stage.exists()


def test_publish_moves_nothing_when_one_output_was_not_built(tmp_path: Path, published: list[Path]) -> None:
    stage = stage_with(tmp_path, ["table1.md"])
    with pytest.raises(
        AsideError, match=r"the build wrote no table1\.csv; the published files are left as they"
    ):
        publish(stage, published)
    assert [p.read_text() for p in published] == ["old table1.md", "old table1.csv"]


def test_the_command_prints_one_line_on_failure(
    tmp_path: Path, published: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    stage = stage_with(tmp_path, [])
    assert main([str(stage), *map(str, published)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ssiuu aside: error: ") and "table1.csv, table1.md" in err
