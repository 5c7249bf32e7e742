"""Fusion heads: shapes, masks, permutation equivariance, gradients."""

from __future__ import annotations

import pytest
import torch
from conftest import REGISTRY

from mmgenre.components import FeatureDims, FusionContext

LABELS = [f"g{i}" for i in range(5)]
DIMS = FeatureDims(image=32, text=24, image_tokens=16, text_tokens=12)


def head(name: str, **params):
    component = REGISTRY.create("fusion", name, params)
    torch.manual_seed(0)
    return component.build(FusionContext(LABELS, DIMS)).eval()


def batch(size: int = 3, image_length: int = 4, text_length: int = 6) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    text_mask = torch.ones(size, text_length, dtype=torch.bool)
    text_mask[0, 3:] = False  # the first poster has 3 real text tokens
    return {
        "image": torch.randn(size, 32),
        "text": torch.randn(size, 24),
        "image_tokens": torch.randn(size, image_length, 16),
        "image_mask": torch.ones(size, image_length, dtype=torch.bool),
        "text_tokens": torch.randn(size, text_length, 12),
        "text_mask": text_mask,
    }


@pytest.mark.parametrize("name", ["cross-attn-smsam", "concat", "late", "image-only", "text-only"])
def test_heads_give_one_logit_per_genre_and_learn(name):
    model = head(name).train()
    logits = model(batch())
    assert logits.shape == (3, len(LABELS))
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_cross_attention_on_pooled_vectors_reduces_to_a_projection():
    model = head("cross-attn-smsam", dim=16, heads=2, layers=0, dropout=0.0)
    data = batch()
    image = model.align_image(data["image"]).unsqueeze(1)
    text = model.align_text(data["text"]).unsqueeze(1)
    attended, _ = model.cross.image_to_text(image, text, text)
    projection = model.cross.image_to_text
    value = text @ projection.in_proj_weight[32:].T + projection.in_proj_bias[32:]  # V rows of the packed weights
    expected = projection.out_proj(value)
    assert torch.allclose(attended, expected, atol=1e-5)  # one key: softmax is 1, output = Wo Wv t


def test_padding_tokens_do_not_change_the_output():
    model = head("cross-attn-smsam", dim=16, heads=2, layers=2, tokens=True)
    data = batch()
    before = model(data)
    data["text_tokens"][0, 3:] = 1000.0  # garbage behind the mask
    assert torch.allclose(model(data), before, atol=1e-5)


def test_token_attention_is_permutation_equivariant():
    model = head("cross-attn-smsam", dim=16, heads=2, layers=2, tokens=True)
    data = batch()
    fused, pad, image_length = model.fuse(data)
    order = torch.tensor([5, 1, 4, 0, 3, 2])
    permuted = {**data, "text_tokens": data["text_tokens"][:, order], "text_mask": data["text_mask"][:, order]}
    fused_permuted, _, _ = model.fuse(permuted)
    text_part, permuted_part = fused[:, image_length:], fused_permuted[:, image_length:]
    real = permuted["text_mask"]
    assert torch.allclose(permuted_part[real], text_part[:, order][real], atol=1e-5)  # tokens move with the input
    assert torch.allclose(fused_permuted[:, :image_length], fused[:, :image_length], atol=1e-5)
    assert torch.allclose(model(permuted), model(data), atol=1e-5)  # pooled logits are invariant


def test_token_mode_uses_the_tokens():
    model = head("cross-attn-smsam", dim=16, heads=2, tokens=True)
    data = batch()
    changed = {**data, "image_tokens": torch.randn_like(data["image_tokens"])}  # (a constant shift is normed away)
    assert not torch.allclose(model(changed), model(data))


def test_dim_must_divide_by_heads():
    from mmgenre.errors import RecipeError

    with pytest.raises(RecipeError, match="divisible"):
        head("cross-attn-smsam", dim=30, heads=4)


class PromptEncoder:
    """A text encoder whose prompt embeddings point along one axis per genre."""

    def load(self, device):
        pass

    def encode(self, texts):
        from mmgenre.components import Encoded

        vectors = torch.zeros(len(texts), 32)
        for i, text in enumerate(texts):
            vectors[i, int(text.split(" g")[1][0])] = 1.0
        return Encoded(pooled=vectors)


def test_zero_shot_scores_follow_similarity_and_sum_to_one():
    component = REGISTRY.create("fusion", "zero-shot-clip", {"templates": ["a poster of a {genre} movie"]})
    model = component.build(FusionContext(LABELS, DIMS, text_encoder=PromptEncoder()))
    image = torch.zeros(2, 32)
    image[0, 3], image[1, 1] = 1.0, 1.0
    probabilities = torch.sigmoid(model({"image": image}))
    assert probabilities.argmax(dim=1).tolist() == [3, 1]
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(2), atol=1e-4)
    assert not component.trainable and component.modalities() == {"image"}


def test_the_head_without_cross_attention_skips_mcam():
    with_mcam = head("cross-attn-smsam", dim=16, heads=2, layers=1, ffn_hidden=16)
    without = head("cross-attn-smsam", dim=16, heads=2, layers=1, ffn_hidden=16, cross_attention=False)
    assert any(name.startswith("cross.") for name, _ in with_mcam.named_parameters())
    assert not any(name.startswith("cross.") for name, _ in without.named_parameters())
    pooled = {k: v for k, v in batch().items() if k in ("image", "text")}
    assert without(pooled).shape == (3, len(LABELS)) and not torch.allclose(without(pooled), with_mcam(pooled))
