"""Final masks -> Meta's record dicts, in the three output modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from samcore.everything.boxes import box_xyxy_to_xywh
from samcore.everything.rle import coco_encode_rle, mask_to_rle

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


def segmentation(mask: np.ndarray, output_mode: str) -> Any:
    """A bool mask [H, W] as ``output_mode`` gives it: the array, an uncompressed RLE
    dict, or a COCO compressed RLE dict (counts a str, JSON-ready)."""
    if output_mode == "binary_mask":
        return mask
    rle = mask_to_rle(mask[None])[0]
    return rle if output_mode == "uncompressed_rle" else coco_encode_rle(rle)


def make_records(
    masks: list[np.ndarray],
    boxes: np.ndarray,
    iou: np.ndarray,
    points: np.ndarray,
    stability: np.ndarray,
    crop_boxes: np.ndarray,
    output_mode: str,
) -> list[dict[str, Any]]:
    """One dict per mask with Meta's keys: segmentation, area (pixels), bbox (x, y, w, h),
    predicted_iou, point_coords [[x, y]], stability_score, crop_box (x, y, w, h).

    masks: N bool [H, W]; boxes int64 [N, 4] and crop_boxes [N, 4] (x0, y0, x1, y1);
    iou, stability float32 [N]; points float64 [N, 2]; all in the image's pixels.
    """
    return [
        {
            "segmentation": segmentation(mask, output_mode),
            "area": int(mask.sum()),
            "bbox": box_xyxy_to_xywh(boxes[i]).tolist(),
            "predicted_iou": float(iou[i]),
            "point_coords": [points[i].tolist()],
            "stability_score": float(stability[i]),
            "crop_box": box_xyxy_to_xywh(crop_boxes[i]).tolist(),
        }
        for i, mask in enumerate(masks)
    ]
