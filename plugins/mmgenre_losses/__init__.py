"""Multi-label losses (ASL, BCE, focal) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_losses.components import AsymmetricLoss, BinaryCrossEntropy, FocalLoss


@hookimpl
def register_losses(register):
    for loss in (AsymmetricLoss, BinaryCrossEntropy, FocalLoss):
        register(loss)
