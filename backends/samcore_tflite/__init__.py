"""samcore's TFLite (LiteRT) backend: .tflite files written from ``samcore.spec``, run by LiteRT.

Importing this package needs neither ai_edge_litert nor onnx (they are imported when a
file is exported or a backend decodes), so the backend registers everywhere and reports
itself unavailable where the runtime is missing.

- ``export_tflite(params, config, path, *, points, quantize=None | "fp16" | "int8", ...)``
  writes a .tflite file of builtin operators and returns their sorted names.
  (the plain spec; the CLI's ``samcore export tflite``). ``export.fast_tflite_models`` gives
  the fast formulation's per-image and per-prompt files, what ``TFLiteBackend`` runs.
- ``tflite_ops(path)``: the builtin operators a .tflite file uses (read back with the schema).
- ``TFLiteBackend``: ``samcore.Decoder(..., backend="tflite", dtype="float32" | "float16" | "int8")``.
"""

from samcore_tflite.backend import TFLiteBackend
from samcore_tflite.export import export_tflite
from samcore_tflite.writer import tflite_metadata, tflite_ops

__all__ = ["TFLiteBackend", "export_tflite", "tflite_metadata", "tflite_ops"]
