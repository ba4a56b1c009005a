"""``OnnxBackend``: the spec's fast formulation run by ONNX Runtime (imported only when used).

Two graphs per embedding grid, traced from ``samcore.fast`` (``export_fast_onnx``):
the per-image graph runs once in ``set_image`` and its outputs stay on the execution
provider (OrtValues); each ``decode`` runs a per-prompt graph on them, one per mask-input
and ``multimask_output`` setting. An embedding other than ``set_image``'s gets its
features computed on the fly. Prompts with mask input skip the per-image graph: their
dense prompt changes block 0's image side, so their per-prompt graph takes the embedding.
dtype "int8": the per-prompt graphs with the upscaling GEMM in int8 (``samcore_onnx.quantize``),
cached under their own names; the per-image graph is float32's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Capabilities, Tolerance, decode_in_steps
from samcore.config import DecoderConfig
from samcore.extras import pip_hint
from samcore.graph_backend import GraphBackend
from samcore.inputs import Prompts

#: ONNX Runtime execution provider -> samcore device kind.
PROVIDERS = {"CUDAExecutionProvider": "cuda", "CoreMLExecutionProvider": "coreml"}

#: Prompts per run of the per-prompt graph on a CPU: one prompt's image tokens (4 MB at
#: ViT-B size) stay in cache through the graph; larger steps are memory-bound (measured:
#: docs/benchmarks.md, "Measured choices").
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
    a click is ~230 ops, most of them small; spinning is faster, docs/benchmarks.md)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 0
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return options


def open_session(path: Path, device: str) -> tuple[Any, str | None]:
    """A session on ``path`` on the device's execution providers, and the weights hash it records."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), session_options(), providers=providers_for(device))
    return session, session.get_modelmeta().custom_metadata_map.get("samcore.weights_sha256")


class OnnxBackend(GraphBackend):
    """Graphs traced from the spec's fast formulation (``samcore_onnx.export_fast_onnx``),
    cached on disk per weights hash and grid, run by ONNX Runtime on the device's execution provider."""

    name = "onnx"
    aliases = ("onnxruntime", "ort")
    dtypes = ("float32", "int8")
    #: int8 (``samcore_onnx.quantize``: the upscaling GEMM in int8, per-column weight scales,
    #: per-tensor feature scales): measured by benchmarks/quantization_accuracy.py --cases 100
    #: over 409 masks of conformance prompts on the kit's "vit_b" and "tiny" configs, seeded
    #: random weights (docs/benchmarks.md, "ONNX int8 decoder, issue 15"): max |logit - spec|
    #: 0.109 (0.079 beyond 5% of |spec|), mean mask IoU 0.992 / 0.996: 2.5x margin. The IoU
    #: head does not see the upscaling: its predictions keep float32's tolerance.
    tolerances: ClassVar[Mapping[str, Mapping[str, Tolerance]]] = {
        "float32": FLOAT32_TOLERANCE,
        "int8": {"low_res_logits": Tolerance(0.2, 0.05), "iou_predictions": FLOAT32_TOLERANCE["iou_predictions"]},
    }
    capabilities = Capabilities(iou_only=True)
    auto_priority = 30
    opset = 17

    @classmethod
    def availability(cls) -> Availability:
        """onnxruntime (and onnx, to export on a cache miss) importable; devices from its providers."""
        try:
            import onnx  # noqa: F401
            import onnxruntime
        except Exception as exc:  # ImportError, or a broken native library
            return Availability(False, f"onnx and onnxruntime are needed ({pip_hint('onnx')}): {exc!r}")
        providers = onnxruntime.get_available_providers()
        devices = tuple(kind for provider, kind in PROVIDERS.items() if provider in providers)
        return Availability(True, version=onnxruntime.__version__, devices=(*devices, "cpu"))

    def __init__(self, params: Mapping[str, np.ndarray], config: DecoderConfig, device: str, dtype: str) -> None:
        super().__init__(params, config, device, dtype)
        #: Prompts per run of a per-prompt graph (None: the whole batch, as on a GPU).
        self.prompts_per_run: int | None = CPU_PROMPTS_PER_RUN if device == "cpu" else None
        self._iou_sessions: dict[tuple, Any] = {}

    def image_session(self, grid: tuple[int, int]) -> Any:
        """The per-image graph's session for a grid: embedding [1, C, h, w] -> features."""
        return self.handle((tuple(grid), None, None))

    def decode_session(self, grid: tuple[int, int], with_mask_input: bool, multimask_output: bool) -> Any:
        """The per-prompt graph's session for a grid and mask / multimask setting."""
        return self.handle((tuple(grid), with_mask_input, multimask_output))

    def iou_session(self, grid: tuple[int, int], with_mask_input: bool, multimask_output: bool) -> Any:
        """``decode_session``'s graph cut to its IoU output (``samcore_onnx.iou_only``), made once."""
        import onnxruntime

        from samcore_onnx.iou_only import iou_only_model

        key = (tuple(grid), with_mask_input, multimask_output)
        self.decode_session(*key)  # its file, exported on a cache miss
        with self.lock:
            if key not in self._iou_sessions:
                self._iou_sessions[key] = onnxruntime.InferenceSession(
                    iou_only_model(self.model_files()[key]), session_options(), providers=providers_for(self.device))
            return self._iou_sessions[key]

    @staticmethod
    def _settings(key: tuple) -> tuple[tuple[int, int], dict[str, bool], int]:
        """(grid, export settings, which file) of a key; mask settings None: the per-image
        graph, the same in every export: made with the commonest settings."""
        grid, with_mask_input, multimask_output = key
        if with_mask_input is None:
            return grid, {"with_mask_input": False, "multimask_output": True}, 0
        return grid, {"with_mask_input": with_mask_input, "multimask_output": multimask_output}, 1

    def files(self, key: tuple) -> tuple[tuple[Path, ...], int]:
        """``export_fast_onnx``'s two cache files for the key's grid and settings."""
        from samcore_onnx.cache import fast_cache_paths

        grid, settings, which = self._settings(key)
        return fast_cache_paths(self.weights_sha256, grid, opset=self.opset, dtype=self.dtype, **settings), which

    def export(self, key: tuple) -> tuple[bytes, ...]:
        """``export_fast_onnx``'s two models, serialised; with dtype "int8" the per-prompt
        model quantized (``samcore_onnx.quantize.quantize_decode``)."""
        from samcore_onnx.export import export_fast_onnx

        grid, settings, _ = self._settings(key)
        models = export_fast_onnx(self.params, self.config, grid=grid, opset=self.opset, **settings)
        if self.dtype == "int8":
            from samcore.fast.upscaling import upscaling_gemms
            from samcore_onnx.quantize import quantize_decode

            weight = upscaling_gemms({k: np.asarray(v, np.float32) for k, v in self.params.items()}).w2
            models = models._replace(decode=quantize_decode(models.decode, weight))
        return tuple(model.SerializeToString() for model in models)

    def load(self, path: Path) -> tuple[Any, str | None]:
        """A session on the device's execution providers, and the weights hash it records."""
        return open_session(path, self.device)

    def run_image(self, image_embedding: np.ndarray) -> dict[str, Any]:
        """The per-image graph's outputs for an embedding [1, C, h, w], by name, as OrtValues
        (on the execution provider's device)."""
        import onnxruntime

        session = self.image_session(image_embedding.shape[-2:])
        value = onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(image_embedding, np.float32))
        outputs = session.run_with_ort_values(None, {"image_embedding": value})
        return {meta.name: value for meta, value in zip(session.get_outputs(), outputs, strict=True)}

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gather points on the host, then run the per-prompt graph ``prompts_per_run`` prompts at a time."""
        return self._run_prompts(self.decode_session, image_embedding, prompts, multimask_output)

    def decode_iou(self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool) -> np.ndarray:
        """``decode``'s IoU [B, M] from the per-prompt graph cut to its IoU output (no mask upscaling)."""
        return self._run_prompts(self.iou_session, image_embedding, prompts, multimask_output)[0]

    def _run_prompts(
        self, session_for: Any, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, ...]:
        """The outputs of ``session_for(grid, with mask input, multimask)`` for the prompts, run
        ``requested_prompts_per_run`` (else ``prompts_per_run``) prompts at a time."""
        coords, labels = prompts.labelled_points()
        mask = prompts.mask_input
        image = self.image_inputs(image_embedding, mask is not None)
        session = session_for(image_embedding.shape[-2:], mask is not None, multimask_output)

        def run(part: slice) -> list[np.ndarray]:
            feed = {"point_coords": coords[part], "point_labels": labels[part], **image}
            if mask is not None:
                feed["mask_input"] = mask[part]
            return session.run(None, feed)

        step = self.requested_prompts_per_run or self.prompts_per_run or prompts.batch
        return decode_in_steps(prompts.batch, step, run)
