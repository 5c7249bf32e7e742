"""`--runtime torch|onnx` for the commands that predict: which predictor loads the model."""

from __future__ import annotations

from typing import Any

import click

from mmgenre.errors import MmgenreError

runtime_option = click.option(
    "--runtime",
    type=click.Choice(["torch", "onnx"]),
    default="torch",
    show_default=True,
    help="torch: RUN is a run folder; onnx: RUN is a folder written by `mmgenre export` (onnxruntime, no torch).",
)


def load_predictor(runtime: str, run: str, *, executor: Any = None, **options: Any) -> Any:
    """A Predictor (torch) or an OnnxPredictor: the same interface, so the commands use either."""
    if runtime == "onnx":
        from mmgenre.onnx_runtime.predictor import OnnxPredictor

        if executor is not None:
            raise MmgenreError("--runtime onnx computes features on this machine: --executor is for the torch runtime")
        if options.get("device") in ("auto", None):
            options["device"] = "cpu"
        return OnnxPredictor.load(run, **options)
    from mmgenre.predictor import Predictor

    return Predictor.load(run, executor=executor, **options)
