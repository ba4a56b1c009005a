"""``OnnxEncoder``: the image encoder graph traced from the spec, run by ONNX Runtime.

The graph (``export_encoder_onnx``) is cached on disk per weights hash
(``samcore_onnx.encoder_cache``) and opened once per backend; onnx and onnxruntime are
imported only when used.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from samcore.backend import Availability
from samcore.encoder_backend import FLOAT32_RMS_TOLERANCE, EncoderBackend
from samcore.encoder_config import EncoderConfig
from samcore_onnx.backend import OnnxBackend, providers_for, session_options
from samcore_onnx.encoder_export import encoder_params_sha256


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
                self._session = self._open()
            return self._session

    def _open(self) -> Any:
        import onnxruntime

        from samcore_onnx.encoder_cache import encoder_cache_path, export_encoder_to_cache

        path = encoder_cache_path(self.weights_sha256, self.config, opset=self.opset)
        providers = providers_for(self.device)
        if path.exists():
            try:
                session = onnxruntime.InferenceSession(str(path), session_options(), providers=providers)
                if session.get_modelmeta().custom_metadata_map.get("samcore.weights_sha256") == self.weights_sha256:
                    return session
            except Exception:  # a truncated or foreign file: export again
                pass
        path = export_encoder_to_cache(self.params, self.config, self.weights_sha256, opset=self.opset)
        return onnxruntime.InferenceSession(str(path), session_options(), providers=providers)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images float32 [B, 3, S, S] -> embedding float32 [B, C_out, g, g], in one run."""
        (embedding,) = self.session.run(None, {"images": np.ascontiguousarray(images, np.float32)})
        return embedding
