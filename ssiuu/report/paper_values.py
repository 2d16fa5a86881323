"""Published numbers of the SSIUU paper, quoted for side-by-side comparison — NOT results of this pipeline.

Source: Yang et al., "Erase or Hide? Suppressing Spurious Unlearning Neurons for Robust Unlearning",
arXiv 2509.22263 — Table 1 (FaithUn; Llama-3.2 3B and Qwen-2.5 3B, instruction-tuned) and Table 2 (TOFU;
Llama-3.2 3B only; the paper excludes NPO on TOFU because it "fails to converge and tends to collapse").
The rows are in ``paper_values.tsv`` (one a line, as the paper prints them). All values are percentages
exactly as printed; ``None`` (``-`` in the file) is the paper's "-" (no attack on the Default model).
On FaithUn the paper's RS column is test-set accuracy (App. C.1), on TOFU it is retain-set ROUGE-L recall.

The paper also quotes Pearson ρ of attribution distributions before/after the harmful attack (p = 0.1, §6.5,
Fig. 6b, Llama-3.2 on FaithUn) for three methods; they are in :data:`PAPER_RHO`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: column order of :data:`TABLE1` / :data:`TABLE2` rows
PAPER_COLUMNS: tuple[str, ...] = ("FS", "RS", "US", "harmful_p0.1", "harmful_p0.3", "benign")

SOURCE = 'Yang et al. (2025), "Erase or Hide? Suppressing Spurious Unlearning Neurons for Robust Unlearning", arXiv 2509.22263'

#: display names of the paper's models (both instruction-tuned, 3B parameters)
PAPER_MODELS: dict[str, str] = {"llama-3.2-3b": "Llama-3.2-3B", "qwen-2.5-3b": "Qwen-2.5-3B"}

Row = tuple[float, float, float, float | None, float | None, float | None]

#: the quoted rows, one a line: table (1 or 2), model key, method, then :data:`PAPER_COLUMNS` ("-" = None)
DATA_FILE = Path(__file__).with_name("paper_values.tsv")


def _read_tables(path: Path) -> dict[str, dict[str, dict[str, Row]]]:
    """``{table number: {model key: {method: row}}}`` from :data:`DATA_FILE`, in file order."""
    header, *lines = path.read_text().splitlines()
    if tuple(header.split("\t")) != ("table", "model", "method", *PAPER_COLUMNS):
        raise ValueError(f"{path}: unexpected header {header!r}")
    tables: dict[str, dict[str, dict[str, Row]]] = {}
    for line in lines:
        table, model_key, method, *values = line.split("\t")
        row = tuple(None if v == "-" else float(v) for v in values)
        tables.setdefault(table, {}).setdefault(model_key, {})[method] = row  # type: ignore[assignment]
    return tables


_TABLES = _read_tables(DATA_FILE)
#: Table 1 — FaithUn (MCQA accuracy, %); FS, RS (test set), US, harmful p=0.1, harmful p=0.3, benign
TABLE1: dict[str, dict[str, Row]] = _TABLES["1"]
#: Table 2 — TOFU (ROUGE-L recall, %), Llama-3.2 only; NPO excluded by the paper
TABLE2: dict[str, dict[str, Row]] = _TABLES["2"]

#: paper benchmark of each table style
PAPER_BENCHMARK: dict[str, str] = {"mcqa": "FaithUn", "rouge": "TOFU"}

#: §6.5 / Fig. 6b: Pearson ρ between attributions before and after the harmful attack (p = 0.1), Llama-3.2, FaithUn
PAPER_RHO: dict[str, float] = {"GA": 0.73, "NPO": 0.87, "SSIUU": 0.99}


def paper_label(model_key: str) -> str:
    """``"paper (Llama-3.2-3B)"`` — the label every quoted value carries."""
    return f"paper ({PAPER_MODELS[model_key]})"


def paper_table(style: str) -> pd.DataFrame:
    """Long table of the quoted values: columns ``paper_model, label, method`` + :data:`PAPER_COLUMNS` (%)."""
    tables = {"mcqa": TABLE1, "rouge": TABLE2}
    if style not in tables:
        raise ValueError(f"unknown benchmark style {style!r}; expected one of {sorted(tables)}")
    rows = []
    for model_key, methods in tables[style].items():
        for method, values in methods.items():
            rows.append(
                {"paper_model": PAPER_MODELS[model_key], "label": paper_label(model_key), "method": method}
                | dict(zip(PAPER_COLUMNS, values, strict=True))
            )
    return pd.DataFrame(rows)
