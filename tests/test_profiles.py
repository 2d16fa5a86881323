"""Execution profiles, the paper config and the conda env (issue "Scale-out"); fast, no SLURM needed.

The real SLURM run is ``tests/slurm/run_local_slurm.sh`` (root, Debian; a private one-node cluster).
Here: the profiles parse and name only real rules, every GPU rule asks for a GPU and every other rule for
the CPU partition, each job's time limit, GPU memory and disk are those ssiuu/resources.py derives, the
counts the docs give match the rules, Snakemake plans the whole paper DAG offline with the expected number
of jobs per rule, and ``snakemake --lint`` is reported (as a warning, not a failure, until the lead's rule
fixes land).
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SLURM_PROFILE = ROOT / "workflow/profiles/slurm/config.yaml"
DEFAULT_PROFILE = ROOT / "workflow/profiles/default/config.yaml"
PAPER = ROOT / "workflow/configs/paper.yaml"
SMOKE = ROOT / "workflow/configs/smoke.yaml"
ENV_FILE = ROOT / "envs/ssiuu.yaml"

#: rules that are not reached from `rule all` by design (explicit targets only): the attack calibration sweep
#: (`snakemake calibration`) and the cards' own target (`snakemake card`; `all` names its files)
NOT_IN_DEFAULT_DAG = {"regenerate", "calibrate", "calibration", "card"}
#: rules without an action (Snakemake runs them itself; never submitted)
ACTIONLESS = {"all"}
#: profile keys that are no snakemake option but the slurm plugin's (`--slurm-<key>`)
PLUGIN_PREFIX = "slurm-"


def workflow_text() -> str:
    return (ROOT / "Snakefile").read_text() + "".join(
        p.read_text() for p in sorted((ROOT / "workflow/rules").glob("*.smk"))
    )


def workflow_rules() -> set[str]:
    return set(re.findall(r"^\s*(?:checkpoint|rule)\s+(\w+)\s*:", workflow_text(), re.M))


def rule_bodies() -> dict[str, str]:
    """Each rule's text, up to the next top-level statement."""
    text = workflow_text()
    heads = list(re.finditer(r"^(?:checkpoint|rule)\s+(\w+)\s*:", text, re.M))
    bodies = {}
    for head in heads:
        rest = text[head.end() :]
        end = re.search(r"^\S", rest, re.M)
        bodies[head.group(1)] = rest[: end.start() if end else len(rest)]
    return bodies


def gpu_rules() -> set[str]:
    """Rules whose resources are a torch rule's (``torch_resources``): each needs a GPU on a cluster."""
    return {name for name, body in rule_bodies().items() if "torch_resources(" in body}


def cpu_rules() -> set[str]:
    """Rules with a command that need no GPU (prepare_model loads and saves on the CPU): the CPU partition."""
    acting = {
        name for name, body in rule_bodies().items() if re.search(r"^\s+(shell|run|script):", body, re.M)
    }
    return acting - gpu_rules()


def snakemake(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PATH": f"{SNAKEMAKE.parent}:{os.environ['PATH']}",
        # planning reads no data: the dry runs here need not find the paper's models and data sets
        "SSIUU_SKIP_SOURCE_CHECK": "1",
    }
    return subprocess.run(
        [str(SNAKEMAKE), "--nolock", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_stats(output: str) -> dict[str, int]:
    """The first "Job stats" table of a Snakemake run or dry-run."""
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+(\d+)", output, re.S)
    assert m, f"no job-stats table in snakemake's output:\n{output[-3000:]}"
    stats = {rule: int(n) for rule, n in (line.split() for line in m.group(1).splitlines())}
    assert sum(stats.values()) == int(m.group(2))
    return stats


def job_resources(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job in a dry-run printout."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if head and res:
            jobs.append((head.group(1), dict(kv.split("=", 1) for kv in res.group(1).split(", "))))
    return jobs


def edited_slurm_profile(tmp_path: Path) -> Path:
    """A copy of the slurm profile with the edits a user makes: partitions `gpu` / `cpu`, an account."""
    text = SLURM_PROFILE.read_text().replace("'CHANGE_ME_CPU'", "'cpu'")
    text = text.replace("slurm_partition: \"'CHANGE_ME'\"", "slurm_partition: \"'gpu'\"")
    text = text.replace("slurm_account: \"'CHANGE_ME'\"", "slurm_account: \"'myproject'\"")
    assert not placeholders(text)
    path = tmp_path / "slurm"
    path.mkdir()
    (path / "config.yaml").write_text(text)
    return path


def placeholders(profile_text: str) -> list[str]:
    """Resource values of a profile that still hold the shipped CHANGE_ME placeholder."""
    profile = yaml.safe_load(profile_text)
    scopes = [profile["default-resources"], *profile["set-resources"].values()]
    return [str(v) for res in scopes for v in res.values() if "CHANGE_ME" in str(v)]


def smoke_config_args() -> list[str]:
    return ["--configfile", str(SMOKE)] + ([] if config_guarded() else ["--replace-workflow-config"])


def config_guarded() -> bool:
    """True once the Snakefile skips config.yaml when a --configfile is given (see docs/cluster.md)."""
    return "overwrite_configfiles" in (ROOT / "Snakefile").read_text()


# ----------------------------------------------------------------------------------------- profiles
def test_rule_lists_of_the_resources_module_are_the_workflows():
    from ssiuu import resources

    assert set(resources.GPU_RULES) <= gpu_rules(), set(resources.GPU_RULES) - gpu_rules()
    assert set(resources.CPU_RULES) <= cpu_rules(), set(resources.CPU_RULES) - cpu_rules()
    assert "prepare_model" in cpu_rules(), "prepare_model runs on the CPU: it must not hold a GPU"


def test_slurm_profile_names_every_rule_with_a_gpu_or_the_cpu_partition():
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    rules = workflow_rules()
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) <= rules, f"unknown rules: {set(profile['set-resources']) - rules}"
    assert gpu_rules() | cpu_rules() <= set(profile["set-resources"]), (
        f"rules missing from the slurm profile: {(gpu_rules() | cpu_rules()) - set(profile['set-resources'])}"
    )
    for rule, res in profile["set-resources"].items():
        assert "mem_mb" in res, f"{rule}: no host RAM (mem_mb) in the slurm profile"
        has_gpu = int(res.get("gpu", 0)) >= 1 or "gpu" in str(res.get("gres", ""))
        assert has_gpu == (rule in gpu_rules()), (
            f"{rule}: gpu request {res} (GPU rule: {rule in gpu_rules()})"
        )
        if rule in gpu_rules():
            # the rule's own limit (ssiuu/resources.py) applies only where the profile sets none
            assert "runtime" not in res, f"{rule}: a runtime in the profile replaces the derived time limit"
        else:
            assert "runtime" in res, f"{rule}: no runtime in the slurm profile"
            partition = res.get("slurm_partition")
            assert partition and partition != profile["default-resources"]["slurm_partition"], (
                f"{rule}: a CPU-only rule must not inherit the GPU partition"
            )
    assert {"slurm_partition", "slurm_account", "runtime", "mem_mb"} <= set(profile["default-resources"])


def test_slurm_profile_asks_for_gpu_memory_where_it_was_measured():
    """Each rule with a measured GPU memory has a `constraint` key (a node feature; "None": any GPU) whose
    anchor names a card at least that large."""
    from ssiuu import resources
    from ssiuu.config import load_config

    config = load_config(PAPER)
    text = SLURM_PROFILE.read_text()
    profile = yaml.safe_load(text)
    anchors = dict(
        re.findall(r"^  (\w+):[^\n]*\n(?:    [^\n]*\n)*?    constraint: [&*](gpu_\d+gb)", text, re.M)
    )
    wildcards = {"benchmark": "faithun", "model": "llama32_3b", "state": "GD-seed0-attacked"}
    for rule in resources.GPU_RULES:
        methods = config["methods"] + ["Hider"] if rule == "unlearn" else ["GD"]
        needs = [resources.gpu_memory_gib(config, rule, {**wildcards, "method": m}) for m in methods]
        if needs[0] is None:
            assert "constraint" not in profile["set-resources"][rule], rule
            continue
        assert rule in anchors, f"{rule}: no GPU memory constraint in the slurm profile"
        # a card sold as N GB holds about N GiB (an A100 80GB: 81,920 MiB)
        card_gb = int(re.search(r"\d+", anchors[rule]).group())
        assert max(needs) <= card_gb, (rule, max(needs), anchors[rule])


def test_local_slurm_test_expects_the_profiles_gpu_rules():
    """tests/slurm/run_local_slurm.sh checks that exactly its TORCH rules asked for a GPU."""
    script = (ROOT / "tests/slurm/run_local_slurm.sh").read_text()
    torch_set = re.search(r"^TORCH = \{(.*?)\}", script, re.M | re.S)
    assert torch_set, "run_local_slurm.sh: no TORCH set"
    torch = set(re.findall(r'"(\w+)"', torch_set.group(1)))
    assert gpu_rules() - NOT_IN_DEFAULT_DAG <= torch <= gpu_rules(), torch ^ gpu_rules()


def test_slurm_profile_options_are_known_to_snakemake_and_the_plugin():
    """Every key of both profiles is a long option of `snakemake --help` (plugin ones included)."""
    help_text = snakemake("--help").stdout
    options = set(re.findall(r"--([a-z][a-z0-9-]+)", help_text))
    for path in (SLURM_PROFILE, DEFAULT_PROFILE):
        unknown = [k for k in yaml.safe_load(path.read_text()) if k not in options]
        assert not unknown, f"{path.relative_to(ROOT)}: not snakemake options: {unknown}"
    plugin_keys = [k for k in yaml.safe_load(SLURM_PROFILE.read_text()) if k.startswith(PLUGIN_PREFIX)]
    assert plugin_keys, "expected slurm plugin settings in the profile"


def test_slurm_profile_dry_run_requests_gpus_for_torch_jobs_only(tmp_path):
    """Through Snakemake itself: the edited profile parses, every planned torch job carries gpu=1 and the
    GPU partition, every CPU-only job the CPU partition."""
    out = snakemake("-n", "--workflow-profile", str(edited_slurm_profile(tmp_path)), *smoke_config_args())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    jobs = job_resources(out.stdout + out.stderr)
    assert jobs, "no jobs in the dry-run printout"
    for rule, res in jobs:
        if rule in ACTIONLESS:
            continue
        assert res.get("slurm_partition") and res.get("runtime") and res.get("mem_mb"), (rule, res)
        assert (res.get("gpu") == "1") == (rule in gpu_rules()), (rule, res)
        assert res["slurm_partition"] == ("gpu" if rule in gpu_rules() else "cpu"), (rule, res)
        assert "constraint" not in res, f"{rule}: the shipped constraint is None (any GPU): {res}"


def test_unedited_slurm_profile_fails_the_dry_run_naming_each_placeholder():
    out = snakemake("-n", "--workflow-profile", "workflow/profiles/slurm", *smoke_config_args())
    assert out.returncode != 0, "the shipped CHANGE_ME placeholders were accepted"
    text = out.stdout + out.stderr
    line = next((x for x in text.splitlines() if "still says CHANGE_ME" in x), None)
    assert line, text[-3000:]
    assert "slurm_partition (default-resources, set-resources.build_benchmark" in line
    assert "slurm_account (default-resources)" in line
    assert "Traceback" not in text


def local_slurm_profile_edit() -> str:
    """The Python snippet with which tests/slurm/run_local_slurm.sh edits its copy of the profile."""
    script = (ROOT / "tests/slurm/run_local_slurm.sh").read_text()
    snippet = re.search(r'python3 - "\$PROFILE".*?<<\'PY\'\n(.*?)\nPY\n', script, re.S)
    assert snippet, "run_local_slurm.sh: no profile edit found"
    return snippet.group(1)


def test_local_slurm_test_edit_passes_the_placeholder_check(tmp_path):
    """The real-SLURM test sets one partition for every rule; that must clear every placeholder."""
    profile = tmp_path / "slurm" / "config.yaml"
    profile.parent.mkdir()
    profile.write_text(SLURM_PROFILE.read_text())
    edit = [sys.executable, "-c", local_slurm_profile_edit(), str(profile), "gpu", "64000"]
    subprocess.run(edit, check=True, timeout=30)
    assert not placeholders(profile.read_text())
    out = snakemake("-n", "--workflow-profile", str(profile.parent), *smoke_config_args())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_default_profile_runs_locally_and_plans_the_smoke_dag():
    profile = yaml.safe_load(DEFAULT_PROFILE.read_text())
    assert "executor" not in profile and profile["cores"] == "all"
    assert profile["rerun-incomplete"] is True and profile["keep-going"] is False
    cfg = ["--configfile", str(SMOKE)] + ([] if config_guarded() else ["--replace-workflow-config"])
    out = snakemake("-n", "--workflow-profile", "workflow/profiles/default", *cfg)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Using workflow specific profile workflow/profiles/default" in out.stderr


# ---------------------------------------------------------------------------------------- paper DAG
@pytest.fixture(scope="module")
def paper_dry_run() -> str:
    cfg = ["--configfile", str(PAPER)] + ([] if config_guarded() else ["--replace-workflow-config"])
    out = snakemake("-n", "--quiet", "rules", *cfg)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def expected_paper_counts(cfg: dict) -> dict[str, int]:
    """Jobs per rule of the paper protocol, counted from the config by hand. An attack job runs every draw of one
    checkpoint: harmful and benign draws of a method or control (``attack``), harmful draws of a λ-ablation
    variant (``attack_harmful``). The controls (ssiuu/references.py): Start on every benchmark and NeverLearned on
    ROUGE ones, fixed models at seed 0 only (``reference_eval``), and the Hider, unlearned at every seed like a
    method. The λ variants run at the first seed only; the calibration sweep is not in the default target. The
    cards (``card.methods``, at the first seed; no brought ``checkpoints`` here): a page per method and model,
    the tests on each of those models and on the controls beside them, an overview per benchmark and model."""
    models, benches = list(cfg["models"]), cfg["benchmarks"]
    mcqa = [b for b, v in benches.items() if v["kind"] in ("faithun", "worldfacts")]
    rouge = [b for b in benches if b not in mcqa]
    methods, seeds = cfg["methods"], cfg["seeds"]
    attacked = cfg["attacks"].get("methods") or methods
    n_variants = len(cfg["analysis"]["lambda_ablation"])
    n_m, n_s = len(models), len(seeds)
    default = {"mcqa": ["Start", "Hider"], "rouge": ["Start", "NeverLearned", "Hider"]}
    controls = {**default, **cfg["attacks"].get("controls", {})}
    n_refs = sum(len(set(controls[s]) - {"Hider"}) * len(bs) for s, bs in (("mcqa", mcqa), ("rouge", rouge)))
    n_hider = sum(("Hider" in controls[s]) * len(bs) for s, bs in (("mcqa", mcqa), ("rouge", rouge)))
    on = "NeverLearned" in controls["rouge"]
    assert not cfg.get("checkpoints"), "brought checkpoints are not counted here"
    carded = (cfg.get("card") or {}).get("methods") or []
    n_card_controls = sum(len(controls[s]) * len(bs) for s, bs in (("mcqa", mcqa), ("rouge", rouge)))
    return {
        "prepare_model": n_m,
        "build_benchmark": len(benches),
        "split": n_m * len(benches),
        "base_eval": n_m * len(benches),
        "pretrain": n_m * len(rouge),
        "pretrain_never_learned": n_m * len(rouge) * on,
        "reference_eval": n_m * n_refs,
        "unlearn": n_m * (n_s * (len(benches) * len(methods) + n_hider) + len(mcqa) * n_variants),
        "attack": n_m * (n_s * (len(benches) * len(attacked) + n_hider) + n_refs),
        "attack_harmful": n_m * len(mcqa) * n_variants,
        "card_tests": n_m * (len(benches) * len(carded) + n_card_controls) if carded else 0,
        "card_page": n_m * len(benches) * len(carded),
        "card_overview": n_m * len(benches) if carded else 0,
    }


def test_paper_dag_plans_offline_with_every_rule(paper_dry_run):
    stats = job_stats(paper_dry_run)
    missing = workflow_rules() - NOT_IN_DEFAULT_DAG - set(stats)
    assert not missing, f"rules absent from the paper DAG: {sorted(missing)}"
    print("\npaper DAG, jobs per rule:", stats)


def test_paper_dag_job_counts_match_the_protocol(paper_dry_run):
    cfg = yaml.safe_load(PAPER.read_text())
    stats = job_stats(paper_dry_run)
    for rule, n in expected_paper_counts(cfg).items():
        assert stats.get(rule, 0) == n, f"{rule}: {stats.get(rule)} jobs planned, protocol gives {n}"
    assert stats["card_tests"] > 0, "the paper protocol runs the cards"


# ------------------------------------------------------------------------------- resources, docs' counts
def job_blocks(output: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(rule, wildcards, resources) of every job in a dry-run printout."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        resources = dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}
        jobs.append((head.group(1), wildcards, resources))
    return jobs


@pytest.fixture(scope="module")
def paper_slurm_dry_run(tmp_path_factory) -> str:
    """The paper protocol planned through the (edited) slurm profile: every job with its resources."""
    profile = edited_slurm_profile(tmp_path_factory.mktemp("profile"))
    out = snakemake("-n", "--workflow-profile", str(profile), "--configfile", str(PAPER))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def test_paper_jobs_ask_for_the_derived_time_gpu_memory_and_disk(paper_slurm_dry_run):
    """Each GPU job's runtime, gpu_mem_gib and disk_mb are ssiuu/resources.py's, and its limit leaves room for
    the retry's doubling within a 24-hour partition."""
    from ssiuu import resources
    from ssiuu.config import load_config

    config = load_config(PAPER)
    jobs = [job for job in job_blocks(paper_slurm_dry_run) if job[0] in resources.GPU_RULES]
    assert len(jobs) == 330
    for rule, wildcards, res in jobs:
        seconds = resources.job_seconds(config, rule, wildcards)
        assert int(res["runtime"]) == resources.runtime_minutes(seconds), (rule, wildcards, res)
        assert 2 * int(res["runtime"]) <= resources.PARTITION_MINUTES, (rule, wildcards, res["runtime"])
        memory = resources.gpu_memory_gib(config, rule, wildcards)
        assert res.get("gpu_mem_gib") == (None if memory is None else str(memory)), (rule, wildcards, res)
        assert int(res["disk_mb"]) == resources.disk_mb(config, rule, wildcards), (rule, wildcards, res)


def docs_section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n") + len(heading) + 1
    end = re.search(rf"^#{{1,{len(level)}}} ", text[start:], re.M)
    return text[start : start + end.start() if end else len(text)]


def test_docs_gpu_hours_are_the_estimates(paper_slurm_dry_run):
    """docs/cluster.md's table of the paper protocol: each rule's GPU-hours and limits, and the totals."""
    from ssiuu import resources
    from ssiuu.config import load_config

    config = load_config(PAPER)
    hours, limits = collections.Counter(), collections.Counter()
    for rule, wildcards, _ in job_blocks(paper_slurm_dry_run):
        seconds = resources.job_seconds(config, rule, wildcards)
        if seconds is not None:
            hours[rule] += seconds / 3600
            limits[rule] += resources.runtime_minutes(seconds) / 60
    section = docs_section((ROOT / "docs/cluster.md").read_text(), "## Resources: time, GPU memory, disk")
    table = re.findall(r"^\| `(\w+)` \| \d+ \| [^|]+ \| ([\d.]+) \| [^|]+ \| ([\d.]+) \|", section, re.M)
    rows = {rule: (stated_hours, stated_limits) for rule, stated_hours, stated_limits in table}
    assert set(rows) == set(hours), set(rows) ^ set(hours)
    for rule, (stated_hours, stated_limits) in rows.items():
        assert (float(stated_hours), float(stated_limits)) == (
            round(hours[rule], 1),
            round(limits[rule], 1),
        ), rule
    total = re.search(
        r"^\| \*\*all GPU rules\*\* \| \*\*(\d+)\*\* \| \| \*\*([\d.]+)\*\* \| \| \*\*([\d.]+)\*\*",
        section,
        re.M,
    )
    assert total, "docs/cluster.md: no total row in the resources table"
    assert int(total.group(1)) == 330
    assert float(total.group(2)) == round(sum(hours.values()), 1)
    assert float(total.group(3)) == round(sum(limits.values()), 1)
    assert f"at most **{round(sum(hours.values()))} GPU-hours**" in section


NUMBER_WORDS = dict(
    zip(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split(),
        range(1, 16),
    )
)
COUNT = r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")"


def stated(text: str, noun: str) -> list[int]:
    """The numbers a text states before ``noun`` ("12 GPU rules", "eleven torch rules")."""
    return [int(n) if n.isdigit() else NUMBER_WORDS[n] for n in re.findall(COUNT + r" " + noun, text, re.I)]


DOCS_WITH_COUNTS = ["docs/cluster.md", "README.md", "workflow/profiles/slurm/README.md"]
DOCS_WITH_COUNTS += ["workflow/profiles/slurm/config.yaml", "workflow/profiles/default/config.yaml"]


@pytest.mark.parametrize("path", DOCS_WITH_COUNTS)
def test_docs_count_the_profiles_gpu_and_cpu_rules(path):
    profile = yaml.safe_load(SLURM_PROFILE.read_text())["set-resources"]
    n_gpu = sum(int(res.get("gpu", 0)) >= 1 for res in profile.values())
    cpu_partition = profile["build_benchmark"]["slurm_partition"]  # the anchor *cpu_partition refers to
    n_cpu = sum(res.get("slurm_partition") == cpu_partition for res in profile.values())
    assert (n_gpu, n_cpu) == (len(gpu_rules()), len(cpu_rules()))
    text = (ROOT / path).read_text()
    assert set(stated(text, r"(?:GPU|torch) rules")) <= {n_gpu}, (
        f"{path}: {stated(text, r'(?:GPU|torch) rules')}"
    )
    assert set(stated(text, r"CPU-only rules")) <= {n_cpu}, f"{path}: {stated(text, 'CPU-only rules')}"
    assert set(stated(text, r"rules that request `gpu: 1`")) <= {n_gpu}, path


def test_profile_readme_table_lists_every_rule_with_its_partition():
    section = docs_section(
        (ROOT / "workflow/profiles/slurm/README.md").read_text(), "## Rules and their requests"
    )
    rows = {
        rule: (partition, gpu)
        for rule, partition, gpu in re.findall(r"^\| (\w+) \| (\w+) \| ([^|]+?) \|", section, re.M)
    }
    rows.pop("rule", None)
    assert set(rows) == gpu_rules() | cpu_rules(), set(rows) ^ (gpu_rules() | cpu_rules())
    for rule, (partition, gpu) in rows.items():
        assert (partition, gpu) == (("GPU", "1") if rule in gpu_rules() else ("CPU", "–")), rule


def test_docs_dry_run_table_is_the_paper_dag(paper_dry_run):
    """docs/cluster.md step 4: jobs per rule, the total and the GPU jobs, as Snakemake plans them."""
    stats = job_stats(paper_dry_run)
    text = (ROOT / "docs/cluster.md").read_text()
    section = docs_section(text, "## 4. Dry run")
    rows = {rule: int(n) for rule, n in re.findall(r"^\| `(\w+)` \| (\d+) \|", section, re.M)}
    assert rows == stats, {
        r: (rows.get(r), stats.get(r)) for r in set(rows) | set(stats) if rows.get(r) != stats.get(r)
    }
    n_gpu = sum(n for rule, n in stats.items() if rule in gpu_rules())
    n_cpu = sum(n for rule, n in stats.items() if rule in cpu_rules())
    total = sum(stats.values())
    assert f"| **total** | **{total}** | {total - 1} sbatch jobs, {n_gpu} of them on a GPU |" in section
    assert f"is {n_gpu} GPU jobs and {n_cpu} CPU jobs" in text
    assert f"the {stats['attack']} attack jobs" in text


def test_documented_report_command_cannot_start_a_gpu_job():
    """docs/cluster.md step 6: the report command allows the report rules only; where results are missing it
    stops (here: the paper's results are not on this machine) instead of planning their GPU jobs."""
    section = docs_section((ROOT / "docs/cluster.md").read_text(), "## 6. Report")
    line = next(
        (x for x in section.splitlines() if x.startswith("snakemake ") and "--allowed-rules" in x), None
    )
    assert line, "docs/cluster.md step 6: no snakemake command with --allowed-rules"
    args = shlex.split(line)[1:]
    allowed = args[args.index("--allowed-rules") + 1 : args.index("--")]
    assert allowed and set(allowed) <= cpu_rules(), allowed
    out = snakemake("-n", *args)
    text = out.stdout + out.stderr
    planned_rules = {rule for rule, _, _ in job_blocks(text)}
    assert not planned_rules & gpu_rules(), planned_rules
    assert out.returncode == 0 or "Missing input files" in text, text[-3000:]
    # without the option the same command would plan the GPU jobs
    bare = args[: args.index("--allowed-rules")] + args[args.index("--") :]
    unguarded = {rule for rule, _, _ in job_blocks((lambda o: o.stdout + o.stderr)(snakemake("-n", *bare)))}
    assert unguarded & gpu_rules(), unguarded


def test_checkpoints_are_kept_unless_discard_checkpoints(smoke_dry_run):
    """The default keeps every saved model; `discard_checkpoints: true` marks each unlearned checkpoint,
    pre-finetuned and never-learned model temp() (Snakemake deletes it after its last reader), never the base
    model."""
    assert "Would remove temporary output" not in smoke_dry_run
    out = snakemake("-n", *smoke_config_args(), "--config", "discard_checkpoints=True")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    removed = set(re.findall(r"^Would remove temporary output (\S+)$", text, re.M))
    saved = {
        path
        for block in re.split(r"\n(?=rule \w+:\n)", text)
        if re.match(r"rule (unlearn|pretrain|pretrain_never_learned):\n", block)
        for path in re.search(r"^\s+output: (.*)$", block, re.M).group(1).split(", ")
        if not path.endswith(".json")
    }
    assert saved and removed == saved, removed ^ saved
    assert not any("/models/" in path and path.endswith("/base") for path in removed)


def test_default_config_keeps_every_checkpoint():
    out = snakemake("-n", "--forceall")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Would remove temporary output" not in text


# ---------------------------------------------------------------------------------- controls, seeds (smoke)
@pytest.fixture(scope="module")
def two_seed_smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """smoke.yaml at two seeds: the smoke run itself uses one, the dry run checks the replication over seeds."""
    path = tmp_path_factory.mktemp("smoke") / "smoke_two_seeds.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(SMOKE.read_text()) | {"seeds": [0, 1]}))
    return path


@pytest.fixture(scope="module")
def smoke_dry_run(two_seed_smoke: Path) -> str:
    out = snakemake("-n", "--configfile", str(two_seed_smoke))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def planned(output: str, rule: str) -> set[tuple[str, str, int]]:
    """(benchmark, method, seed) of every planned job of ``rule`` in a dry-run printout."""
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        if re.match(rf"(?:local)?rule {rule}:\n", block):
            wc = dict(
                re.findall(r"(\w+)=([^,\s]+)", re.search(r"^\s+wildcards: (.*)$", block, re.M).group(1))
            )
            jobs.add((wc["benchmark"], wc["method"], int(wc["seed"])))
    return jobs


def test_smoke_dag_job_counts_match_the_protocol(smoke_dry_run, two_seed_smoke):
    cfg = yaml.safe_load(two_seed_smoke.read_text())
    stats = job_stats(smoke_dry_run)
    for rule, n in expected_paper_counts(cfg).items():
        assert stats.get(rule, 0) == n, f"{rule}: {stats.get(rule)} jobs planned, protocol gives {n}"
    assert "calibrate" not in stats, "the calibration sweep is its own target (`snakemake calibration`)"


def test_dry_run_plans_the_controls_on_both_benchmarks(smoke_dry_run):
    """Start (the yardstick) on both benchmarks and NeverLearned (the known eraser) on the ROUGE one, once, at
    seed 0; the Hider (the known hider) unlearned and attacked at every seed like a method."""
    from ssiuu.references import REFERENCE_SEED

    refs = {("wf", "Start", REFERENCE_SEED), ("fict", "Start", REFERENCE_SEED), ("fict", "NeverLearned", 0)}
    hider = {(b, "Hider", s) for b in ("wf", "fict") for s in (0, 1)}
    assert planned(smoke_dry_run, "reference_eval") == refs
    assert hider <= planned(smoke_dry_run, "unlearn")
    attacked = planned(smoke_dry_run, "attack")
    assert refs | hider <= attacked
    assert {(b, x, s) for b, x, s in attacked if x not in ("Start", "NeverLearned", "Hider")} == {
        (b, x, s) for b in ("wf", "fict") for x in ("GD", "SSIUU") for s in (0, 1)
    }
    # the λ-ablation variant at the first seed only
    assert planned(smoke_dry_run, "attack_harmful") == {("wf", "SSIUU-lambda0.01", 0)}


def test_calibration_target_attacks_the_controls_with_draws_of_its_own():
    out = snakemake("-n", *smoke_config_args(), "--", "calibration")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert planned(text, "calibrate") == {
        ("wf", "Start", 0),
        ("wf", "Hider", 0),
        ("fict", "Start", 0),
        ("fict", "NeverLearned", 0),
        ("fict", "Hider", 0),
    }
    runs = {int(r) for r in re.findall(r"calibration/\w+?_lr[0-9.e+-]+_run(\d+)\.json", text)}
    assert runs and min(runs) >= 100, runs  # disjoint from the tables' draws (runs 0..attacks.runs-1)


def test_paper_configfile_alone_defines_the_dag(paper_dry_run):
    """`--configfile paper.yaml` alone (no --replace-workflow-config) plans only the paper's models.

    Needs the Snakefile to skip config.yaml when a --configfile is given: Snakemake 9 does not pass
    --replace-workflow-config on to cluster jobs, so that flag is no fix on SLURM.
    """
    assert config_guarded(), "the Snakefile merges config.yaml into every --configfile"
    stats = job_stats(paper_dry_run)  # planned without --replace-workflow-config once guarded
    assert stats["prepare_model"] == len(yaml.safe_load(PAPER.read_text())["models"])


def test_paper_config_validates_with_every_method_param_known():
    from ssiuu.config import load_config

    cfg = load_config(PAPER)
    assert {m["source"] for m in cfg["models"].values()} == {
        "meta-llama/Llama-3.2-3B-Instruct",
        "Qwen/Qwen2.5-3B-Instruct",
    }
    assert cfg["dtype"] == "bfloat16" and cfg["device"] == "auto" and cfg["attacks"]["runs"] == 3
    assert cfg["attacks"]["benign"]["n_instances"] == 1000
    from ssiuu.methods import method_hparams

    for method, params in cfg["method_params"].items():
        assert set(params) <= set(method_hparams(method)), (
            f"{method}: unknown {set(params) - set(method_hparams(method))}"
        )


def test_paper_config_sets_every_key_of_the_default_config():
    """So nothing of config.yaml survives a merge with paper.yaml except map entries (models, benchmarks)."""
    default, paper = (yaml.safe_load(p.read_text()) for p in (ROOT / "config.yaml", PAPER))

    def leaves(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and k not in ("models", "benchmarks"):
                yield from leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"

    assert set(leaves(default)) <= set(leaves(paper)), set(leaves(default)) - set(leaves(paper))


# ------------------------------------------------------------------------------------------ env file
def test_conda_env_pins_satisfy_pyproject():
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        pytest.skip("tomllib needs Python 3.11")
    env = yaml.safe_load(ENV_FILE.read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pins = {}
    for line in next(d["pip"] for d in deps if isinstance(d, dict)):
        req = Requirement(line)
        pins[req.name.lower().replace("_", "-")] = req
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    head_node_only = {"snakemake", "snakemake-executor-plugin-slurm"}  # run the DAG, not the rules
    for line in project:
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        if name in head_node_only:
            continue
        assert name in pins, f"{name} (pyproject.toml) missing from {ENV_FILE.name}"
        version = next(iter(pins[name].specifier)).version
        assert req.specifier.contains(version, prereleases=True), (
            f"{name}=={version} violates {req.specifier}"
        )
    assert (ROOT / "envs/ssiuu.post-deploy.sh").exists()


def test_every_rule_names_the_env():
    for path in sorted((ROOT / "workflow/rules").glob("*.smk")):
        text = path.read_text()
        shell_rules = re.findall(r"^rule (\w+):(.*?)(?=^rule |\Z)", text, re.M | re.S)
        for name, body in shell_rules:
            if "shell:" in body:
                assert re.search(r"conda:\s*\n\s*ENV", body), f"{path.name}: rule {name} has no `conda: ENV`"
    assert 'ENV = "../../envs/ssiuu.yaml"' in (ROOT / "workflow/rules/common.smk").read_text()


# ---------------------------------------------------------------------------------------- lint, etc.
def test_snakemake_lint_is_reported():
    """Report `snakemake --lint` (a warning, not a failure, until the lead's rule fixes land)."""
    out = snakemake("--lint")
    text = out.stdout + out.stderr
    lints = collections.Counter(re.findall(r"^\s+\* (.+?):?$", text, re.M))
    if out.returncode != 0:
        assert lints, f"snakemake --lint failed without lints:\n{text[-3000:]}"
        warnings.warn(
            "snakemake --lint: " + "; ".join(f"{n}x {msg}" for msg, n in lints.items()), stacklevel=1
        )


def test_local_slurm_script_is_valid_bash():
    script = ROOT / "tests/slurm/run_local_slurm.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert os.access(script, os.X_OK)
