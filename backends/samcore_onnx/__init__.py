"""samcore's ONNX backend: graphs traced from ``samcore.spec``, run by ONNX Runtime.

Importing this package needs neither onnx nor onnxruntime (they are imported when a
graph is exported or a backend decodes), so the backend registers everywhere and
reports itself unavailable where the runtime is missing.

- ``export_onnx(params, config, path=None, *, interface="samcore" | "meta", ...)``: the
  plain spec as one model, for drop-in users.
- ``export_fast_onnx(params, config, paths=None, *, grid, with_mask_input, multimask_output)``:
  the fast formulation as a per-image and a per-prompt model, what the backend runs.
- ``OnnxBackend``: ``samcore.Decoder(..., backend="onnx")``
- ``export_encoder_onnx(params, config, path=None, *, opset)``: the image encoder spec as
  one model (dynamic batch); ``OnnxEncoder``: ``samcore.Encoder(..., backend="onnx")``.
"""

from samcore_onnx.backend import OnnxBackend
from samcore_onnx.encoder_backend import OnnxEncoder
from samcore_onnx.encoder_export import export_encoder_onnx
from samcore_onnx.export import export_fast_onnx, export_onnx

__all__ = ["OnnxBackend", "OnnxEncoder", "export_encoder_onnx", "export_fast_onnx", "export_onnx"]
