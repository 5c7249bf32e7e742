"""Tiny random-init CLIP models saved the way open_clip and transformers save theirs: what the conformance checks
load, since no pretrained CLIP can be downloaded everywhere the checks run. Never use them for results."""

from __future__ import annotations

import json
import string
from pathlib import Path

TINY_OPEN_CLIP = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def write_tiny_open_clip(folder: Path) -> Path:
    """An open_clip folder (open_clip_config.json + safetensors) that `weights=folder` loads."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_OPEN_CLIP)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_OPEN_CLIP, "preprocess_cfg": {}}))
    return folder


def write_tiny_hf_clip(folder: Path) -> Path:
    """A transformers CLIPModel folder (save_pretrained) with a character-level CLIP tokenizer."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    layers = {"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 32}
    config = CLIPConfig(
        projection_dim=16,
        text_config={**layers, "max_position_embeddings": 77, "vocab_size": 200, "bos_token_id": 0, "eos_token_id": 1},
        vision_config={**layers, "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    chars = string.ascii_lowercase + string.digits + "!'.,:-"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in list(chars) + [c + "</w>" for c in chars]:
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    return folder
