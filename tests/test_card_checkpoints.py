"""Bad brought checkpoints (config `checkpoints`): each gets one line that names the entry, the bad value and the
fix: an unknown model or benchmark key, a name already taken, a path without weights, a tokenizer that is not
the starting model's."""

from __future__ import annotations

import pytest

from ssiuu.card.checkpoints import (
    CheckpointError,
    check_checkpoint_dir,
    check_checkpoints,
    checkpoint_problems,
    load_tokenizer,
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
    assert one_line(err) == (
        f"checkpoints.mine.path: {tmp_path} holds no weights (*.safetensors or pytorch_model*.bin); save them "
        "there with model.save_pretrained(path)"
    )
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
