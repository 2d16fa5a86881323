"""What a local model directory must hold for ``from_pretrained``: the one check that the model loader
(:mod:`ssiuu.models`), the source check before any job (:mod:`ssiuu.sources`) and the card's brought checkpoints
(:mod:`ssiuu.card.checkpoints`) share. No torch here: the source check runs where only Snakemake is installed."""

from __future__ import annotations

import json
from pathlib import Path

#: Files of which a checkpoint directory holds at least one: safetensors or PyTorch weights, or the index of shards.
WEIGHT_PATTERNS = (
    "*.safetensors",
    "pytorch_model*.bin",
    "*.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
#: Files of which a checkpoint directory's tokenizer holds at least one (fast, SentencePiece, BPE or WordPiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")


def checkpoint_dir_problem(path: Path) -> str | None:
    """What a local checkpoint directory lacks to load, in words (``holds no weights (...); fix``), or None:
    config.json, a weight file, the shards its index names."""
    if not (path / "config.json").exists():
        return "holds no config.json: is it a Hugging Face checkpoint? (model.save_pretrained() writes one)"
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        return (
            f"holds config.json but no weights (model.safetensors, or any of {', '.join(WEIGHT_PATTERNS)}); copy "
            "the checkpoint's weight files into it, or set the model's `source` to a complete checkpoint"
        )
    for index in sorted(path.glob("*.index.json")):
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            return f"holds {index.name}, which names no shards ({type(err).__name__}: {err}); copy it again"
        missing = [shard for shard in shards if not (path / shard).is_file()]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            return (
                f"lacks {missing[0]}{more}, named by {index.name}; copy every shard of the checkpoint into it"
            )
    return None


def tokenizer_problem(path: Path) -> str | None:
    """``holds no tokenizer (...)`` where ``path`` has none of :data:`TOKENIZER_FILES`, else None."""
    if any((path / name).is_file() for name in TOKENIZER_FILES):
        return None
    return (
        f"holds no tokenizer (one of {', '.join(TOKENIZER_FILES)}); copy the checkpoint's tokenizer files into it "
        "(tokenizer.save_pretrained() writes them)"
    )
