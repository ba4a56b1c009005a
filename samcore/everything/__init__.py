"""Everything mode (automatic mask generation): a grid of point prompts over the image,
masks filtered by predicted IoU and stability, deduplicated by box NMS, over optional
crops. ``MaskGenerator`` runs it; the helpers are exact NumPy versions of the ones in
Meta's ``segment_anything.utils.amg`` (and torchvision's ``batched_nms``).
"""

from samcore.everything.boxes import (
    batched_mask_to_box,
    box_xyxy_to_xywh,
    is_box_near_crop_edge,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from samcore.everything.generator import MaskGenerator
from samcore.everything.grids import build_all_layer_point_grids, build_point_grid, generate_crop_boxes
from samcore.everything.nms import batched_nms, box_area
from samcore.everything.regions import remove_small_regions
from samcore.everything.rle import area_from_rle, coco_encode_rle, mask_to_rle, rle_to_mask

__all__ = [
    "MaskGenerator",
    "area_from_rle",
    "batched_mask_to_box",
    "batched_nms",
    "box_area",
    "box_xyxy_to_xywh",
    "build_all_layer_point_grids",
    "build_point_grid",
    "coco_encode_rle",
    "generate_crop_boxes",
    "is_box_near_crop_edge",
    "mask_to_rle",
    "remove_small_regions",
    "rle_to_mask",
    "uncrop_boxes_xyxy",
    "uncrop_masks",
    "uncrop_points",
]
