"""The verdicts of the paper's claims and the findings behind them (:mod:`ssiuu.report.claims`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ssiuu.report.analysis_inputs import analysis_pairs
from ssiuu.report.inference import Estimate
from ssiuu.report.results import ResultFiles

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive at this n"
#: the verdict where the known hider is not separated from the eraser or reference
INSTRUMENT = "the instrument cannot decide here"


@dataclass(frozen=True)
class Finding:
    """One part of a claim (a benchmark / model, or one attack of it): its verdict, sentence and numbers."""

    where: str
    verdict: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper with its overall verdict and the findings behind it."""

    number: int
    title: str
    verdict: str
    findings: tuple[Finding, ...]
    how: str

    @classmethod
    def from_findings(cls, number: int, title: str, findings: Iterable[Finding], how: str) -> Claim:
        """The claim whose verdict is :func:`combine` of its findings' verdicts."""
        findings = tuple(findings)
        return cls(number, title, combine(f.verdict for f in findings), findings, how)

    def line(self) -> str:
        """The claim's Markdown line: title and verdict, then the finding (one part) or each part's verdict."""
        head = f"{self.number}. **{self.title}** — *{self.verdict}*."
        if len(self.findings) == 1:
            return f"{head} {self.findings[0].where}: {self.findings[0].text}."
        return f"{head} " + "; ".join(f"{f.where}: {f.verdict}" for f in self.findings) + "."

    def markdown(self, how: bool = True) -> list[str]:
        """The line, a sub-line per part when there are several, and how the claim was tested."""
        lines = [self.line()]
        if len(self.findings) > 1:
            lines += [f"   - {f.where} — *{f.verdict}*: {f.text}." for f in self.findings]
        return lines + ([f"   - Test: {self.how}."] if how else [])

    def to_dict(self) -> dict[str, Any]:
        """The claim as JSON-ready data; undefined numbers (NaN) become ``None``."""
        return _finite_or_none(asdict(self))


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def interval_verdict(iv: Estimate) -> str:
    """``supported`` when the interval lies above 0, ``not supported`` below 0, else (or undefined) inconclusive."""
    if math.isnan(iv.low) or math.isnan(iv.high):
        return INCONCLUSIVE
    if iv.low > 0:
        return SUPPORTED
    return NOT_SUPPORTED if iv.high < 0 else INCONCLUSIVE


def combine(verdicts: Iterable[str]) -> str:
    """All parts supported → supported; any part not supported → not supported; every part undecidable by the
    instrument → :data:`INSTRUMENT`; else (or none) inconclusive."""
    verdicts = list(verdicts)
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INSTRUMENT if verdicts and all(v == INSTRUMENT for v in verdicts) else INCONCLUSIVE


def fmt_interval(iv: Estimate, digits: int = 2, scale: float = 1.0) -> str:
    """``0.12 [0.05, 0.19]``; ``0.12 (no interval)`` where it is undefined; ``–`` when missing."""
    if math.isnan(iv.value):
        return "–"
    v = iv.scaled(scale)
    if math.isnan(v.low):
        return f"{v.value:.{digits}f} (no interval)"
    return f"{v.value:.{digits}f} [{v.low:.{digits}f}, {v.high:.{digits}f}]"


def sig(x: float) -> str:
    """Three significant digits."""
    return f"{x:.3g}"


def analysis_dirs(results: ResultFiles) -> list[tuple[str, Path]]:
    """(``<benchmark>/<model>``, its ``analysis/`` directory) of every pair with listed analysis outputs."""
    return [
        (f"{bench}/{model}", results.root / bench / model / "analysis")
        for bench, model in analysis_pairs(results)
    ]


def missing(where: str, what: str) -> Finding:
    """An inconclusive finding: the data it needs is not there."""
    return Finding(where, INCONCLUSIVE, f"no data ({what})")
