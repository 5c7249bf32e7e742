"""Where each feature of a recipe lives in a store: the one place namespace names are made.

A namespace is one output of one component identity: `kind/name/fingerprint/output`, e.g.
`image_encoder/efficientnet-lite/3f2a.../pooled@gpu-decode@bf16`. Entries inside it are keyed by content
hashes (of a poster's bytes, or of a text), so recipes that share a component share its entries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mmgenre.components import Component


@dataclass(frozen=True)
class Namespace:
    name: str
    kind: str
    component: str
    output: str
    identity: dict

    @classmethod
    def of(cls, component: Component, output: str) -> Namespace:
        name = f"{component.kind}/{component.name}/{component.fingerprint()}/{output}"
        return cls(name, component.kind, component.name, output, component.identity())


@dataclass(frozen=True)
class FeatureSpaces:
    """The namespaces a recipe's features are read from and written to (None: not needed)."""

    ocr: Namespace | None = None
    image: Namespace | None = None
    image_tokens: Namespace | None = None
    text: Namespace | None = None
    text_tokens: Namespace | None = None

    def all(self) -> list[Namespace]:
        spaces = (self.ocr, self.image, self.image_tokens, self.text, self.text_tokens)
        return [space for space in spaces if space is not None]


def feature_spaces(
    recipe, *, gpu_decode: bool = False, bf16: bool = False, gpu_decoder: str = "nvjpeg"
) -> FeatureSpaces:
    """The namespaces `recipe` needs. GPU decoding (each decoder) and bf16 change numbers a little, so they get
    their own."""
    needs, tokens = recipe.fusion.modalities(), recipe.fusion.uses_tokens()
    image, text = recipe.image_encoder, recipe.text_encoder
    spaces: dict[str, Namespace] = {}
    if "image" in needs and image is not None:
        decode = "@gpu-decode" if gpu_decoder == "nvjpeg" else f"@{gpu_decoder}"
        variant = (decode if gpu_decode else "") + ("@bf16" if bf16 else "")
        spaces["image"] = Namespace.of(image, "pooled" + variant)
        if (tokens and image.provides_tokens) or image.has_tail():  # a tail finishes the prefix's tokens
            spaces["image_tokens"] = Namespace.of(image, "tokens" + variant)
    if "text" in needs and recipe.ocr is not None and text is not None:
        variant = "@bf16" if bf16 else ""
        spaces["ocr"] = Namespace.of(recipe.ocr, "ocr")
        spaces["text"] = Namespace.of(text, "pooled" + variant)
        if (tokens and text.provides_tokens) or text.has_tail():
            spaces["text_tokens"] = Namespace.of(text, "tokens" + variant)
    return FeatureSpaces(**spaces)


def text_key(text: str) -> str:
    """The key of a text's embeddings."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
