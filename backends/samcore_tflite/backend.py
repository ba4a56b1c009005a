"""``TFLiteBackend``: .tflite files written from the spec, run by LiteRT's interpreter (imported only when used)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Backend, Capabilities, Tolerance
from samcore.config import DecoderConfig
from samcore.errors import InputError
from samcore.inputs import Prompts
from samcore.spec.mask_decoder import select_masks
from samcore.spec.prompt_encoder import PADDING_LABEL

#: samcore dtype -> ``export_tflite(quantize=...)``.
QUANTIZE = {"float32": None, "float16": "fp16", "int8": "int8"}
#: Tokens of the smallest graph chosen when ``points`` is not fixed (then 16, 32, ...).
DEFAULT_POINTS = 8


def gathered_tokens(prompts: Prompts) -> int:
    """K, the sparse tokens SAM makes of the prompts: the points, a padding point when
    there is no box, the box's two corners."""
    points = 0 if prompts.point_coords is None else prompts.point_coords.shape[1]
    if prompts.boxes is not None:
        return points + 2
    return points + 1 if points else 0


class TFLiteBackend(Backend):
    """The decoder as .tflite files (``samcore_tflite.export_tflite``) of builtin operators, one
    per embedding grid, mask input or not and number of tokens, cached on disk per weights
    hash, run by ``ai_edge_litert``'s Interpreter (XNNPACK on the CPU).

    The graphs take one prompt of N tokens: prompts are gathered on the host, padded with
    points (0, 0) labelled -1 to N and decoded one at a time. ``points`` fixes N (prompts
    with more tokens raise ``InputError``); None (the default) picks the smallest of 8, 16,
    32, ... that holds each call's prompts. ``num_threads``: the interpreter's threads (None:
    one per CPU). Both are constructor keywords, defaulting to these class attributes.

    Thread safety: a TFLite Interpreter is not thread-safe, so one lock per backend
    serialises its decodes (and interpreter creation); decode in parallel with one Decoder
    per thread (the exported files are shared through the cache).
    """

    name = "tflite"
    aliases = ("litert",)
    device_kinds = ("cpu",)
    dtypes = tuple(QUANTIZE)
    capabilities = Capabilities(mask_input=True, dynamic_points=False, batched_prompts=True)
    #: Measured by benchmarks/quantization_accuracy.py (docs/deployment.md) over 116 masks on the
    #: ViT-B preset and 293 on "tiny", conformance prompts, seeded random weights. float16: max
    #: |logit - spec| 0.006, max |IoU - spec| 0.001 (float16 weights, float32 arithmetic): about
    #: 3x margin. int8: max |logit - spec| 0.28 (0.27 beyond 5% of |spec|), max |IoU - spec| 0.026
    #: (weights rounded to 1/254 of each channel's range, activations to 1/255 of each row's): 2x.
    tolerances: ClassVar[Mapping[str, Mapping[str, Tolerance]]] = {
        "float32": FLOAT32_TOLERANCE,
        "float16": {"low_res_logits": Tolerance(0.02, 0.01), "iou_predictions": Tolerance(0.003, 0.01)},
        "int8": {"low_res_logits": Tolerance(0.6, 0.05), "iou_predictions": Tolerance(0.05, 0.05)},
    }
    auto_priority = 10
    #: Defaults of the constructor keywords (instances may also be changed later).
    points: int | None = None
    num_threads: int | None = None

    @classmethod
    def availability(cls) -> Availability:
        """A TFLite interpreter (ai_edge_litert, else a working tflite_runtime) and onnx (to
        trace the spec on a cache miss) importable."""
        from samcore_tflite.runtime import interpreter_class

        try:
            import onnx  # noqa: F401

            _, module, version = interpreter_class()
        except Exception as exc:  # ImportError, or a broken native library
            return Availability(False, f"ai-edge-litert and onnx are needed (pip install 'samcore[tflite]'): {exc}")
        return Availability(True, version=f"{version} ({module})", devices=("cpu",))

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        config: DecoderConfig,
        device: str,
        dtype: str,
        *,
        points: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        from samcore_onnx.export import params_sha256

        super().__init__(params, config, device, dtype)
        if dtype not in QUANTIZE:
            raise ValueError(f"dtype: expected one of {list(QUANTIZE)}, got {dtype!r}")
        self.points = points if points is not None else type(self).points
        self.num_threads = num_threads if num_threads is not None else type(self).num_threads
        self.quantize = QUANTIZE[dtype]
        self.weights_sha256 = params_sha256(params, config)
        self._interpreters: dict[tuple[tuple[int, int], bool, int], Any] = {}
        self._paths: dict[tuple[tuple[int, int], bool, int], Path] = {}
        self._lock = threading.Lock()

    # --- prompts -----------------------------------------------------------------------------------

    def graph_points(self, tokens: int) -> int:
        """N, the tokens of the graph that decodes prompts of ``tokens`` tokens."""
        if self.points is not None:
            if tokens > self.points:
                raise InputError(
                    f"prompts: expected at most {self.points} tokens (the TFLite graph's fixed number of points), "
                    f"got {tokens} (points, plus a padding point without a box, plus 2 box corners); use "
                    f"TFLiteBackend(..., points={tokens}) or export a larger graph: "
                    f"samcore export tflite WEIGHTS --points {tokens} -o decoder.tflite"
                )
            return self.points
        size = DEFAULT_POINTS
        while size < tokens:
            size *= 2
        return size

    def reference_prompts(self, prompts: Prompts) -> Prompts:
        """``prompts`` with N - K padding points (0, 0) labelled -1 appended to the points, so
        that SAM's gathering gives the N tokens the graph decodes (K: ``gathered_tokens``)."""
        tokens = gathered_tokens(prompts)
        pad = self.graph_points(tokens) - tokens
        mask_only = prompts.point_coords is None and prompts.boxes is None
        if mask_only:
            pad -= 1  # given points (even none), SAM's gathering adds one padding point itself
        elif pad == 0:
            return prompts
        batch = prompts.batch
        coords = [np.zeros((batch, pad, 2), np.float32)]
        labels = [np.full((batch, pad), PADDING_LABEL, np.int64)]
        if prompts.point_coords is not None:
            coords.insert(0, prompts.point_coords)
            labels.insert(0, prompts.point_labels)
        return dataclasses.replace(prompts, point_coords=np.concatenate(coords, 1),
                                   point_labels=np.concatenate(labels, 1))

    # --- interpreters ------------------------------------------------------------------------------

    def interpreter(self, grid: tuple[int, int], with_mask_input: bool, points: int) -> Any:
        """The interpreter for a grid, mask input or not and N tokens: created once, from the
        cached file (exported on a miss, or when the cached file does not load or match).
        Callers hold ``self._lock`` while they use it."""
        key = (tuple(grid), with_mask_input, points)
        if key not in self._interpreters:
            self._paths[key], self._interpreters[key] = self._open(*key)
        return self._interpreters[key]

    def model_files(self) -> dict[tuple[tuple[int, int], bool, int], Path]:
        """(grid, mask input, points) -> the .tflite file of each interpreter opened so far."""
        return dict(self._paths)

    def _open(self, grid: tuple[int, int], with_mask_input: bool, points: int) -> tuple[Path, Any]:
        from samcore_tflite.cache import cache_path, export_to_cache
        from samcore_tflite.runtime import open_interpreter

        options = {"points": points, "quantize": self.quantize, "with_mask_input": with_mask_input}
        path = cache_path(self.weights_sha256, grid, **options)
        if path.exists() and self._matches(path):
            try:
                return path, open_interpreter(str(path), self.num_threads)
            except Exception:  # a truncated or foreign file: export again
                pass
        path = export_to_cache(self.params, self.config, self.weights_sha256, grid, **options)
        return path, open_interpreter(str(path), self.num_threads)

    def _matches(self, path: Path) -> bool:
        import json

        from samcore_tflite.export import METADATA_NAME
        from samcore_tflite.writer import tflite_metadata

        try:
            meta = json.loads(tflite_metadata(path)[METADATA_NAME])
        except Exception:
            return False
        return meta.get("samcore.weights_sha256") == self.weights_sha256

    # --- decoding ----------------------------------------------------------------------------------

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pad and gather on the host, run each prompt through the interpreter, select masks."""
        p = self.reference_prompts(prompts)
        coords, labels = p.labelled_points()  # N tokens: the padding makes them never empty
        grid = (image_embedding.shape[-2], image_embedding.shape[-1])
        outputs = []
        with self._lock:
            it = self.interpreter(grid, p.mask_input is not None, coords.shape[1])
            inputs = {d["name"]: d["index"] for d in it.get_input_details()}
            results = {d["name"]: d["index"] for d in it.get_output_details()}
            for i in range(p.batch):
                it.set_tensor(inputs["image_embedding"], image_embedding)
                it.set_tensor(inputs["point_coords"], coords[i : i + 1])
                it.set_tensor(inputs["point_labels"], labels[i : i + 1].astype(np.int32))
                if p.mask_input is not None:
                    it.set_tensor(inputs["mask_input"], p.mask_input[i : i + 1])
                it.invoke()
                outputs.append((it.get_tensor(results["low_res_logits"]), it.get_tensor(results["iou_predictions"])))
        masks = np.concatenate([o[0] for o in outputs])
        iou = np.concatenate([o[1] for o in outputs])
        masks, iou = select_masks(masks, iou, multimask_output)
        return np.ascontiguousarray(masks, np.float32), np.ascontiguousarray(iou, np.float32)
