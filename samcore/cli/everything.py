"""``samcore everything``: segment a whole picture (automatic mask generation)."""

from __future__ import annotations

import argparse
import colorsys
import json
import pathlib
import time
from typing import Any

import numpy as np

from samcore.cli.arguments import positive_int
from samcore.everything import MaskGenerator
from samcore.everything.records import segmentation
from samcore.image_io import read_image
from samcore.predictor import Predictor

#: Opacity of each mask's colour in the overlay.
OVERLAY_ALPHA = 0.55


def mask_colours(n: int) -> np.ndarray:
    """uint8 [n, 3]: n well-separated colours (hues a golden angle apart)."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    rgb = np.array([colorsys.hsv_to_rgb(h, 0.75, 1.0) for h in hues]).reshape(-1, 3)
    return (rgb * 255).round().astype(np.uint8)


def overlay(image: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """uint8 [H, W, 3]: the image with each bool mask [H, W] tinted in its own colour,
    the largest first so smaller masks stay visible on top."""
    out = image.astype(np.float32)
    order = sorted(range(len(masks)), key=lambda i: -int(masks[i].sum()))
    for colour, i in zip(mask_colours(len(masks)), order, strict=True):
        out[masks[i]] = (1 - OVERLAY_ALPHA) * out[masks[i]] + OVERLAY_ALPHA * colour
    return out.round().astype(np.uint8)


def coco_document(path: str, size: tuple[int, int], records: list[dict[str, Any]]) -> dict[str, Any]:
    """COCO-style results: the image's file name and size, one annotation per mask (COCO RLE)."""
    return {
        "image": {"file_name": pathlib.Path(path).name, "height": size[0], "width": size[1]},
        "annotations": [{"id": i, **record} for i, record in enumerate(records)],
    }


def _everything(args: argparse.Namespace) -> None:
    from PIL import Image

    image = read_image(args.image)
    predictor = Predictor.from_weights(args.weights, backend=args.backend, device=args.device)
    generator = MaskGenerator(
        predictor, points_per_side=args.points_per_side, points_per_batch=args.points_per_batch,
        pred_iou_thresh=args.pred_iou_thresh, stability_score_thresh=args.stability_score_thresh,
        box_nms_thresh=args.box_nms_thresh, crop_n_layers=args.crop_n_layers,
        min_mask_region_area=args.min_mask_region_area,
    )
    start = time.perf_counter()
    records = generator.generate(image)
    print(f"{len(records)} masks in {time.perf_counter() - start:.1f} s ({image.shape[0]}x{image.shape[1]} image)")
    masks = [r["segmentation"] for r in records]
    coco = [r | {"segmentation": segmentation(r["segmentation"], "coco_rle")} for r in records]
    pathlib.Path(args.out).write_text(json.dumps(coco_document(args.image, image.shape[:2], coco)))
    print(f"wrote {args.out}")
    if args.overlay:
        Image.fromarray(overlay(image, masks)).save(args.overlay)
        print(f"wrote {args.overlay}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``everything`` to the subcommands."""
    p = sub.add_parser("everything", help="segment everything in a picture: COCO-style JSON (+ an overlay picture)")
    p.add_argument("image", help="picture file (PNG, JPEG, ...)")
    p.add_argument("-w", "--weights", required=True, help="safetensors with the image encoder and the decoder")
    p.add_argument("-o", "--out", default="masks.json", help="COCO-style JSON of the masks (default: masks.json)")
    p.add_argument("--overlay", help="also write the picture with each mask in its own colour (PNG, JPEG)")
    p.add_argument("--points-per-side", type=positive_int, default=32, help="grid of N x N point prompts (default: 32)")
    p.add_argument("--points-per-batch", type=positive_int, default=64, help="prompts decoded per call (default: 64)")
    p.add_argument("--pred-iou-thresh", type=float, default=0.88,
                   help="keep masks with predicted IoU above (default: 0.88)")
    p.add_argument("--stability-score-thresh", type=float, default=0.95,
                   help="keep masks with stability above (default: 0.95)")
    p.add_argument("--box-nms-thresh", type=float, default=0.7, help="box IoU at which NMS drops a mask (default: 0.7)")
    p.add_argument("--crop-n-layers", type=int, default=0, help="layers of image crops besides the whole (default: 0)")
    p.add_argument("--min-mask-region-area", type=int, default=0, help="pixels; > 0 needs SciPy")
    p.add_argument("--backend", default="auto", help="decoder backend name or 'auto' (see: samcore backends)")
    p.add_argument("--device", help="cpu, cuda, mps, ... (default: the backend's best)")
    p.set_defaults(run=_everything)
