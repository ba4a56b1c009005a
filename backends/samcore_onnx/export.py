"""Trace the spec into ONNX models for one embedding grid (no torch needed).

``export_onnx``: the plain spec (``samcore.spec.decode``) behind the ``samcore`` or
``meta`` interface, one self-contained model for drop-in users. ``export_fast_onnx``:
the fast formulation (``samcore.fast``) as a per-image and a per-prompt model,
what ``OnnxBackend`` runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

import samcore
from samcore.cache import source_fingerprint
from samcore.config import DecoderConfig, default_grid
from samcore.weights import decoder_params, params_sha256

if TYPE_CHECKING:
    import onnx

INTERFACES = ("samcore", "meta")
#: The modules a graph is made from: any edit to them changes ``exporter_fingerprint``.
_SOURCES = ("samcore.spec", "samcore.fast", "samcore.graph", "samcore_onnx")


def exporter_fingerprint() -> str:
    """Short sha256 of the spec's and the exporter's source: part of every cache key."""
    return source_fingerprint(*_SOURCES)


def export_onnx(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    path: str | os.PathLike | None = None,
    *,
    interface: Literal["samcore", "meta"] = "samcore",
    grid: tuple[int, int] | None = None,
    opset: int = 17,
    return_single_mask: bool = False,
    with_mask_input: bool = True,
) -> onnx.ModelProto:
    """The decoder as an ONNX model for embeddings of ``grid`` (h, w), traced from ``samcore.spec``.

    ``interface="samcore"``: image_embedding [1, C, h, w] float32, point_coords [B, N, 2]
    float32 and point_labels [B, N] int64 (already gathered: see
    ``samcore.spec.prompt_encoder.gather_point_prompts``), mask_input [B, 1, 4h, 4w] when
    ``with_mask_input`` (else no_mask_embed is used) -> low_res_logits [B, T, 4h, 4w],
    iou_predictions [B, T] for all T mask tokens.

    ``interface="meta"``: the I/O of Meta's ``SamOnnxModel`` (image_embeddings,
    point_coords, point_labels float, mask_input [1, 1, 4h, 4w], has_mask_input [1],
    orig_im_size [2] -> masks, iou_predictions, low_res_masks), with batched prompts and
    ``orig_im_size`` honoured at run time; ``return_single_mask`` as Meta's.

    B and N are dynamic. The model passes ``onnx.checker.check_model`` and carries
    metadata (samcore version, weights sha256, interface, grid, ...). Written to ``path`` if given.
    """
    from samcore.graph.builders import meta_graph, samcore_graph

    if interface not in INTERFACES:
        raise ValueError(f"interface: expected one of {list(INTERFACES)}, got {interface!r}")
    if return_single_mask and interface != "meta":
        raise ValueError("return_single_mask: only the 'meta' interface selects masks in the graph")
    grid = tuple(grid) if grid is not None else default_grid(config)
    arrays = decoder_params(params, config)
    if interface == "samcore":
        graph = samcore_graph(arrays, config, grid, opset, with_mask_input)
    else:
        graph = meta_graph(arrays, config, grid, opset, return_single_mask)
    model = graph.model(f"samcore_decoder_{interface}", samcore.__version__)
    model.doc_string = f"SAM prompt encoder + mask decoder ({interface} interface), traced from samcore.spec"
    _finish(model, arrays, config, grid, opset, path, {
        "samcore.interface": interface,
        "samcore.mask_input": str(with_mask_input or interface == "meta").lower(),
        "samcore.return_single_mask": str(return_single_mask).lower(),
    })
    return model


class FastModels(NamedTuple):
    """The fast formulation's two models for one grid (see ``export_fast_onnx``)."""

    image_features: onnx.ModelProto  # image_embedding -> ImageFeatures' per-image fields
    decode: onnx.ModelProto  # points (+ features, or embedding and mask_input) -> low_res_logits, iou_predictions


def export_fast_onnx(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    paths: tuple[str | os.PathLike, str | os.PathLike] | None = None,
    *,
    grid: tuple[int, int] | None = None,
    opset: int = 17,
    with_mask_input: bool = False,
    multimask_output: bool = True,
) -> FastModels:
    """The fast formulation (``samcore.fast``) for embeddings of ``grid`` (h, w), as two models.

    ``image_features``: image_embedding [1, C, h, w] float32 -> tokens [1, HW, C],
    t2i_keys, t2i_values, i2t_queries [1, heads, HW, d], upscale_base [1, HW, 4 C/4]
    (``samcore.fast.image_features``),
    run once per image.

    ``decode``: point_coords [B, N, 2] float32, point_labels [B, N] int64 (labelled
    points, ``Prompts.labelled_points``) and either the four features above (same names)
    or, with ``with_mask_input``, image_embedding [1, C, h, w] and mask_input
    [B, 1, 4h, 4w] -> low_res_logits [B, M, 4h, 4w], iou_predictions [B, M] of the
    returned masks only: M = T-1 with ``multimask_output``, else 1 (token 0).

    B and N are dynamic. Both models pass ``onnx.checker.check_model`` and carry
    ``export_onnx``'s metadata (interface ``fast_image`` / ``fast_decode``). Written to
    ``paths`` (image model, decode model) if given.
    """
    from samcore.graph.builders import fast_graphs

    grid = tuple(grid) if grid is not None else default_grid(config)
    arrays = decoder_params(params, config)
    image, decode = fast_graphs(arrays, config, grid, opset, with_mask_input, multimask_output)
    models = FastModels(
        image.model("samcore_image_features", samcore.__version__), decode.model("samcore_decode", samcore.__version__)
    )
    models.image_features.doc_string = "SAM decoder's per-image features, traced from samcore.fast"
    models.decode.doc_string = "SAM prompt encoder + mask decoder on per-image features, traced from samcore.fast"
    for i, (model, interface) in enumerate(zip(models, ("fast_image", "fast_decode"), strict=True)):
        props = {"samcore.interface": interface}
        if interface == "fast_decode":
            props["samcore.mask_input"] = str(with_mask_input).lower()
            props["samcore.multimask_output"] = str(multimask_output).lower()
        _finish(model, arrays, config, grid, opset, None if paths is None else paths[i], props)
    return models


def _finish(
    model: onnx.ModelProto,
    arrays: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    path: str | os.PathLike | None,
    props: Mapping[str, str],
) -> None:
    """Set the metadata every exported model carries, check the model, save it to ``path`` if given."""
    import onnx

    onnx.helper.set_model_props(
        model,
        {
            "samcore.version": samcore.__version__,
            "samcore.exporter": exporter_fingerprint(),
            "samcore.weights_sha256": params_sha256(arrays, config),
            **props,
            "samcore.grid": f"{grid[0]}x{grid[1]}",
            "samcore.opset": str(opset),
            "samcore.config": json.dumps(dataclasses.asdict(config)),
        },
    )
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save_model(model, os.fspath(path))
