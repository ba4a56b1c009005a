"""Trace the image encoder spec (``samcore.spec.image_encoder``) into an ONNX model (no torch needed).

``export_encoder_onnx``: preprocessed images [B, 3, S, S] -> embedding [B, C_out, g, g],
B dynamic. What ``OnnxEncoder`` runs and ``samcore export onnx W --part encoder`` writes.
Models over protobuf's 2 GB (ViT-H) keep their weights in a ``.data`` file beside the model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import samcore
from samcore.encoder_config import EncoderConfig
from samcore.weights import encoder_params, encoder_params_sha256
from samcore_onnx.export import exporter_fingerprint

if TYPE_CHECKING:
    import onnx

#: Weights above this many bytes go to an external data file (protobuf's limit is 2 GiB).
EXTERNAL_DATA_BYTES = 1 << 30


def export_encoder_onnx(
    params: Mapping[str, np.ndarray],
    config: EncoderConfig,
    path: str | os.PathLike | None = None,
    *,
    opset: int = 17,
) -> onnx.ModelProto:
    """The image encoder as an ONNX model traced from ``samcore.spec.image_encoder``.

    Input ``images`` float32 [B, 3, S, S] (preprocessed: normalised, zero padded to
    S = ``config.img_size``), output ``image_embeddings`` float32 [B, C_out, g, g]; B is
    dynamic. The model carries metadata (samcore version, weights sha256, encoder config,
    opset). Written to ``path`` if given (with a ``.data`` file beside it when the weights
    exceed ``EXTERNAL_DATA_BYTES``).
    """
    from samcore.graph.emitters import ONNXRUNTIME
    from samcore.graph.tracer import Graph
    from samcore.spec.image_encoder import image_encoder

    arrays, _ = encoder_params(params, config)  # validated (rel-pos tables of any length), float32
    graph = Graph(opset, ONNXRUNTIME)
    size = config.img_size
    images = graph.input("images", np.float32, ("B", 3, size, size))
    graph.output(image_encoder(arrays, images, config), "image_embeddings")
    model = graph.model("samcore_image_encoder", samcore.__version__)
    model.doc_string = "SAM image encoder (ImageEncoderViT), traced from samcore.spec.image_encoder"
    import onnx

    onnx.helper.set_model_props(model, {
        "samcore.version": samcore.__version__,
        "samcore.exporter": exporter_fingerprint(),
        "samcore.weights_sha256": encoder_params_sha256(arrays, config),
        "samcore.interface": "image_encoder",
        "samcore.opset": str(opset),
        "samcore.encoder_config": json.dumps(dataclasses.asdict(config)),
    })
    if path is not None:
        save_model(model, Path(path))
    return model


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Write ``model`` to ``path`` atomically (temporary names, then renames), its weights in
    ``path.name + ".data"`` beside it when they exceed ``EXTERNAL_DATA_BYTES``; checked on the way."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    large = sum(t.ByteSize() for t in model.graph.initializer) > EXTERNAL_DATA_BYTES
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}") as folder:
        staged = Path(folder) / path.name
        data = f"{path.name}.data"
        onnx.save_model(model, staged, save_as_external_data=large, all_tensors_to_one_file=True, location=data)
        onnx.checker.check_model(staged)
        if large:
            os.replace(Path(folder) / data, path.parent / data)
        os.chmod(staged, 0o644)
        os.replace(staged, path)
