"""The spec: SAM's prompt encoder and mask decoder as pure NumPy functions (and, in
``image_encoder`` and ``preprocess``, its image encoder and preprocessing).

Every port (torch, ONNX, TFLite, ...) is checked against these functions.
"""

from samcore.spec.decode import decode, decode_all_tokens

__all__ = ["decode", "decode_all_tokens"]
