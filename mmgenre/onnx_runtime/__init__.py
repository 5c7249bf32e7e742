"""Predicting with an exported model on onnxruntime, without importing torch (`--runtime onnx`)."""
