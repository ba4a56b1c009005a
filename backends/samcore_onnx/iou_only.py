"""The per-prompt graph cut down to its IoU output: what ``OnnxBackend.decode_iou`` runs.

ONNX Runtime runs every node of a model whatever outputs a run asks for, so the cut is
made on the model: ``onnx.utils.Extractor`` keeps the nodes that ``iou_predictions``
depends on (the prompt encoding, the transformer and the IoU head), dropping the mask
upscaling and the hypernetwork products. The kept nodes are the same nodes, so the
scores are the full graph's.
"""

from __future__ import annotations

from pathlib import Path


def iou_only_model(path: Path) -> bytes:
    """The serialised per-prompt model at ``path`` with ``iou_predictions`` [B, M] its only output."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.load(str(path))
    inputs = [value.name for value in model.graph.input]
    return Extractor(model).extract_model(inputs, ["iou_predictions"]).SerializeToString()
