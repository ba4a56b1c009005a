"""Meta's official decoder as benchmark runners: its torch modules, and its SamOnnxModel
exported as Meta's script does and run in ONNX Runtime (``benchmarks/decoder.py``,
``benchmarks/click_pairs.py``). Needs torch, segment-anything, onnx and onnxruntime."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import torch

from samcore.conformance.official import onnx_utils


def official_torch_runner(sam) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """Decode with Meta's modules: (embedding, coords [B, N, 2] incl. padding, labels)."""
    dense_pe = sam.prompt_encoder.get_dense_pe()

    def run(embedding, coords, labels):
        with torch.inference_mode():
            points = (torch.from_numpy(coords), torch.from_numpy(labels))
            sparse, dense = sam.prompt_encoder(points=points, boxes=None, masks=None)
            sam.mask_decoder(torch.from_numpy(embedding), dense_pe, sparse, dense, True)

    return run


def meta_onnx(sam, original_size: tuple[int, int], single_mask: bool, resize: bool = True) -> bytes:
    """Meta's SamOnnxModel serialised as scripts/export_onnx_model.py writes it (legacy
    exporter, opset 17, a dynamic number of points; ``single_mask``: its --return-single-mask),
    traced at ``original_size`` (PyPI's SamOnnxModel bakes the traced orig_im_size into its
    crop, so trace at the size it runs at). ``resize=False``: its resize to the image's size
    left out, the decoder's 4 low-res masks returned (``single_mask`` ignored)."""

    class DecoderOnly(onnx_utils.SamOnnxModel):
        def mask_postprocessing(self, masks, orig_im_size):
            return masks

    model = onnx_utils.SamOnnxModel(sam, single_mask) if resize else DecoderOnly(sam, return_single_mask=False)
    c, (h, w) = sam.prompt_encoder.embed_dim, sam.prompt_encoder.image_embedding_size
    inputs = {
        "image_embeddings": torch.randn(1, c, h, w),
        "point_coords": torch.randint(0, 1024, (1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(0, 4, (1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * h, 4 * w),
        "has_mask_input": torch.tensor([1.0]),
        "orig_im_size": torch.tensor(original_size, dtype=torch.float),
    }
    buffer = io.BytesIO()
    torch.onnx.export(
        model, tuple(inputs.values()), buffer, input_names=list(inputs), opset_version=17, dynamo=False,
        output_names=["masks", "iou_predictions", "low_res_masks"],
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
    )
    return buffer.getvalue()


def official_onnx_runner(
    sam, threads: int, original_size: tuple[int, int] | None = None, single_mask: bool = False
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], list[np.ndarray]]:
    """Meta's SamOnnxModel exported as Meta's script does (legacy exporter, opset 17,
    dynamic number of points), run in onnxruntime on the CPU, one prompt per call, as the
    export takes. Without ``original_size``: 3 masks, its resize to the original image size
    left out (the decoder alone). With it: the whole export, resize included, as
    scripts/export_onnx_model.py writes it (default: ``return_single_mask=False``, 4 masks
    at the image size; ``single_mask``: its --return-single-mask, the best one), the masks
    thresholded at 0 in NumPy as an app does."""
    import onnxruntime

    size = np.array(original_size or (1500, 2250), np.float32)
    grid = sam.prompt_encoder.image_embedding_size[0]
    model = meta_onnx(sam, tuple(size.astype(int)), single_mask, resize=original_size is not None)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    grid_mask = np.zeros((1, 1, 4 * grid, 4 * grid), np.float32)
    fixed = {"mask_input": grid_mask, "has_mask_input": np.zeros(1, np.float32), "orig_im_size": size}
    used = {i.name for i in session.get_inputs()}  # the decoder alone drops the unused orig_im_size

    def run(embedding, coords, labels):
        shown = []
        for i in range(coords.shape[0]):
            feed = fixed | {
                "image_embeddings": embedding,
                "point_coords": coords[i : i + 1],
                "point_labels": labels[i : i + 1].astype(np.float32),
            }
            masks = session.run(None, {k: v for k, v in feed.items() if k in used})[0]
            shown.append(masks if original_size is None else masks > 0)  # at the image's size: what an app shows
        return shown

    return run
