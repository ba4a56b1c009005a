"""Emitter sets, one per target: ``ONNXRUNTIME`` (tuned for ONNX Runtime) and ``PORTABLE``
(plain ONNX nodes that a node-by-node lowering such as TFLite's maps one to one)."""

from samcore.graph.emitters.onnxruntime import ONNXRUNTIME
from samcore.graph.emitters.portable import PORTABLE

__all__ = ["ONNXRUNTIME", "PORTABLE"]
