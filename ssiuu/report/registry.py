"""What a registry entry of the report is (:class:`Output`): the three registries, ``TABLES``
(:mod:`ssiuu.report.tables`), ``FIGURES`` (:mod:`ssiuu.report.figures`) and ``CLAIMS``
(:mod:`ssiuu.report.claims`), map a name to one of these, and ``workflow/rules/report.smk`` builds each rule's
inputs, outputs and captions from them, as ``common.smk`` builds paths from ``layout.TEMPLATES``.

This module and the registries import nothing heavy (no pandas, matplotlib or scipy): Snakemake imports them
when it parses the workflow. A builder is named as ``module:function`` (as ``ssiuu.cli.COMMANDS`` names a
command's function) and imported only when the report is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The input groups a rule gathers for its entries (``workflow/rules/targets.smk``): ``results`` the split,
#: unlearning and attack result files; ``analysis`` the analysis outputs of Figs. 3-6 (MCQA benchmarks, where
#: ``analysis.enabled``); ``calibration`` the attack calibration's draws already on disk (read where present,
#: never a dependency: ``present_calibration()``).
INPUT_GROUPS = ("results", "analysis", "calibration")
#: When an entry is written: always (None), where a benchmark of that style runs, or where calibration draws
#: are on disk.
CONDITIONS = (None, "mcqa", "rouge", "calibration")
#: Where the captions are, relative to the repository root (a rule's ``report(caption=...)`` is relative to
#: its .smk file: ``../report/<caption>``).
CAPTION_DIR = "workflow/report"


@dataclass(frozen=True)
class Output:
    """One registry entry: what builds an output and what the rule that writes it needs.

    ``builder``: ``module:function``. ``caption``: its file under :data:`CAPTION_DIR` (Jinja-templated by
    Snakemake's report, with :func:`caption_values` as ``snakemake.params.caption``). ``inputs``: the input
    groups it reads (:data:`INPUT_GROUPS`). ``options``: builder keyword → :class:`ssiuu.report.options.
    ReportOptions` field. ``when``: :data:`CONDITIONS`; a style also reaches the builder as ``style``.
    ``file``: the output file stem it writes into, where not its own name (the claims share ``claims``)."""

    builder: str
    caption: str
    inputs: tuple[str, ...] = ("results",)
    options: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.inputs) - set(INPUT_GROUPS)
        if unknown or self.when not in CONDITIONS or ":" not in self.builder:
            raise ValueError(f"bad report output {self}: inputs in {INPUT_GROUPS}, when in {CONDITIONS}")

    def function(self) -> Callable[..., Any]:
        """The builder, imported."""
        module, _, name = self.builder.partition(":")
        return getattr(importlib.import_module(module), name)

    def kwargs(self, options: Any) -> dict[str, Any]:
        """The builder's keyword arguments from the report's options (and ``style`` for a styled entry)."""
        out = {keyword: getattr(options, name) for keyword, name in self.options.items()}
        return out | ({"style": self.when} if self.when in ("mcqa", "rouge") else {})


def written(registry: Mapping[str, Output], styles: set[str], calibration: bool) -> list[str]:
    """The names of ``registry`` a run writes: ``styles`` are its benchmarks' styles; ``calibration``: whether
    calibration draws are on disk."""
    present = {None, *styles} | ({"calibration"} if calibration else set())
    return [name for name, entry in registry.items() if entry.when in present]


def input_groups(registry: Mapping[str, Output]) -> set[str]:
    """The input groups some entry of ``registry`` reads."""
    return {group for entry in registry.values() for group in entry.inputs}


def level_text(confidence: float) -> str:
    """``95 %``: a confidence level as notes and captions write it."""
    return f"{100 * confidence:g} %"


def caption_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's values the captions quote (``{{ snakemake.params.caption.level }}`` etc.)."""
    attacks = config["attacks"]
    tolerance = float(config["analysis"]["attack_calibration"]["damage_tolerance"])
    return {
        "level": level_text(float(attacks["confidence_level"])),
        "resamples": int(attacks["bootstrap_resamples"]),
        "harmful_lrs": ", ".join(f"{float(x):g}" for x in attacks["harmful"]["learning_rates"]),
        "benign_lrs": ", ".join(f"{float(x):g}" for x in attacks["benign"]["learning_rates"]),
        "fractions": ", ".join(f"{float(x):g}" for x in attacks["harmful"]["fractions"]),
        "tolerance": f"{tolerance:g}",
        "tolerance_points": f"{100 * tolerance:g}",
        "top_k": int(config["analysis"]["top_k"]),
        "distribution_p": f"{float(config['analysis']['distribution_attack']['p']):g}",
    }
