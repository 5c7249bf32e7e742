"""The conformance checks: those every component passes (common), then one module per kind of component."""

from mmgenre.testing.checks import (  # noqa: F401 (they declare checks)
    common,
    dataset,
    encoders,
    executor,
    fusion,
    loss,
    model,
    ocr,
    store,
)
from mmgenre.testing.contract import CHECKS

__all__ = ["CHECKS"]
