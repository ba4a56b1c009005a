"""``OnnxEncoder``: the image encoder graph traced from the spec, run by ONNX Runtime.

The graph (``export_encoder_onnx``) is cached on disk per weights hash
(``samcore_onnx.cache.encoder_cache_path``, opened through ``samcore.cache.open_cached``)
and opened once per backend; onnx and onnxruntime are imported only when used.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from samcore.backend import Availability
from samcore.cache import open_cached
from samcore.encoder_backend import FLOAT32_RMS_TOLERANCE, EncoderBackend
from samcore.encoder_config import EncoderConfig
from samcore.weights import encoder_params_sha256
from samcore_onnx.backend import OnnxBackend, open_session


class OnnxEncoder(EncoderBackend):
    """``samcore.spec.image_encoder`` traced into one ONNX graph (dynamic batch), cached on
    disk per weights hash, run by ONNX Runtime on the device's execution provider."""

    name = "onnx"
    aliases = ("onnxruntime", "ort")
    device_kinds = ("cuda", "coreml", "cpu")
    dtypes = ("float32",)
    tolerances: ClassVar[Mapping[str, float]] = {"float32": FLOAT32_RMS_TOLERANCE}
    auto_priority = 30
    opset = 17
    #: Exports this class has run in this process (tests read it to prove a cache hit).
    exports: ClassVar[int] = 0

    @classmethod
    def availability(cls) -> Availability:
        """As the ONNX decoder backend: onnx and onnxruntime importable; devices from its providers."""
        return OnnxBackend.availability()

    def __init__(self, params: Mapping[str, np.ndarray], config: EncoderConfig, device: str, dtype: str) -> None:
        super().__init__(params, config, device, dtype)
        self.weights_sha256 = encoder_params_sha256(params, config)
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The ONNX Runtime session, opened on first use from the cached graph (exported on a
        miss, or when the cached file does not load or belongs to other weights)."""
        with self._lock:
            if self._session is None:
                from samcore_onnx.cache import encoder_cache_path
                from samcore_onnx.encoder_export import export_encoder_onnx

                path = encoder_cache_path(self.weights_sha256, self.config, opset=self.opset)
                self._session, exported = open_cached(
                    path, self.weights_sha256, lambda p: open_session(p, self.device),
                    lambda: export_encoder_onnx(self.params, self.config, path, opset=self.opset))
                if exported:
                    type(self).exports += 1
            return self._session

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images float32 [B, 3, S, S] -> embedding float32 [B, C_out, g, g], in one run."""
        (embedding,) = self.session.run(None, {"images": np.ascontiguousarray(images, np.float32)})
        return embedding
