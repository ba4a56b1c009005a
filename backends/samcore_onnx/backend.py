"""``OnnxBackend``: the spec's fast formulation run by ONNX Runtime (imported only when used).

Two graphs per embedding grid, traced from ``samcore.fast`` (``export_fast_onnx``):
the per-image graph runs once in ``set_image`` and its outputs stay on the execution
provider (OrtValues); each ``decode`` runs a per-prompt graph on them, one per mask-input
and ``multimask_output`` setting. An embedding other than ``set_image``'s gets its
features computed on the fly. Prompts with mask input skip the per-image graph: their
dense prompt changes block 0's image side, so their per-prompt graph takes the embedding.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Backend, Tolerance, decode_in_steps
from samcore.config import DecoderConfig
from samcore.inputs import Prompts
from samcore.weights import params_sha256

#: ONNX Runtime execution provider -> samcore device kind.
PROVIDERS = {"CUDAExecutionProvider": "cuda", "CoreMLExecutionProvider": "coreml"}

#: Prompts per run of the per-prompt graph on a CPU: one prompt's image tokens (4 MB at
#: ViT-B size) stay in cache through the graph; larger steps are memory-bound. ViT-B, 16
#: prompts on 2 cores, ms per prompt (one process, rounds interleaved): 13.9 by 1, 15.9 by 2,
#: 15.2 by 4, 15.6 by 16.
CPU_PROMPTS_PER_RUN = 1


def providers_for(device: str) -> list[Any]:
    """Execution providers for a device ("cpu", "cuda", "cuda:1", "coreml"), CPU as the fallback."""
    kind, _, index = device.partition(":")
    if kind == "cuda":
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]
    if kind == "coreml":
        return ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session_options() -> Any:
    """ONNX Runtime session options: every graph optimisation, one intra-op thread per
    physical core (0), threads spinning between ops (ONNX Runtime's default, explicit here:
    a click is ~230 ops, most of them small; a ViT-B click on 2 cores takes ~15 ms with
    spinning, ~16 ms without)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 0
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return options


class OnnxBackend(Backend):
    """Graphs traced from the spec's fast formulation (``samcore_onnx.export_fast_onnx``),
    cached on disk per weights hash and grid, run by ONNX Runtime on the device's execution provider."""

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
        self._sessions: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._image: tuple[np.ndarray, dict[str, Any]] | None = None  # set_image's embedding, its features
        self.image_runs = 0  # runs of a per-image graph (tests count them)
        #: Prompts per run of a per-prompt graph (None: the whole batch, as on a GPU).
        self.prompts_per_run: int | None = CPU_PROMPTS_PER_RUN if device == "cpu" else None

    def image_session(self, grid: tuple[int, int]) -> Any:
        """The per-image graph's session for a grid: embedding [1, C, h, w] -> features."""
        return self._session(tuple(grid), None, None)

    def decode_session(self, grid: tuple[int, int], with_mask_input: bool, multimask_output: bool) -> Any:
        """The per-prompt graph's session for a grid and mask / multimask setting."""
        return self._session(tuple(grid), with_mask_input, multimask_output)

    def _session(self, grid: tuple[int, int], with_mask_input: bool | None, multimask_output: bool | None) -> Any:
        """A session created once, from the cached graph (exported on a miss, or when the
        cached file does not load or match); mask settings None: the per-image graph."""
        key = (grid, with_mask_input, multimask_output)
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = self._open(grid, with_mask_input, multimask_output)
            return self._sessions[key]

    def _open(self, grid: tuple[int, int], with_mask_input: bool | None, multimask_output: bool | None) -> Any:
        import onnxruntime

        from samcore_onnx.cache import export_fast_to_cache, fast_cache_paths

        if with_mask_input is None:  # the per-image graph, the same in every export: made with the commonest
            settings, which = {"with_mask_input": False, "multimask_output": True}, 0
        else:
            settings, which = {"with_mask_input": with_mask_input, "multimask_output": multimask_output}, 1
        path = fast_cache_paths(self.weights_sha256, grid, opset=self.opset, **settings)[which]
        providers = providers_for(self.device)
        if path.exists():
            try:
                session = onnxruntime.InferenceSession(str(path), session_options(), providers=providers)
                if session.get_modelmeta().custom_metadata_map.get("samcore.weights_sha256") == self.weights_sha256:
                    return session
            except Exception:  # a truncated or foreign file: export again
                pass
        path = export_fast_to_cache(self.params, self.config, self.weights_sha256, grid, opset=self.opset,
                                    **settings)[which]
        return onnxruntime.InferenceSession(str(path), session_options(), providers=providers)

    def set_image(self, image_embedding: np.ndarray) -> None:
        """Run the per-image graph once for the following ``decode`` calls on this very array."""
        self._image = (image_embedding, self._features(image_embedding))

    def _features(self, image_embedding: np.ndarray) -> dict[str, Any]:
        """The per-image graph's outputs for an embedding [1, C, h, w], by name, as OrtValues
        (on the execution provider's device)."""
        session = self.image_session(image_embedding.shape[-2:])
        outputs = session.run_with_ort_values(None, {"image_embedding": self._ort_value(image_embedding)})
        self.image_runs += 1
        return {meta.name: value for meta, value in zip(session.get_outputs(), outputs, strict=True)}

    @staticmethod
    def _ort_value(array: np.ndarray) -> Any:
        import onnxruntime

        return onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array, np.float32))

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gather points on the host, then run the per-prompt graph ``prompts_per_run`` prompts at a time."""
        coords, labels = prompts.labelled_points()
        mask = prompts.mask_input
        if mask is not None:
            image = {"image_embedding": image_embedding}
        elif self._image is not None and self._image[0] is image_embedding:
            image = self._image[1]
        else:
            image = self._features(image_embedding)
        session = self.decode_session(image_embedding.shape[-2:], mask is not None, multimask_output)

        def run(part: slice) -> list[np.ndarray]:
            feed = {"point_coords": coords[part], "point_labels": labels[part], **image}
            if mask is not None:
                feed["mask_input"] = mask[part]
            return session.run(None, feed)

        return decode_in_steps(prompts.batch, self.prompts_per_run or prompts.batch, run)
