"""The cards' overview (ssiuu/card/overview.py): one table of every model on every test and its figure, on
synthetic card results; every cell is the number, n and verdict that model's card prints, the controls' cells
those of the cards' control columns, and a model without a test's result is named."""

from __future__ import annotations

import re

import pytest

from ssiuu import layout
from ssiuu.card.figure import CONTROL_COLOR, MODEL_COLOR, draw_card_figure
from ssiuu.card.overview import make_card_overview, overview_panels, overview_rows
from ssiuu.card.render import Settings, load_results, make_card
from ssiuu.config import load_config
from ssiuu.io import write_json
from tests.result_files import card_test_result

TESTS = ("plain", "quantized_8bit", "quantized_4bit", "in_context", "probe", "logit_lens")
#: per model, the share of its 30 items read right: an eraser that never knew, a hider that knows, and three
#: models with a card that erase (GD), hide (NPO) and sit between the controls (mine, brought, with its own start)
SHARES = {
    "Start": 0.9,
    "NeverLearned": 0.1,
    "Hider": 0.8,
    "mine+start": 0.7,
    "GD": 0.1,
    "NPO": 0.8,
    "mine": 0.4,
}
SUBJECTS = ("GD", "NPO", "mine")
CELL = re.compile(r"(-?\d+\.\d\d) \[(-?\d+\.\d\d), (-?\d+\.\d\d)\]")


def card_file(root, method: str, test: str) -> str:
    return layout.path(
        "card_test", results=str(root), benchmark="wf", model="tiny", method=method, seed=0, test=test
    )


def write_results(root, shares: dict[str, float], tests=TESTS) -> dict[str, list[str]]:
    """Each model's card test files (method → paths)."""
    files = {}
    for method, share in shares.items():
        files[method] = [card_file(root, method, test) for test in tests]
        for path, test in zip(files[method], tests, strict=True):
            write_json(path, card_test_result(test, share))
    return files


def table(text: str) -> list[dict[str, str]]:
    """The rows of the (first) Markdown table of ``text``, as header → cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]
    ]


@pytest.fixture
def config():
    return load_config(
        "workflow/configs/smoke.yaml",
        overrides={
            "checkpoints": {"mine": {"path": "/x", "start": "/s", "model": "tiny", "benchmark": "wf"}},
            "attacks": {"bootstrap_resamples": 999},
        },
    )


def cards(config, files: dict[str, list[str]], tmp_path) -> dict[str, str]:
    """Each model's card (method → Markdown), from its files and the controls' (its own start for mine)."""
    shown = {"Start", "NeverLearned", "Hider"}
    texts = {}
    for method in SUBJECTS:
        own = shown - {"Start"} | {"mine+start"} if method == "mine" else shown
        paths = files[method] + [p for c in sorted(own) for p in files[c]]
        texts[method] = make_card(
            config,
            benchmark="wf",
            model="tiny",
            method=method,
            seed=0,
            results=paths,
            out=str(tmp_path / f"{method}.md"),
        )
    return texts


def overview(config, files: dict[str, list[str]], tmp_path) -> str:
    return make_card_overview(
        config,
        benchmark="wf",
        model="tiny",
        results=[p for paths in files.values() for p in paths],
        out=str(tmp_path / "overview.md"),
        figure=str(tmp_path / "overview.png"),
    )


def test_the_overview_cells_are_the_cards_numbers_and_verdicts(config, tmp_path):
    files = write_results(tmp_path / "results", SHARES)
    text = overview(config, files, tmp_path)
    assert (tmp_path / "overview.md").read_text() == text
    assert text.startswith("# Erase-or-hide cards at a glance: wf, tiny\n")
    assert "[95 % interval]" in text and "docs/card.md" in text
    rows = table(text)
    labels = [row["model"] for row in rows]
    assert labels == [
        "Start (starting model)",
        "NeverLearned (known eraser)",
        "Hider (known hider)",
        "mine+start (starting model of mine)",
        "GD (seed 0)",
        "NPO (seed 0)",
        "mine (checkpoint: /x)",
    ]
    columns = list(rows[0])[1:-1]  # the tests' columns, in the card's order
    assert [c.split(": ")[-1] for c in columns] == ["correct"] * 4 + [
        "accuracy",
        "share of layers read right",
    ]
    by_name = {label.split(" ")[0]: row for label, row in zip(labels, rows, strict=True)}
    for method, card in cards(config, files, tmp_path).items():
        card_rows = [r for r in table(card) if r["measure"] != "margin"]  # the score rows, one per test
        assert len(card_rows) == len(columns) == len(TESTS)
        for column, card_row in zip(columns, card_rows, strict=True):
            assert column.rsplit(": ", 1)[0] == card_row["test"]
            verdict = "" if card_row["verdict"] == "–" else f": {card_row['verdict']}"
            expected = f"{card_row['this model']}, n = {card_row['n']}{verdict}"
            assert by_name[method][column] == expected, (method, column)
            for control in ("NeverLearned", "Hider", "mine+start" if method == "mine" else "Start"):
                header = next(h for h in card_row if h.startswith(control.replace("mine+start", "Start")))
                assert by_name[control][column] == f"{card_row[header]}, n = 30", (method, control, column)
        summary = re.search(r"\*\*Summary: (.+?)\*\*", card).group(1)
        assert by_name[method]["summary (the card's)"] == summary
    # the verdicts themselves: GD erases, NPO hides, mine sits between the eraser and the hider
    quantized = columns[1]
    assert by_name["GD"][quantized].endswith(": erases") and by_name["NPO"][quantized].endswith(": hides")
    assert by_name["mine"][quantized].endswith(": cannot tell at this n")
    assert by_name["Hider"]["summary (the card's)"] == "–" and "**No result:**" not in text


def test_the_figure_plots_every_model_on_every_test(config, tmp_path):
    files = write_results(tmp_path / "results", SHARES)
    text = overview(config, files, tmp_path)
    assert (tmp_path / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    settings = Settings.from_config(config)
    rows = overview_rows(load_results([p for paths in files.values() for p in paths]), settings)
    panels = overview_panels(rows, settings)
    fig = draw_card_figure("overview", panels, settings.confidence)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    names = ["Start", "NeverLearned", "Hider", "mine+start", "GD", "NPO", "mine"]
    assert len(axes) == len(panels) == len(TESTS)
    table_rows = table(text)
    for k, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        assert [t.get_text() for t in ax.get_xticklabels()] == names == panel.models
        points = []
        for container in ax.containers:
            (value,) = container.lines[0].get_ydata()
            (segment,) = container.lines[2][0].get_segments()
            points.append(tuple(round(float(v), 2) for v in (value, segment[0][1], segment[1][1])))
        column = list(table_rows[0])[1 + k]
        cells = [tuple(map(float, CELL.match(row[column]).groups())) for row in table_rows]
        assert points == cells  # the table's numbers
        assert panel.colors == (CONTROL_COLOR,) * 4 + (MODEL_COLOR,) * 3
    assert panels[1].markers[4:] == ("v", "^", "o")  # 8-bit: GD erases, NPO hides, mine cannot tell
    assert panels[0].markers == ("o",) * 7  # no attack: no verdict
    assert panels[-1].chance == 0.5 and panels[0].chance == pytest.approx(1 / 3)


def test_a_model_without_a_tests_result_is_named(config, tmp_path, caplog):
    root = tmp_path / "results"
    files = write_results(root, {c: SHARES[c] for c in ("Start", "Hider", "GD")})
    files |= write_results(root, {"RMU": 0.5}, tests=TESTS[:-1])  # no logit lens
    with caplog.at_level("WARNING"):
        text = overview(config, files, tmp_path)
    rows = {row["model"]: row for row in table(text)}
    lens = next(c for c in rows["GD (seed 0)"] if c.startswith("logit lens"))
    assert rows["RMU (seed 0)"][lens] == "no result" and rows["GD (seed 0)"][lens].startswith("0.")
    assert "**No result:** RMU has no result of logit_lens." in text
    assert "RMU has no result of logit_lens" in caplog.text
    assert (tmp_path / "overview.png").read_bytes()[:4] == b"\x89PNG"


def test_results_of_another_benchmark_or_no_model_with_a_card_stop_it(config, tmp_path):
    files = write_results(tmp_path / "results", {c: SHARES[c] for c in ("Start", "Hider")})
    with pytest.raises(ValueError, match="no model with a card among the results given"):
        overview(config, files, tmp_path)
    other = layout.path(
        "card_test", results=str(tmp_path), benchmark="fict", model="tiny", method="GD", seed=0, test="plain"
    )
    with pytest.raises(ValueError, match="a card result of fict, tiny, not of wf, tiny"):
        make_card_overview(config, benchmark="wf", model="tiny", results=[other], out=str(tmp_path / "o.md"))
