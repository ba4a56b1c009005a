"""``OnnxBackend``: the spec's graphs run by ONNX Runtime (imported only when used)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Backend, Tolerance
from samcore.config import DecoderConfig
from samcore.inputs import Prompts
from samcore.spec.mask_decoder import select_masks
from samcore_onnx.export import params_sha256

#: ONNX Runtime execution provider -> samcore device kind.
PROVIDERS = {"CUDAExecutionProvider": "cuda", "CoreMLExecutionProvider": "coreml"}


def providers_for(device: str) -> list[Any]:
    """Execution providers for a device ("cpu", "cuda", "cuda:1", "coreml"), CPU as the fallback."""
    kind, _, index = device.partition(":")
    if kind == "cuda":
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]
    if kind == "coreml":
        return ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxBackend(Backend):
    """Graphs traced from the spec (``samcore_onnx.export_onnx``), cached on disk per weights
    hash and grid, run by ONNX Runtime on the device's execution provider."""

    name = "onnx"
    aliases = ("onnxruntime", "ort")
    device_kinds = ("cuda", "coreml", "cpu")
    dtypes = ("float32",)
    tolerances: ClassVar[Mapping[str, Mapping[str, Tolerance]]] = {"float32": FLOAT32_TOLERANCE}
    auto_priority = 30
    opset = 17

    @classmethod
    def availability(cls) -> Availability:
        """onnxruntime (and onnx, to export on a cache miss) importable; devices from its providers."""
        try:
            import onnx  # noqa: F401
            import onnxruntime
        except Exception as exc:  # ImportError, or a broken native library
            return Availability(False, f"onnx and onnxruntime are needed (pip install 'samcore[onnx]'): {exc!r}")
        providers = onnxruntime.get_available_providers()
        devices = tuple(kind for provider, kind in PROVIDERS.items() if provider in providers)
        return Availability(True, version=onnxruntime.__version__, devices=(*devices, "cpu"))

    def __init__(self, params: Mapping[str, np.ndarray], config: DecoderConfig, device: str, dtype: str) -> None:
        super().__init__(params, config, device, dtype)
        self.weights_sha256 = params_sha256(params, config)
        self._sessions: dict[tuple[tuple[int, int], bool], Any] = {}
        self._lock = threading.Lock()

    def session(self, grid: tuple[int, int], with_mask_input: bool) -> Any:
        """The ONNX Runtime session for a grid, with or without mask input: created once,
        from the cached graph (exported on a miss, or when the cached file does not load or match)."""
        key = (tuple(grid), with_mask_input)
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = self._open(key[0], with_mask_input)
            return self._sessions[key]

    def _open(self, grid: tuple[int, int], with_mask_input: bool) -> Any:
        import onnxruntime

        from samcore_onnx.cache import cache_path, export_to_cache

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        providers = providers_for(self.device)
        path = cache_path(self.weights_sha256, grid, interface="samcore", opset=self.opset,
                          with_mask_input=with_mask_input)
        if path.exists():
            try:
                session = onnxruntime.InferenceSession(str(path), options, providers=providers)
                if session.get_modelmeta().custom_metadata_map.get("samcore.weights_sha256") == self.weights_sha256:
                    return session
            except Exception:  # a truncated or foreign file: export again
                pass
        path = export_to_cache(self.params, self.config, self.weights_sha256, grid, opset=self.opset,
                               with_mask_input=with_mask_input)
        return onnxruntime.InferenceSession(str(path), options, providers=providers)

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gather points on the host, run the graph for the embedding's grid, select masks."""
        p = prompts
        coords, labels = p.labelled_points()
        feed = {"image_embedding": image_embedding, "point_coords": coords, "point_labels": labels}
        if p.mask_input is not None:
            feed["mask_input"] = p.mask_input
        grid = (image_embedding.shape[-2], image_embedding.shape[-1])
        masks, iou = self.session(grid, p.mask_input is not None).run(None, feed)
        masks, iou = select_masks(masks, iou, multimask_output)
        return np.ascontiguousarray(masks, np.float32), np.ascontiguousarray(iou, np.float32)
