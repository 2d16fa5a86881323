"""The tables (CSV, Markdown, LaTeX): :data:`TABLES`, the one registry of them.

``workflow/rules/report.smk`` takes the ``tables`` rule's outputs, captions and inputs from it; the rule's
command (:func:`ssiuu.report.tables.build.make_tables`) calls every entry's builder on one
:class:`ssiuu.report.tables.data.TableData`, which aggregates Tables 1-2 once per benchmark style.

To add a table: a module here with a builder ``write_<name>(data, out_dir, **options) -> {file: path}``, one
entry below, and its caption ``workflow/report/<name>.rst`` (docs/architecture.md).
"""

from __future__ import annotations

from ssiuu.report.registry import Output

_LABELS = {"labels": "labels"}
_M = "ssiuu.report.tables"


def _styled(number: int, style: str) -> dict[str, Output]:
    """Table ``number`` of a benchmark style and its three companions."""
    name = f"table{number}"
    return {
        name: Output(f"{_M}.main:write_main_table", f"{name}.rst", options=_LABELS, when=style),
        f"{name}_vs_paper": Output(
            f"{_M}.vs_paper:write_vs_paper", f"{name}_vs_paper.rst", options=_LABELS, when=style
        ),
        f"{name}_recovery": Output(
            f"{_M}.recovery:write_recovery", f"{name}_recovery.rst", options=_LABELS, when=style
        ),
        f"{name}_ssiuu_vs": Output(
            f"{_M}.ssiuu_vs:write_ssiuu_vs", f"{name}_ssiuu_vs.rst", options=_LABELS, when=style
        ),
    }


TABLES: dict[str, Output] = {
    **_styled(1, "mcqa"),
    **_styled(2, "rouge"),
    "attack_calibration": Output(
        f"{_M}.calibration:write_calibration_table",
        "attack_calibration.rst",
        inputs=("results", "calibration"),
        options=_LABELS | {"tolerance": "calibration_tolerance"},
        when="calibration",
    ),
}
