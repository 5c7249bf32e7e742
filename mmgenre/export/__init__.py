"""`mmgenre export`: a trained run written as ONNX files that the torch-free runtime (mmgenre.onnx_runtime) runs."""
