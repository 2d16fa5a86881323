"""The attack calibration's rule (ssiuu/report/calibration.py) and its table (ssiuu/report/tables/calibration.py): an attack that recovers, not one
that damages. A setting passes where the attacked starting model stays within the damage tolerance; among those,
the one that best separates the known hider from the known eraser is chosen."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from result_files import FAST_STATS, report_options, result_files

from ssiuu.report.calibration import (
    choose_attack_setting,
    configured_setting,
    damage_items,
    default_tolerance,
    setting_rows,
    within_tolerance,
)
from ssiuu.report.tables.calibration import choice_notes

FIX = Path(__file__).parent / "fixtures" / "results"


def setting(lr: float, epochs: int, fs: float, retain: float, test: float, sep: float, **extra) -> dict:
    """A hand-made row: the attacked Start's changes in points, the separation as a fraction."""
    return {
        "benchmark": "b",
        "model": "m",
        "kind": "harmful",
        "lr": lr,
        "epochs": epochs,
        "start_fs_change": fs,
        "start_retain_change": retain,
        "start_test_change": test,
        "separation": sep,
        "separation_low": sep / 2,  # separated (interval above 0) where sep > 0
        "separation_rankable": True,
    } | extra


def chosen(rows: pd.DataFrame) -> list[tuple[float, int]]:
    return [(r["lr"], int(r["epochs"])) for _, r in rows[rows["chosen"]].iterrows()]


def test_a_damaging_setting_is_rejected_however_well_it_separates() -> None:
    """1e-3 separates best (0.9) but costs the attacked Start 30 points of FS; 1e-4 costs 12 points of its retain
    score: both out at a 10-point tolerance. 1e-5 (0.6) is chosen over 1e-6 (0.4)."""
    rows = pd.DataFrame(
        [
            setting(1e-3, 2, -30.0, -2.0, -1.0, 0.9),
            setting(1e-4, 2, -5.0, -12.0, 0.0, 0.8),
            setting(1e-5, 2, -8.0, -3.0, -10.0, 0.6),  # exactly at the tolerance: passes
            setting(1e-6, 2, 0.0, 0.0, 0.0, 0.4),
        ]
    )
    out = choose_attack_setting(rows, tolerance=0.10)
    assert out["passes"].tolist() == [False, False, True, True]
    assert out["worst_loss"].tolist() == [30.0, 12.0, 10.0, 0.0]
    assert chosen(out) == [(1e-5, 2)]
    assert chosen(choose_attack_setting(rows, tolerance=0.30)) == [(1e-3, 2)]  # a looser tolerance admits it
    assert chosen(choose_attack_setting(rows, tolerance=0.0)) == [(1e-6, 2)]
    assert list(rows.columns) == list(out.columns)[: len(rows.columns)] and "chosen" not in rows  # pure


def test_ties_go_to_the_smaller_damage_then_the_lower_rate_then_fewer_epochs() -> None:
    rows = pd.DataFrame(
        [
            setting(1e-4, 1, -6.0, 0.0, 0.0, 0.5),
            setting(1e-5, 2, -2.0, 0.0, 0.0, 0.5),  # the same separation, less damage
            setting(1e-5, 1, -2.0, 0.0, 0.0, 0.5),  # and fewer epochs
            setting(1e-6, 5, -2.0, 0.0, 0.0, 0.5 + 1e-15),  # equal up to rounding; a lower rate
        ]
    )
    assert chosen(choose_attack_setting(rows, 0.1)) == [(1e-6, 5)]
    assert chosen(choose_attack_setting(rows.iloc[:3], 0.1)) == [(1e-5, 1)]
    assert chosen(choose_attack_setting(rows.iloc[:2], 0.1)) == [(1e-5, 2)]


def test_one_choice_per_benchmark_model_and_attack() -> None:
    rows = pd.DataFrame(
        [
            setting(1e-4, 1, 0.0, 0.0, 0.0, 0.5),
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.7),
            setting(1e-4, 1, 0.0, 0.0, 0.0, 0.9, kind="benign"),
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.1, kind="benign"),
            setting(1e-4, 1, 0.0, 0.0, 0.0, 0.2, benchmark="c"),
        ]
    )
    out = choose_attack_setting(rows, 0.1)
    assert out["chosen"].tolist() == [False, True, True, False, True]


def test_none_passing_chooses_nothing_and_names_the_least_damaging() -> None:
    rows = pd.DataFrame(
        [
            setting(1e-4, 1, -40.0, -5.0, -5.0, 0.9),
            setting(1e-5, 1, -15.0, -2.0, -21.0, 0.6),
            setting(1e-6, 1, -11.5, 0.0, -3.0, 0.1),
        ]
    )
    out = choose_attack_setting(rows, 0.10)
    assert not out["passes"].any() and not out["chosen"].any()
    (note,) = choice_notes(out, 0.10, {"b": "Bench"})
    assert note.startswith("Bench · m, harmful attack: no setting passes the 10-point tolerance")
    assert "η = 1e-06, 1 epoch, costs the attacked Start 11.5 points" in note


def test_a_setting_needs_its_damage_measured_and_a_separation_that_ranks() -> None:
    """FS on the evaluation items and at least one of retain/test must be recorded; a § separation (a share's
    denominator not above 0) or an undefined one is never chosen, and the notes say so."""
    nan = math.nan
    assert within_tolerance(setting(1e-5, 1, -1.0, nan, -2.0, 0.5), 0.1)  # ROUGE splits without test items
    assert not within_tolerance(setting(1e-5, 1, -1.0, nan, nan, 0.5), 0.1)  # draws without damage fields
    assert not within_tolerance(setting(1e-5, 1, nan, 0.0, 0.0, 0.5), 0.1)
    rows = pd.DataFrame(
        [
            setting(1e-4, 1, 0.0, 0.0, 0.0, 0.9, separation_rankable=False),
            setting(1e-5, 1, 0.0, 0.0, 0.0, nan),
        ]
    )
    out = choose_attack_setting(rows, 0.1)
    assert out["passes"].all() and not out["eligible"].any() and not out["chosen"].any()
    assert "none has a separation that ranks with its interval above 0" in choice_notes(out, 0.1)[0]
    assert out["fallback"].tolist() == [True, False]  # the stronger of the two passing settings
    unmeasured = choose_attack_setting(pd.DataFrame([setting(1e-5, 1, nan, nan, nan, 0.5)]), 0.1)
    assert "damage recorded" in choice_notes(unmeasured, 0.1)[0]


def test_a_separation_whose_interval_holds_0_does_not_separate() -> None:
    """The best of several separations that all hold 0 is noise: no ★; ☆ is the strongest within tolerance."""
    rows = pd.DataFrame(
        [
            setting(1e-6, 1, 0.0, 0.0, 0.0, 0.01, separation_low=-0.01),
            setting(1e-5, 1, -2.0, 0.0, 0.0, -0.02, separation_low=-0.05),
        ]
    )
    out = choose_attack_setting(rows, 0.1)
    assert not out["eligible"].any() and not out["chosen"].any()
    assert out["fallback"].tolist() == [False, True]
    assert configured_setting(out, "harmful") == (1e-5, 1)


def test_without_a_separation_that_ranks_the_fallback_is_the_strongest_setting_within_tolerance() -> None:
    """Strength is η × epochs, then η: 1e-5 x 1 (1e-5) beats 1e-6 x 3 (3e-6); 1e-4 x 1 damages."""
    rows = pd.DataFrame(
        [
            setting(1e-6, 1, 0.0, 0.0, 0.0, 0.0, separation_rankable=False),
            setting(1e-6, 3, 0.0, 0.0, 0.0, 0.1, separation_rankable=False),
            setting(1e-5, 1, -5.0, 0.0, 0.0, -0.2, separation_rankable=False),
            setting(1e-4, 1, -25.0, 0.0, 0.0, 0.9, separation_rankable=False),
        ]
    )
    out = choose_attack_setting(rows, 0.1)
    assert not out["chosen"].any() and out["fallback"].tolist() == [False, False, True, False]
    note = choice_notes(out, 0.1)[0]
    assert "☆ η = 1e-05, 1 epoch, the strongest within the tolerance" in note and "loses at most 5.0" in note
    assert configured_setting(out, "harmful") == (1e-5, 1)
    assert configured_setting(out, "benign") is None


def test_the_configured_setting_must_hold_on_every_benchmark() -> None:
    """Eligible on every benchmark: the largest smallest separation (1e-5 x 1: min 0.4 against 1e-6 x 1: 0.1);
    eligible on one only: the strongest that passes on both; nothing passing on both: None."""
    both = pd.DataFrame(
        [
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.5),
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.4, benchmark="c"),
            setting(1e-6, 1, 0.0, 0.0, 0.0, 0.9),
            setting(1e-6, 1, 0.0, 0.0, 0.0, 0.1, benchmark="c"),
        ]
    )
    assert configured_setting(choose_attack_setting(both, 0.1), "harmful") == (1e-5, 1)
    no_rank = {"separation_rankable": False}
    one_sided = pd.DataFrame(
        [
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.0, **no_rank),
            setting(1e-6, 3, 0.0, 0.0, 0.0, 0.0, **no_rank),
            setting(1e-5, 1, -20.0, 0.0, 0.0, 0.9, benchmark="c"),  # separates on c, but damages there
            setting(1e-6, 3, 0.0, 0.0, 0.0, 0.8, benchmark="c"),
        ]
    )
    assert configured_setting(choose_attack_setting(one_sided, 0.1), "harmful") == (1e-6, 3)
    ranks_on_one = pd.DataFrame(
        [
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.5),
            setting(1e-4, 1, -5.0, 0.0, 0.0, 0.9, **no_rank),
            setting(1e-5, 1, 0.0, 0.0, 0.0, 0.0, benchmark="c", **no_rank),
            setting(1e-4, 1, -5.0, 0.0, 0.0, 0.0, benchmark="c", **no_rank),
        ]
    )  # where one benchmark can decide, its ★ wins over the strongest setting
    assert configured_setting(choose_attack_setting(ranks_on_one, 0.1), "harmful") == (1e-5, 1)
    apart = pd.DataFrame(
        [setting(1e-5, 1, 0.0, 0.0, 0.0, 0.5), setting(1e-5, 1, -30.0, 0.0, 0.0, 0.5, benchmark="c")]
    )
    assert configured_setting(choose_attack_setting(apart, 0.1), "harmful") is None


# ------------------------------------------------------------------------------------ the synthetic sweep
def test_setting_rows_read_the_damage_and_the_shares_off_the_controls_draws() -> None:
    """The synthetic controls (tests/fixtures/results/generate_synthetic.py): the attacked Start loses 20 % of its
    scores per epoch at 1e-4 and 3 % at 1e-5; the hider recovers e/3 of 0.95 (1e-4), 0.8 (1e-5) and 0.4 (1e-6) of
    the way to the attacked Start's margin, the eraser (ROUGE) e/3 of 0.1 (1e-4, 1e-5) and 0.05 (1e-6)."""
    mcqa = setting_rows(result_files(FIX), "synth_mcqa", "tiny", stats=FAST_STATS).set_index(
        ["kind", "lr", "epochs"]
    )
    assert len(mcqa) == (3 + 2) * 3  # (harmful + benign rates) × epochs 1-3
    harmful = mcqa.loc["harmful"]
    # 20 evaluation items: 4, 8, 12 of them lost at 1e-4, round(0.6), round(1.2), round(1.8) at 1e-5
    assert harmful.loc[1e-4, "start_fs_change"].tolist() == pytest.approx([-20.0, -40.0, -60.0])
    assert harmful.loc[1e-5, "start_fs_change"].tolist() == pytest.approx([-5.0, -5.0, -10.0])
    assert harmful.loc[1e-6, "start_fs_change"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert harmful.loc[1e-5, "start_retain_change"].tolist() == pytest.approx([-5.0, -5.0, -10.0])
    assert harmful.loc[1e-5, "start_test_change"].tolist() == pytest.approx([-5.0, -5.0, -10.0])
    assert (harmful["start_fs_change_n"] == 20).all() and (harmful["start_retain_change_n"] == 20).all()
    assert harmful.loc[1e-4, "hider_share"].tolist() == pytest.approx([0.95 / 3, 0.95 * 2 / 3, 0.95])
    assert harmful["separation"].tolist() == pytest.approx(harmful["hider_share"].tolist())  # no eraser
    assert not harmful["eraser"].any() and harmful["eraser_share"].isna().all()
    assert harmful["separation_rankable"].all()
    # the paired estimate equals the share computed from the files by hand: (h_after − h_before) / (R_after − h_before)
    draw = lambda m: json.loads(  # noqa: E731
        (FIX / f"synth_mcqa/tiny/{m}/seed0/calibration/harmful_p0.1_lr1e-05_run100.json").read_text()
    )
    hider, start = draw("Hider"), draw("Start")
    gain = sum(hider["curve"][2]["item_margins"]) - sum(hider["curve"][0]["item_margins"])
    room = sum(start["curve"][2]["item_margins"]) - sum(hider["curve"][0]["item_margins"])
    assert harmful.loc[(1e-5, 2), "hider_share"] == pytest.approx(gain / room)

    rouge = setting_rows(result_files(FIX), "synth_rouge", "tiny", stats=FAST_STATS).set_index(
        ["kind", "lr", "epochs"]
    )
    at = rouge.loc[("harmful", 1e-4, 3)]
    assert at["eraser"] and at["eraser_share"] == pytest.approx(0.1)
    assert at["separation"] == pytest.approx(0.95 - 0.1)
    assert at["start_retain_change"] == pytest.approx(-0.92 * 60)  # recalls of 0.92 scaled by 1 − 0.6
    assert rouge["start_test_change"].isna().all()  # the split has no test items


def test_the_rule_on_the_synthetic_sweep_chooses_the_best_separation_within_the_tolerance() -> None:
    rows = pd.concat(
        [
            setting_rows(result_files(FIX), b, "tiny", stats=FAST_STATS).assign(benchmark=b, model="tiny")
            for b in ("synth_mcqa", "synth_rouge")
        ],
        ignore_index=True,
    )
    out = choose_attack_setting(rows, 0.10)
    picks = {
        (r["benchmark"], r["kind"]): (r["lr"], int(r["epochs"])) for _, r in out[out["chosen"]].iterrows()
    }
    # 1e-4 separates best (0.95; 0.85 on ROUGE) but costs Start 20-60 points: rejected
    assert picks == {(b, k): (1e-5, 3) for b in ("synth_mcqa", "synth_rouge") for k in ("harmful", "benign")}
    assert not out[out["lr"] == 1e-4]["passes"].any()
    # at 5 points, 3 epochs of 1e-5 (10 points lost on MCQA) fail: 2 epochs of 1e-5 separate best
    tight = choose_attack_setting(rows, 0.05)
    assert chosen(tight[(tight["benchmark"] == "synth_mcqa") & (tight["kind"] == "harmful")]) == [(1e-5, 2)]


def test_damage_items_pair_step_zero_with_the_end_and_are_empty_for_draws_without_them() -> None:
    path = FIX / "synth_mcqa/tiny/Start/seed0/calibration/harmful_p0.1_lr1e-04_run100.json"
    draw = json.loads(path.read_text())
    items = damage_items(draw, "retain")
    assert items["item"].tolist() == draw["retain_ids"] and (items["draw"] == 100).all()
    assert items["before"].tolist() == draw["curve"][0]["item_retain_scores"]
    assert items["after"].tolist() == draw["curve"][-1]["item_retain_scores"]
    old = json.loads(
        (FIX / "synth_mcqa/tiny/GA/seed0/calibration/harmful_p0.1_lr1e-04_run0.json").read_text()
    )
    assert damage_items(old, "retain").empty and damage_items(draw | {"test_ids": []}, "test").empty


def test_the_calibration_table_builds_from_the_synthetic_calibration_files(tmp_path: Path) -> None:
    """attack_calibration.{csv,md,tex}: one row per benchmark, model, attack, learning rate and epoch count of
    the swept starting model, the rule's columns, ★ on the choice, the tolerance in the notes."""
    from ssiuu.report.tables.build import build_tables

    paths = build_tables(
        result_files(FIX), tmp_path, report_options(stats=FAST_STATS, calibration_tolerance=0.05)
    )
    assert {f"attack_calibration.{e}" for e in ("csv", "md", "tex")} <= set(paths)
    csv = pd.read_csv(tmp_path / "attack_calibration.csv")
    assert len(csv) == 2 * (3 + 2) * 3  # benchmarks × rates × epochs
    assert set(csv["benchmark"]) == {"synth_mcqa", "synth_rouge"}
    for col in ("start_fs_change", "start_retain_change", "hider_share", "eraser_share", "separation"):
        assert {col, f"{col}_low", f"{col}_high", f"{col}_n"} <= set(csv.columns)
    assert csv.groupby(["benchmark", "kind"])["chosen"].sum().tolist() == [1, 1, 1, 1]
    md = (tmp_path / "attack_calibration.md").read_text()
    assert md.startswith("# Attack calibration") and md.count("★") >= 4
    assert "at most 5 points (analysis.attack_calibration.damage_tolerance = 0.05)" in md
    assert "synth_mcqa · tiny, harmful attack: chosen η = 1e-05, 2 epochs" in md
    assert "| -60.0 [" in md  # the attacked Start's FS change at 1e-4, 3 epochs, in points
    tex = (tmp_path / "attack_calibration.tex").read_text()
    assert r"$\Delta$FS" in tex and r"$\star$" in tex and "★" not in tex and "Δ" not in tex


def test_the_tolerance_comes_from_the_config() -> None:
    from ssiuu.config import load_config
    from ssiuu.report.options import options_from_config

    config = load_config(Path(__file__).parents[1] / "config.yaml")
    tolerance = config["analysis"]["attack_calibration"]["damage_tolerance"]
    assert options_from_config(config).calibration_tolerance == tolerance
    assert 0 < default_tolerance() < 1


def test_a_sweep_without_the_starting_model_or_its_damage_fields_chooses_nothing_and_says_why(
    tmp_path: Path,
) -> None:
    """Calibration draws made before the damage fields (no retain/test scores) or without Start's draws still
    give the table (the tables rule expects it wherever the controls were swept), with no choice and the reason."""
    import shutil

    from ssiuu.report.tables.calibration import write_calibration_table
    from ssiuu.report.tables.data import TableData

    root = tmp_path / "results"
    shutil.copytree(FIX, root)
    shutil.rmtree(root / "synth_mcqa/tiny/Start/seed0/calibration")
    for path in (root / "synth_rouge/tiny").rglob("calibration/*.json"):
        draw = json.loads(path.read_text())
        path.write_text(json.dumps({k: v for k, v in draw.items() if k != "retain_ids"}))
    data = TableData(result_files(root), report_options(stats=FAST_STATS))
    assert write_calibration_table(data, tmp_path, tolerance=0.1)
    csv = pd.read_csv(tmp_path / "attack_calibration.csv")
    assert not csv["chosen"].any() and not csv["passes"].any()
    md = (tmp_path / "attack_calibration.md").read_text()
    assert "synth_mcqa · tiny, harmful attack: no setting has the attacked Start's damage recorded" in md
    assert (
        "synth_rouge · tiny, harmful attack: the draws do not record the attacked Start's retain/test" in md
    )
