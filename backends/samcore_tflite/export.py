"""``export_tflite``: the fast formulation traced with static shapes, lowered to TFLite builtins,
written as a flatbuffer.

Pipeline: ``trace.static_graph`` (``samcore.graph``'s tracer with the portable emitters,
B = 1, N = ``points``) -> ``lower.lower`` (ONNX nodes -> builtins, constants folded) ->
``rewrite.optimize`` (bias and ReLU fusion, transposes cancelled) -> ``quantize.quantize`` ->
``writer.serialize``. ``fast_tflite_models`` runs the same pipeline on
``trace.static_fast_graphs`` (``samcore.fast``: a per-image and a per-prompt
file, what ``TFLiteBackend`` runs). Needs onnx (tracing, shape inference) and ai-edge-litert (the
schema module) with flatbuffers; never TensorFlow or torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

import samcore
from samcore.cache import source_fingerprint
from samcore.config import DecoderConfig, default_grid
from samcore.weights import decoder_params, params_sha256
from samcore_tflite.ir import Graph

#: The modules a .tflite file is made from: any edit to them changes ``exporter_fingerprint``.
_SOURCES = ("samcore.spec", "samcore.fast", "samcore.graph", "samcore_tflite")
METADATA_NAME = "samcore"


def exporter_fingerprint() -> str:
    """Short sha256 of the spec's and the exporter's source: part of every cache key."""
    return source_fingerprint(*_SOURCES)


def _checked_points(points: object) -> int:
    """``points`` (tokens per prompt after gathering) as an int >= 1, else a ValueError."""
    if not isinstance(points, int | np.integer) or points < 1:
        raise ValueError(f"points: expected an int >= 1 (tokens per prompt after gathering), got {points!r}")
    return int(points)


def build_graph(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    points: int,
    with_mask_input: bool,
    quantize: str | None = None,
) -> Graph:
    """The decoder as an ``ir.Graph`` of TFLite builtins (see ``export_tflite`` for the I/O)."""
    from samcore_tflite.lower import lower
    from samcore_tflite.quantize import quantize as apply_quantization
    from samcore_tflite.rewrite import optimize
    from samcore_tflite.trace import static_graph

    model = static_graph(decoder_params(params, config), config, tuple(grid), _checked_points(points),
                         with_mask_input)
    return apply_quantization(optimize(lower(model)), quantize)


def build_fast_graphs(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    points: int,
    with_mask_input: bool,
    multimask_output: bool,
    quantize: str | None = None,
) -> tuple[Graph, Graph]:
    """The fast formulation (``samcore.fast``) as (per-image, per-prompt) ``ir.Graph``s
    of TFLite builtins (see ``fast_tflite_models`` for the I/O)."""
    from samcore_tflite.lower import lower
    from samcore_tflite.quantize import quantize as apply_quantization
    from samcore_tflite.rewrite import optimize
    from samcore_tflite.trace import static_fast_graphs

    models = static_fast_graphs(decoder_params(params, config), config, tuple(grid), _checked_points(points),
                                with_mask_input, multimask_output)
    image, prompt = (apply_quantization(optimize(lower(model)), quantize) for model in models)
    return image, prompt


def fast_tflite_models(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    *,
    points: int,
    quantize: str | None = None,
    grid: tuple[int, int] | None = None,
    with_mask_input: bool = False,
    multimask_output: bool = True,
) -> tuple[bytes, bytes]:
    """The fast formulation as two .tflite flatbuffers' bytes: (per image, per prompt).

    Per image: image_embedding [1, C, h, w] -> tokens [1, HW, C], t2i_keys, t2i_values,
    i2t_queries [1, heads, HW, d], upscale_base [1, HW, 4 C/4] (the same for every points / mask / multimask setting).
    Per prompt (B = 1, N = ``points`` tokens as ``export_tflite``): point_coords
    [1, N, 2] float32, point_labels [1, N] int32, num_tokens [1] int32, then without ``with_mask_input`` the
    per-image outputs (same names), with it image_embedding and mask_input [1, 1, 4h, 4w]
    -> low_res_logits [1, M, 4h, 4w], iou_predictions [1, M]: the returned masks only
    (M = T-1 with ``multimask_output``, else 1).
    """
    from samcore_tflite.writer import serialize

    grid = tuple(grid) if grid is not None else default_grid(config)
    image, prompt = build_fast_graphs(params, config, grid, points, with_mask_input, multimask_output, quantize)
    metadata = {
        "samcore.version": samcore.__version__,
        "samcore.exporter": exporter_fingerprint(),
        "samcore.weights_sha256": params_sha256(params, config),
        "samcore.grid": f"{grid[0]}x{grid[1]}",
        "samcore.quantize": quantize or "none",
        "samcore.config": dataclasses.asdict(config),
        "samcore.formulation": "fast",
    }
    image_meta = {**metadata, "samcore.graph": "image"}
    prompt_meta = {**metadata, "samcore.graph": "prompt", "samcore.points": int(points),
                   "samcore.mask_input": with_mask_input, "samcore.multimask_output": multimask_output}
    weights = quantize or "float32"
    return (
        serialize(image, f"SAM decoder per-image features (samcore.fast), grid {grid[0]}x{grid[1]}, "
                         f"weights {weights}", {METADATA_NAME: json.dumps(image_meta).encode()}),
        serialize(prompt, f"SAM decoder per-prompt graph (samcore.fast): {points} points, grid "
                          f"{grid[0]}x{grid[1]}, {'with' if with_mask_input else 'without'} mask input, "
                          f"{'multimask' if multimask_output else 'single mask'}, weights {weights}",
                  {METADATA_NAME: json.dumps(prompt_meta).encode()}),
    )


def tflite_model(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    *,
    points: int,
    quantize: str | None = None,
    grid: tuple[int, int] | None = None,
    with_mask_input: bool = True,
) -> bytes:
    """The .tflite flatbuffer's bytes (arguments as ``export_tflite``)."""
    from samcore_tflite.writer import serialize

    grid = tuple(grid) if grid is not None else default_grid(config)
    graph = build_graph(params, config, grid, points, with_mask_input, quantize)
    metadata = {
        "samcore.version": samcore.__version__,
        "samcore.exporter": exporter_fingerprint(),
        "samcore.weights_sha256": params_sha256(params, config),
        "samcore.grid": f"{grid[0]}x{grid[1]}",
        "samcore.points": int(points),
        "samcore.quantize": quantize or "none",
        "samcore.mask_input": with_mask_input,
        "samcore.config": dataclasses.asdict(config),
    }
    description = (f"SAM prompt encoder + mask decoder traced from samcore.spec: {points} points, "
                   f"grid {grid[0]}x{grid[1]}, {'with' if with_mask_input else 'without'} mask input, "
                   f"weights {quantize or 'float32'}")
    return serialize(graph, description, {METADATA_NAME: json.dumps(metadata).encode()})


def export_tflite(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    path: str | os.PathLike,
    *,
    points: int,
    quantize: str | None = None,
    grid: tuple[int, int] | None = None,
    with_mask_input: bool = True,
) -> list[str]:
    """Write the decoder for embeddings of ``grid`` (h, w) as a .tflite file of builtin operators
    only; returns the sorted builtin names it uses.

    Inputs (B = 1 prompt, N = ``points`` tokens: first the K real ones, already gathered
    (the given points, SAM's padding point when there is no box, box corners labelled 2
    and 3), then N - K fillers of any value, e.g. (0, 0) labelled -1): image_embedding
    [1, C, h, w] float32, point_coords [1, N, 2] float32 (x, y pixels of the input frame),
    point_labels [1, N] int32, num_tokens [1] int32 (K; the fillers are never attended to,
    so the file computes the spec on the K tokens alone), and with ``with_mask_input``
    mask_input [1, 1, 4h, 4w] float32. Outputs: low_res_logits [1, T, 4h, 4w] and
    iou_predictions [1, T] float32 for all T mask tokens.

    ``quantize``: None (float32), "fp16" (float16 weights widened by DEQUANTIZE) or "int8"
    (dynamic range: int8 per-channel weights of FULLY_CONNECTED and CONV_2D, float
    activations). The file carries samcore metadata (version, weights sha256, grid, points).
    """
    from samcore_tflite.writer import tflite_ops

    data = tflite_model(params, config, points=points, quantize=quantize, grid=grid, with_mask_input=with_mask_input)
    Path(path).write_bytes(data)
    return tflite_ops(data)
