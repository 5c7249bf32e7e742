"""Fusion heads: the paper's cross-attention + SMSAM head and the baselines it must beat."""

from mmgenre.api import hookimpl
from mmgenre_fusion.components import (
    ConcatHead,
    CrossAttentionSmsamHead,
    ImageOnlyHead,
    LateFusionHead,
    TextOnlyHead,
    ZeroShotClipHead,
)


@hookimpl
def register_fusion_heads(register):
    for head in (CrossAttentionSmsamHead, ConcatHead, LateFusionHead, ImageOnlyHead, TextOnlyHead, ZeroShotClipHead):
        register(head)
