"""The decoder graphs the service ships to browsers: ``samcore.fast`` traced for onnxruntime-web.

Two ONNX files per model (``WEB_PARTS``): the per-image graph, which the page runs once
when an embedding arrives, and the per-prompt graph, run for every prompt
(``samcore.graph.builders.web_graphs``). They use standard ONNX operators only (the
portable emitter set: one Gelu node) and hold no constant the graph computes
cheaply from the grid (the dense positional encoding, the no-mask embedding).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx

import samcore
from samcore.cache import cache_dir, source_fingerprint, write_atomic
from samcore.config import DecoderConfig
from samcore.errors import InputError
from samcore.serve.model import WEB_PARTS, ModelInfo
from samcore.weights import params_sha256

#: The ONNX opset of the browser's graphs: the portable emitters' Gelu (onnxruntime-web 1.30 runs 21+).
OPSET = 20
#: The modules the graphs are made from: any edit to them exports the files anew.
SOURCES = ("samcore.spec", "samcore.fast", "samcore.graph", "samcore.serve.web_graphs")


def export_web_graphs(
    params: Mapping[str, np.ndarray], config: DecoderConfig, grid: tuple[int, int], opset: int = OPSET
) -> dict[str, onnx.ModelProto]:
    """The browser's graphs for embeddings of ``grid`` (h, w), by part: "image"
    (image_embedding [1, C, h, w] -> the per-image features) and "prompt" (points, labels
    and the features -> Meta's single mask: low_res_masks [B, 1, 4h, 4w], iou_predictions
    [B, 1]); B and N dynamic. Each passes ``onnx.checker``
    and carries samcore's metadata (version, weights sha256, interface, grid, opset)."""
    from samcore.graph.builders import web_graphs

    arrays = {key: np.asarray(value, np.float32) for key, value in params.items()}
    graphs = dict(zip(WEB_PARTS, web_graphs(arrays, config, grid, opset), strict=True))
    models = {}
    for part, graph in graphs.items():
        model = graph.model(f"samcore_web_{part}", samcore.__version__)
        model.doc_string = f"SAM decoder, {part} graph for the browser, traced from samcore.fast"
        onnx.helper.set_model_props(model, {
            "samcore.version": samcore.__version__,
            "samcore.weights_sha256": params_sha256(arrays, config),
            "samcore.interface": f"web_{part}",
            "samcore.grid": f"{grid[0]}x{grid[1]}",
            "samcore.opset": str(opset),
        })
        onnx.checker.check_model(model)
        models[part] = model
    return models


def float16_weights(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    """A copy of ``model`` whose float32 initializers of at least ``min_elements`` values are
    stored as float16 and cast back to float32 at the graph's start: about half the download,
    float32 arithmetic (the runtime folds the casts when it loads the model)."""
    from onnx import TensorProto, helper, numpy_helper

    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    casts, kept = [], []
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        if array.dtype != np.float32 or array.size < min_elements:
            kept.append(tensor)
            continue
        kept.append(numpy_helper.from_array(array.astype(np.float16), f"{tensor.name}_float16"))
        casts.append(helper.make_node("Cast", [f"{tensor.name}_float16"], [tensor.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = [*casts, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(result)
    return result


def web_decoder_onnx(model: ModelInfo, part: str) -> Path:
    """The file of one of the model's browser graphs (``part`` in ``WEB_PARTS``), both parts
    exported once into the samcore cache folder. The file name holds the weights hash, grid,
    opset, samcore's version and the source fingerprint, so a changed model or exporter is
    exported anew."""
    from samcore.weights import load_decoder_params

    if part not in WEB_PARTS:
        raise InputError(f"part: expected one of {list(WEB_PARTS)}, got {part!r}")
    h, w = model.grid
    stem = f"web-{model.sha256}-{h}x{w}-opset{OPSET}-samcore{samcore.__version__}-{source_fingerprint(*SOURCES)}"
    paths = {name: cache_dir("onnx") / f"{stem}-{name}.onnx" for name in WEB_PARTS}
    if not all(path.is_file() for path in paths.values()):
        params, config = load_decoder_params(model.weights)
        for name, onnx_model in export_web_graphs(params, config, model.grid).items():
            write_atomic(paths[name], onnx_model.SerializeToString())
    return paths[part]
