"""``TFLiteBackend``: .tflite files of the spec's fast formulation, run by LiteRT (imported only when used)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Tolerance, decode_in_steps
from samcore.config import DecoderConfig
from samcore.errors import InputError
from samcore.extras import pip_hint
from samcore.graph_backend import GraphBackend
from samcore.inputs import Prompts
from samcore_tflite.prompts import fill_tokens

#: samcore dtype -> ``export_tflite(quantize=...)``.
QUANTIZE = {"float32": None, "float16": "fp16", "int8": "int8"}
#: Tokens of the smallest graph chosen when ``points`` is not fixed (then 16, 32, ...).
DEFAULT_POINTS = 8


def token_makeup(prompts: Prompts) -> str:
    """The sparse tokens SAM makes of ``prompts``, in words: "3 points + a padding point (no box)",
    "3 points + 2 box corners", "2 box corners"."""
    points = 0 if prompts.point_coords is None else prompts.point_coords.shape[1]
    parts = [f"{points} point{'s' * (points != 1)}"] if points else []
    if prompts.boxes is not None:
        parts.append("2 box corners")
    elif points:
        parts.append("a padding point (no box)")
    return " + ".join(parts) or "no sparse prompt"


class TFLiteBackend(GraphBackend):
    """The decoder's fast formulation (``samcore.fast``) as .tflite files of builtin
    operators (``samcore_tflite.export.fast_tflite_models``), cached on disk per weights hash,
    run by ``ai_edge_litert``'s Interpreter (XNNPACK on the CPU): per grid, one per-image file
    (embedding -> ``ImageFeatures``' per-image fields), run once by ``set_image``, and
    per-prompt files (one per mask input or not, number of tokens and ``multimask_output``)
    that take those features, or with mask input the embedding itself, and compute only the
    returned masks. An embedding other than ``set_image``'s gets its features on the fly.

    The graphs take one prompt of N tokens and num_tokens, the K real ones: prompts are
    gathered on the host, filled up to N (``padded_points``) and decoded one at a time;
    the graph never attends to the fillers: it computes the spec on the K tokens alone.
    ``points`` fixes N (prompts with more tokens raise ``InputError``); None (the default)
    picks the smallest of 8, 16, 32, ... that holds each call's prompts. ``num_threads``:
    the interpreter's threads (None: one per CPU). Both are constructor keywords, defaulting to these class attributes.

    Thread safety: a TFLite Interpreter is not thread-safe, so the backend's lock
    (``GraphBackend.lock``) serialises its runs (and interpreter creation); decode in parallel with one Decoder
    per thread (the exported files are shared through the cache).
    """

    name = "tflite"
    aliases = ("litert",)
    dtypes = tuple(QUANTIZE)
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
            return Availability(False, f"ai-edge-litert and onnx are needed ({pip_hint('tflite')}): {exc}")
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
        super().__init__(params, config, device, dtype)
        self.points = points if points is not None else type(self).points
        self.num_threads = num_threads if num_threads is not None else type(self).num_threads
        self.quantize = QUANTIZE[dtype]

    # --- prompts -----------------------------------------------------------------------------------

    def graph_points(self, tokens: int, makeup: str | None = None) -> int:
        """N, the tokens of the graph that decodes prompts of ``tokens`` tokens (``makeup``:
        what they are, ``token_makeup``, for the error message)."""
        if self.points is not None:
            if tokens > self.points:
                raise InputError(
                    f"prompts: expected at most {self.points} tokens (the TFLite graph's fixed number of points), "
                    f"got {tokens}{f' ({makeup})' if makeup else ''}; use "
                    f"TFLiteBackend(..., points={tokens}) or export a larger graph: "
                    f"samcore export tflite WEIGHTS --points {tokens} -o decoder.tflite"
                )
            return self.points
        size = DEFAULT_POINTS
        while size < tokens:
            size *= 2
        return size

    def padded_points(self, prompts: Prompts) -> tuple[np.ndarray, np.ndarray, int]:
        """SAM's labelled points filled up to the graph that holds them (``graph_points``,
        ``fill_tokens``): (coords [B, N, 2], labels [B, N] int32, K real tokens)."""
        coords, labels = prompts.labelled_points()
        return fill_tokens(coords, labels, self.graph_points(coords.shape[1], token_makeup(prompts)))

    # --- interpreters ------------------------------------------------------------------------------

    def interpreter(
        self, grid: tuple[int, int], with_mask_input: bool, points: int, multimask_output: bool = True
    ) -> Any:
        """The per-prompt interpreter for a grid, mask input or not, N tokens and multimask
        setting, created once. Callers hold ``self.lock`` while they use it."""
        return self.handle((tuple(grid), with_mask_input, points, multimask_output))

    def image_interpreter(self, grid: tuple[int, int]) -> Any:
        """The per-image interpreter for a grid: embedding [1, C, h, w] -> features."""
        return self.handle((tuple(grid), None, None, None))

    @staticmethod
    def _options(key: tuple) -> tuple[tuple[int, int], dict[str, Any], int]:
        """(grid, export options, which file) of a key; mask setting None: the per-image file,
        the same in every export: made with the commonest options."""
        grid, with_mask_input, points, multimask_output = key
        if with_mask_input is None:
            return grid, {"points": DEFAULT_POINTS, "with_mask_input": False, "multimask_output": True}, 0
        return grid, {"points": points, "with_mask_input": with_mask_input, "multimask_output": multimask_output}, 1

    def files(self, key: tuple) -> tuple[tuple[Path, ...], int]:
        """The fast formulation's two cache files (per image, per prompt) for the key."""
        from samcore_tflite.cache import fast_cache_paths

        grid, options, which = self._options(key)
        return fast_cache_paths(self.weights_sha256, grid, quantize=self.quantize, **options), which

    def export(self, key: tuple) -> tuple[bytes, ...]:
        """``fast_tflite_models`` for the key's grid and options."""
        from samcore_tflite.export import fast_tflite_models

        grid, options, _ = self._options(key)
        return fast_tflite_models(self.params, self.config, quantize=self.quantize, grid=grid, **options)

    def load(self, path: Path) -> tuple[Any, str | None]:
        """An allocated interpreter (``num_threads``), and the weights hash the file records."""
        import json

        from samcore_tflite.export import METADATA_NAME
        from samcore_tflite.runtime import open_interpreter
        from samcore_tflite.writer import tflite_metadata

        weights = json.loads(tflite_metadata(path)[METADATA_NAME]).get("samcore.weights_sha256")
        return open_interpreter(str(path), self.num_threads), weights

    # --- decoding ----------------------------------------------------------------------------------

    def run_image(self, image_embedding: np.ndarray) -> dict[str, np.ndarray]:
        """The per-image interpreter's outputs for an embedding [1, C, h, w], by name."""
        with self.lock:
            it = self.image_interpreter((image_embedding.shape[-2], image_embedding.shape[-1]))
            (embedding,) = it.get_input_details()
            it.set_tensor(embedding["index"], np.ascontiguousarray(image_embedding, np.float32))
            it.invoke()
            return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gather and pad with fillers on the host, then run each prompt through the per-prompt
        interpreter (on ``set_image``'s features, or the embedding itself with mask input)."""
        coords, labels, tokens = self.padded_points(prompts)
        mask_input = prompts.mask_input
        grid = (image_embedding.shape[-2], image_embedding.shape[-1])
        image = self.image_inputs(image_embedding, mask_input is not None)
        with self.lock:
            it = self.interpreter(grid, mask_input is not None, coords.shape[1], multimask_output)
            inputs = {d["name"]: d["index"] for d in it.get_input_details()}
            results = {d["name"]: d["index"] for d in it.get_output_details()}
            for name, value in image.items():
                it.set_tensor(inputs[name], value)
            it.set_tensor(inputs["num_tokens"], np.array([tokens], np.int32))

            def invoke(part: slice) -> tuple[np.ndarray, np.ndarray]:
                it.set_tensor(inputs["point_coords"], np.ascontiguousarray(coords[part], np.float32))
                it.set_tensor(inputs["point_labels"], labels[part])
                if mask_input is not None:
                    it.set_tensor(inputs["mask_input"], np.ascontiguousarray(mask_input[part], np.float32))
                it.invoke()
                return it.get_tensor(results["low_res_logits"]), it.get_tensor(results["iou_predictions"])

            return decode_in_steps(prompts.batch, 1, invoke)
