"""The conformance checks: those every component passes (common), then one module per kind of component."""

from mmgenre.testing.checks import common, dataset, encoders, fusion, loss, ocr  # noqa: F401 (they declare checks)
from mmgenre.testing.contract import CHECKS

__all__ = ["CHECKS"]
