"""Bad brought checkpoints (config `checkpoints`): each gets one line that names the entry, the bad value and the
fix: an unknown model or benchmark key, a name already taken, a path without weights, a tokenizer that is not
the starting model's; and the same for a checkpoint's own starting model (its `start`)."""

from __future__ import annotations

import pytest

from ssiuu.card.checkpoints import (
    CheckpointError,
    brought_dir,
    brought_entry,
    check_checkpoint_dir,
    check_checkpoints,
    checkpoint_problems,
    load_tokenizer,
    own_start_dir,
    own_start_method,
    start_control,
)
from ssiuu.card.run import check_brought
from ssiuu.config import load_config
from ssiuu.jobs import MethodRun
from ssiuu.models import tiny_random_llama, tiny_tokenizer


def config_with(**entries):
    return load_config("workflow/configs/smoke.yaml", overrides={"checkpoints": entries})


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


def test_unknown_keys_and_taken_names():
    config = config_with(
        mine={"path": "/x", "model": "smollm", "benchmark": "wf"},
        GD={"path": "/x", "model": "tiny", "benchmark": "worldfacts"},
        Hider={"path": "/x", "model": "tiny", "benchmark": "wf"},
    )
    problems = checkpoint_problems(config)
    assert problems == [
        "checkpoints.mine.model: 'smollm' is not a key of `models`; use one of ['tiny']",
        "checkpoints.GD.benchmark: 'worldfacts' is not a key of `benchmarks`; use one of ['fict', 'wf']",
        "checkpoints.GD: the name is already a method's or a control's, whose results it would overwrite; "
        "rename the entry",
        "checkpoints.Hider: the name is already a method's or a control's, whose results it would overwrite; "
        "rename the entry",
    ]
    assert checkpoint_problems(config_with(ok={"path": "/x", "model": "tiny", "benchmark": "wf"})) == []
    config = load_config("workflow/configs/smoke.yaml", overrides={"card": {"methods": ["GD", "NPOO"]}})
    assert checkpoint_problems(config) == [
        "card.methods: 'NPOO' is not one of `methods` ['GA', 'GD', 'DPO', 'NPO', 'RMU', 'KLUE', 'SSIUU', 'SIMU']; "
        "list only methods the run unlearns (a brought checkpoint goes under `checkpoints`)"
    ]
    with pytest.raises(CheckpointError):
        check_checkpoints(config)


def test_a_path_without_weights(tmp_path):
    with pytest.raises(CheckpointError) as err:
        check_checkpoint_dir("mine", tmp_path / "absent")
    assert one_line(err).startswith(f"checkpoints.mine.path: {tmp_path / 'absent'} is not a directory")
    with pytest.raises(CheckpointError) as err:
        check_checkpoint_dir("mine", tmp_path)
    assert "holds no config.json" in one_line(err)
    model, _ = tiny_random_llama(0)
    model.config.save_pretrained(tmp_path)  # the config alone, no weights
    with pytest.raises(CheckpointError) as err:
        check_checkpoint_dir("mine", tmp_path)
    assert one_line(err).startswith(f"checkpoints.mine.path: {tmp_path} holds config.json but no weights (")
    model.save_pretrained(tmp_path)
    assert check_checkpoint_dir("mine", tmp_path) == tmp_path


def brought_run(tmp_path, tokenizer):
    """A brought checkpoint saved with ``tokenizer`` (None: none saved) and the starting model it is checked
    against, as the card's job sees them."""
    model, start_tokenizer = tiny_random_llama(0)
    start, mine = tmp_path / "start", tmp_path / "mine"
    start_tokenizer.save_pretrained(start)
    model.save_pretrained(mine)
    if tokenizer is not None:
        tokenizer.save_pretrained(mine)
    config = config_with(mine={"path": str(mine), "model": "tiny", "benchmark": "wf"})
    return config, MethodRun("wf", "tiny", str(mine), "unused", "mine", 0), str(start)


def test_a_tokenizer_that_differs_from_the_starting_models(tmp_path):
    other = tiny_tokenizer()
    other.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    config, run, start = brought_run(tmp_path, other)
    with pytest.raises(CheckpointError) as err:
        check_brought(config, run, start)
    assert one_line(err) == (
        f"checkpoints.mine.path: the tokenizer in {run.model_dir} differs from the starting model's ({start}) in "
        "the chat template; save the starting model's tokenizer with the checkpoint (tokenizer.save_pretrained(path))"
    )
    other = tiny_tokenizer()
    other.add_tokens(["<extra>"])
    config, run, start = brought_run(tmp_path / "vocab", other)
    n = len(tiny_tokenizer().get_vocab())
    with pytest.raises(CheckpointError, match=rf"in the vocabulary \({n + 1} tokens against {n}\)"):
        check_brought(config, run, start)


def test_a_checkpoint_without_a_tokenizer(tmp_path):
    config, run, start = brought_run(tmp_path, None)
    with pytest.raises(CheckpointError) as err:
        check_brought(config, run, start)
    assert "holds no tokenizer" in one_line(err) and "tokenizer.save_pretrained(path)" in str(err.value)
    with pytest.raises(CheckpointError):
        load_tokenizer("mine", tmp_path / "nowhere")


def test_the_same_tokenizer_passes(tmp_path):
    config, run, start = brought_run(tmp_path, tiny_tokenizer())
    check_brought(config, run, start)
    check_brought(
        config, MethodRun("wf", "tiny", "unused", "unused", "GD", 0), start
    )  # not brought: no check


# ----------------------------------------------------------------- a checkpoint's own starting model (`start`)
def own_start_run(tmp_path, start_tokenizer=None, checkpoint_tokenizer=None):
    """A brought checkpoint ``mine`` unlearned from a starting model the config does not prepare (its ``start``),
    each saved with its tokenizer (None: none saved)."""
    model, tokenizer = tiny_random_llama(0)
    start, mine = tmp_path / "own_start", tmp_path / "mine"
    for path, saved in ((start, start_tokenizer), (mine, checkpoint_tokenizer)):
        model.save_pretrained(path)
        if saved is not None:
            saved.save_pretrained(path)
    entry = {"path": str(mine), "start": str(start), "model": "tiny", "benchmark": "wf"}
    return config_with(mine=entry), start, mine


def test_the_own_start_is_tested_under_its_own_method(tmp_path):
    config, start, mine = own_start_run(tmp_path, tiny_tokenizer(), tiny_tokenizer())
    brought = config["checkpoints"]
    assert config["checkpoints"]["mine"]["start"] == str(start)  # the schema takes it
    assert own_start_method("mine") == "mine+start"
    assert brought_entry(brought, "mine") == ("mine", "path")
    assert brought_entry(brought, "mine+start") == ("mine", "start")
    assert brought_entry(brought, "GD") is None and brought_entry(brought, "Start") is None
    assert brought_dir(brought, "mine") == str(mine) and brought_dir(brought, "mine+start") == str(start)
    assert own_start_dir(brought, "mine") == own_start_dir(brought, "mine+start") == str(start)
    assert start_control(brought, "mine") == "mine+start"
    plain = {"other": {"path": str(mine), "model": "tiny", "benchmark": "wf"}}
    assert own_start_dir(plain, "other") is None and start_control(plain, "other") == "Start"
    for method in ("mine", "mine+start"):  # both jobs pass
        check_brought(
            config, MethodRun("wf", "tiny", brought_dir(brought, method), "unused", method, 0), str(start)
        )


def test_an_own_start_without_weights(tmp_path):
    config, start, _ = own_start_run(tmp_path, tiny_tokenizer(), tiny_tokenizer())
    missing = {**config["checkpoints"]["mine"], "start": str(tmp_path / "absent")}
    with pytest.raises(CheckpointError) as err:
        own_start_dir({"mine": missing}, "mine")
    assert one_line(err).startswith(f"checkpoints.mine.start: {tmp_path / 'absent'} is not a directory")
    for weights in start.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(CheckpointError) as err:
        brought_dir(config["checkpoints"], "mine+start")
    assert one_line(err).startswith(f"checkpoints.mine.start: {start} holds config.json but no weights")


def test_an_own_start_without_a_tokenizer(tmp_path):
    config, start, mine = own_start_run(tmp_path, None, tiny_tokenizer())
    own = MethodRun("wf", "tiny", str(start), "unused", "mine+start", 0)
    with pytest.raises(CheckpointError) as err:
        check_brought(config, own, str(start))
    assert one_line(err).startswith(f"checkpoints.mine.start: {start} holds no tokenizer")
    with pytest.raises(CheckpointError) as err:  # the checkpoint's job compares with it: the same line
        check_brought(config, MethodRun("wf", "tiny", str(mine), "unused", "mine", 0), str(start))
    assert one_line(err).startswith(f"checkpoints.mine.start: {start} holds no tokenizer")


def test_a_checkpoint_whose_tokenizer_is_not_its_own_starts(tmp_path):
    other = tiny_tokenizer()
    other.add_tokens(["<extra>"])
    config, start, mine = own_start_run(tmp_path, tiny_tokenizer(), other)
    with pytest.raises(CheckpointError) as err:
        check_brought(config, MethodRun("wf", "tiny", str(mine), "unused", "mine", 0), str(start))
    assert one_line(err).startswith(
        f"checkpoints.mine.path: the tokenizer in {mine} differs from the starting model's ({start}) in the "
        "vocabulary"
    )


def test_a_missing_own_start_is_a_missing_source(tmp_path):
    from ssiuu.sources import missing_sources

    config, _, mine = own_start_run(tmp_path, tiny_tokenizer(), tiny_tokenizer())
    config["checkpoints"]["mine"]["start"] = str(tmp_path / "absent")
    lines = [m.line() for m in missing_sources(config) if m.key.startswith("checkpoints.")]
    assert lines == [
        f"checkpoints.mine.start: {tmp_path / 'absent'}: no such directory; fetch: copy the folder that "
        f"model.save_pretrained() and tokenizer.save_pretrained() wrote to {tmp_path / 'absent'}"
    ]
