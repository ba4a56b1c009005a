"""Everything mode: masks for a whole image from a grid of point prompts.

The same algorithm, parameters and records as Meta's ``SamAutomaticMaskGenerator``,
run on samcore's fast decode path: each crop is encoded once, its grid of points is
decoded ``points_per_batch`` prompts per ``Decoder.predict`` call, and the filtering
is vectorised (see ``samcore.everything.candidates``). On a backend that scores prompts
without upscaling their masks (``Decoder.predict_iou``), a batch is scored first and only
the prompts with a mask past ``pred_iou_thresh`` have their masks decoded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from samcore.errors import InputError, InputTypeError, MissingExtraError
from samcore.everything.boxes import batched_mask_to_box, uncrop_boxes_xyxy, uncrop_masks, uncrop_points
from samcore.everything.candidates import Candidates, filter_batch, unpack_masks
from samcore.everything.grids import build_all_layer_point_grids, generate_crop_boxes
from samcore.everything.nms import batched_nms, box_area
from samcore.everything.records import OUTPUT_MODES, make_records
from samcore.everything.regions import remove_small_regions, require_scipy
from samcore.extras import pip_hint
from samcore.inputs import check_prompts_per_run
from samcore.transforms import apply_coords

#: Prompts the decoder's backend is asked to run together (``Decoder.predict``'s speed hint):
#: on a shared CPU, fewer and larger runs wait less for each other's threads (docs/benchmarks.md,
#: "Everything mode"); memory grows with it (~30 MB a prompt at ViT-B size).
PROMPTS_PER_RUN = 16

#: Runs with at least this many prompts show a progress bar (when tqdm is installed
#: and stderr is a terminal), unless ``progress`` says otherwise.
PROGRESS_MIN_PROMPTS = 256


def _as_predictor(predictor_or_weights: Any) -> Any:
    predictor = predictor_or_weights
    if isinstance(predictor, (str, os.PathLike)):
        from samcore.predictor import Predictor

        predictor = Predictor.from_weights(predictor)
    if not hasattr(predictor, "decoder") or not hasattr(predictor, "encoder"):
        raise InputTypeError(
            f"predictor_or_weights: expected a samcore.Predictor or a weights path, got {type(predictor).__name__}"
        )
    if predictor.encoder is None:
        raise InputError("predictor_or_weights: expected a Predictor with an image encoder (a weights file with "
                         "image_encoder.* tensors), got a decoder-only one")
    return predictor


def _check_grids(point_grids: Sequence[np.ndarray], crop_n_layers: int) -> list[np.ndarray]:
    grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
    if len(grids) < crop_n_layers + 1:
        raise InputError(f"point_grids: expected one grid per crop layer ({crop_n_layers + 1}), got {len(grids)}")
    for i, g in enumerate(grids):
        if g.ndim != 2 or g.shape[1] != 2 or not np.all((g >= 0) & (g <= 1)):
            raise InputError(f"point_grids[{i}]: expected [N, 2] (x, y) in [0, 1], got shape {list(g.shape)}")
    return grids


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputTypeError(f"image: expected a uint8 array [H, W, 3], got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) == 0:
        raise InputError(f"image: expected a uint8 array [H, W, 3], got shape {list(image.shape)}")
    return image


class MaskGenerator:
    """Segment everything in an image (Meta's ``SamAutomaticMaskGenerator``, same
    parameters and records).

    >>> gen = MaskGenerator(Predictor.from_weights("sam_vit_b.safetensors"))
    >>> records = gen.generate(image)   # uint8 [H, W, 3] RGB
    >>> records[0]["segmentation"].shape, records[0]["bbox"]   # bool [H, W], [x, y, w, h]
    """

    def __init__(
        self,
        predictor_or_weights: Any,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: Sequence[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        progress: bool | None = None,
        prompts_per_run: int | None = PROMPTS_PER_RUN,
    ) -> None:
        """``predictor_or_weights``: a ``samcore.Predictor`` (with its image encoder) or a
        weights path for ``Predictor.from_weights``. The other parameters are Meta's:
        ``points_per_side`` points a side in crop layer 0 (or explicit ``point_grids``,
        [N, 2] in [0, 1], one per layer), thresholds on predicted IoU and stability,
        box NMS IoU within a crop and between crops, crop layers and their overlap,
        ``min_mask_region_area`` pixels (> 0: fill small holes, drop small islands; needs
        SciPy), ``output_mode`` "binary_mask", "uncompressed_rle" or "coco_rle".
        ``progress``: show a progress bar (tqdm); None: on long runs in a terminal.
        ``prompts_per_run``: prompts the decoder's backend runs together (``Decoder.predict``'s
        speed hint; None: the backend's choice, made for single clicks).
        """
        if (points_per_side is None) == (point_grids is None):
            raise InputError("points_per_side, point_grids: expected exactly one of them, got "
                             f"{'both' if point_grids is not None else 'neither'}")
        if output_mode not in OUTPUT_MODES:
            raise InputError(f"output_mode: expected one of {list(OUTPUT_MODES)}, got {output_mode!r}")
        for name, value in (("points_per_batch", points_per_batch), ("crop_n_layers", crop_n_layers),
                            ("crop_n_points_downscale_factor", crop_n_points_downscale_factor)):
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "crop_n_layers" else 1):
                raise InputError(f"{name}: expected an integer >= {0 if name == 'crop_n_layers' else 1}, got {value!r}")
        if point_grids is None:
            if not isinstance(points_per_side, (int, np.integer)) or points_per_side < 1:
                raise InputError(f"points_per_side: expected an integer >= 1, got {points_per_side!r}")
            grids = build_all_layer_point_grids(points_per_side, crop_n_layers, crop_n_points_downscale_factor)
        else:
            grids = _check_grids(point_grids, crop_n_layers)
        if min_mask_region_area > 0:
            require_scipy()  # fail now, not after the decoding
        self.predictor = _as_predictor(predictor_or_weights)
        self.point_grids = grids
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = int(crop_n_layers)
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.progress = progress
        self.prompts_per_run = check_prompts_per_run(prompts_per_run)

    def generate(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Masks of a uint8 RGB image [H, W, 3]: one dict per mask with Meta's keys
        (segmentation, area, bbox [x, y, w, h], predicted_iou, point_coords,
        stability_score, crop_box [x, y, w, h]), in pixels of the image."""
        image = _check_image(image)
        size = image.shape[:2]
        crop_boxes, layers = generate_crop_boxes(size, self.crop_n_layers, self.crop_overlap_ratio)
        bar = self._progress_bar(sum(len(self.point_grids[layer]) for layer in layers))
        try:
            crops = [self._process_crop(image, box, layer, bar) for box, layer in zip(crop_boxes, layers, strict=True)]
        finally:
            if bar is not None:
                bar.close()
        crop_of = np.concatenate([np.full(len(c.iou), i) for i, c in enumerate(crops)])
        row_of = np.concatenate([np.arange(len(c.iou)) for c in crops])
        # Crops differ in size, so their packed masks stay with them; the rest concatenates.
        iou, stability, boxes, points = (np.concatenate([getattr(c, name) for c in crops])
                                         for name in ("iou", "stability", "boxes", "points"))
        if len(crop_boxes) > 1:
            scores = np.float32(1) / box_area(np.array(crop_boxes, np.int64)[crop_of]).astype(np.float32)
            keep = batched_nms(boxes, scores, np.zeros(len(scores)), self.crop_nms_thresh)
            iou, stability, boxes, points, crop_of, row_of = (
                a[keep] for a in (iou, stability, boxes, points, crop_of, row_of))
        masks = [
            uncrop_masks(unpack_masks(crops[c].packed[r : r + 1], _box_size(crop_boxes[c]))[0], crop_boxes[c], *size)
            for c, r in zip(crop_of, row_of, strict=True)
        ]
        if self.min_mask_region_area > 0 and masks:
            masks, boxes, keep = self._remove_small_regions(masks)
            iou, stability, points, crop_of = iou[keep], stability[keep], points[keep], crop_of[keep]
        crop_xyxy = np.array(crop_boxes, np.int64)[crop_of].reshape(-1, 4)
        return make_records(masks, boxes, iou, points, stability, crop_xyxy, self.output_mode)

    def _process_crop(self, image: np.ndarray, crop_box: list[int], layer: int, bar: Any) -> Candidates:
        """The candidates of one crop after its box NMS, boxes and points in image pixels."""
        x0, y0, x1, y1 = crop_box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        crop_size = crop.shape[:2]
        decoder = self.predictor.decoder
        features = self.predictor.encoder.encode(crop).features
        decoder.set_image(features)
        frame = decoder.config.frame_size(features.shape[-2:])
        points = self.point_grids[layer] * np.array(crop_size)[None, ::-1]
        parts = []
        for start in range(0, len(points), self.points_per_batch):
            batch = points[start : start + self.points_per_batch]
            coords = apply_coords(batch, crop_size, max(frame))[:, None, :]
            kept = self._prompts_to_decode(decoder, coords)
            if len(kept):
                out = decoder.predict(point_coords=coords[kept], point_labels=np.ones((len(kept), 1), np.int64),
                                      prompts_per_run=self.prompts_per_run)
                parts.append(filter_batch(
                    out.low_res_logits, out.iou_predictions, batch[kept], crop_size, frame, crop_box,
                    image.shape[:2], self.pred_iou_thresh, self.stability_score_thresh, self.stability_score_offset,
                ))
            if bar is not None:
                bar.update(len(batch))
        data = Candidates.concat(parts, crop_size)
        data = data.take(batched_nms(data.boxes, data.iou, np.zeros(len(data.iou)), self.box_nms_thresh))
        data.boxes = uncrop_boxes_xyxy(data.boxes, crop_box)
        data.points = uncrop_points(data.points, crop_box)
        return data

    def _prompts_to_decode(self, decoder: Any, coords: np.ndarray) -> np.ndarray:
        """Indices of the prompts (points [P, 1, 2] in the frame) whose masks are to be decoded:
        all, or, where the backend scores without upscaling masks (``capabilities.iou_only``),
        those with a mask whose predicted IoU passes ``pred_iou_thresh``. Meta drops the
        others' masks before anything else, so skipping their upscaling changes no result."""
        if self.pred_iou_thresh <= 0.0 or not decoder.backend.capabilities.iou_only:
            return np.arange(len(coords))
        iou = decoder.predict_iou(point_coords=coords, point_labels=np.ones((len(coords), 1), np.int64),
                                  prompts_per_run=self.prompts_per_run)
        return np.flatnonzero((iou > self.pred_iou_thresh).any(axis=1))

    def _remove_small_regions(self, masks: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Meta's ``postprocess_small_regions``: fill small holes, drop small islands, then
        box NMS (unchanged masks first) to remove new duplicates. Returns the kept masks,
        their boxes (x0, y0, x1, y1) and their indices into ``masks``."""
        cleaned, scores = [], []
        for mask in masks:
            mask, holes_changed = remove_small_regions(mask, self.min_mask_region_area, "holes")
            mask, islands_changed = remove_small_regions(mask, self.min_mask_region_area, "islands")
            cleaned.append(mask)
            scores.append(float(not (holes_changed or islands_changed)))
        new_boxes = batched_mask_to_box(np.stack(cleaned))
        keep = batched_nms(new_boxes, np.array(scores, np.float32), np.zeros(len(scores)),
                           max(self.box_nms_thresh, self.crop_nms_thresh))
        # An unchanged mask is the same array with the same box, so one take serves both kinds.
        return [cleaned[i] for i in keep], new_boxes[keep], keep

    def _progress_bar(self, prompts: int) -> Any:
        show = self.progress
        if show is None:
            show = prompts >= PROGRESS_MIN_PROMPTS and sys.stderr.isatty()
        if not show:
            return None
        try:
            from tqdm import tqdm
        except ImportError:
            if self.progress:
                fix = pip_hint("everything")
                raise MissingExtraError(f"progress=True: expected tqdm installed; fix: {fix}") from None
            return None
        return tqdm(total=prompts, unit="prompt", desc="everything")


def _box_size(box: Sequence[int]) -> tuple[int, int]:
    return box[3] - box[1], box[2] - box[0]
