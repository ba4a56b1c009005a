"""Shared by the everything-mode tests: Meta's generator and samcore's on one model.

The image encoder both use is Meta's tiny seeded ViT (``build_official_sam``) run
through Meta's own ``SamPredictor``: the embeddings are identical, so the comparison
isolates what the generator does after the encoder (decoding, filtering, NMS, crops,
RLE). ``tests/test_everything_generator.py`` runs samcore's encoder as well.
"""

from __future__ import annotations

import importlib
import types

import numpy as np
import pytest

from samcore import Decoder
from samcore.conformance.strategies import CONFIGS, WEIGHTS_SEED
from samcore.everything import rle_to_mask
from samcore.random_weights import random_params


class OfficialEncoder:
    """``encode(image) -> .features`` [1, C, h, w] from Meta's predictor (the Encoder role)."""

    def __init__(self, sam) -> None:
        predictor_class = importlib.import_module("segment_anything.predictor").SamPredictor
        self.predictor = predictor_class(sam)

    def encode(self, image: np.ndarray) -> types.SimpleNamespace:
        self.predictor.set_image(image)
        return types.SimpleNamespace(features=self.predictor.get_image_embedding().numpy())


def disc_image(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """uint8 [h, w, 3]: a few flat-coloured discs on a grey background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    image = np.full((h, w, 3), 40, np.uint8)
    for _ in range(6):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(10, 40)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 255, 3)
    return image


#: |samcore - Meta| allowed on predicted IoU: the decoders agree to ~1e-6 (float32 sums
#: in a different order); stability is a ratio of pixel counts, where a pixel whose
#: logit sits within ~1e-6 of +-1 can flip: one pixel of a ~1000-pixel mask is 1e-3.
IOU_TOL = 1e-5
STABILITY_TOL = 2e-3

def _mask(record) -> np.ndarray:
    seg = record["segmentation"]
    return rle_to_mask(seg) if isinstance(seg, dict) else seg


def on_threshold(record, kwargs) -> bool:
    return (abs(record["predicted_iou"] - kwargs.get("pred_iou_thresh", 0.88)) < IOU_TOL
            or abs(record["stability_score"] - kwargs.get("stability_score_thresh", 0.95)) < STABILITY_TOL)


def assert_same_records(ours: list[dict], theirs: list[dict], kwargs: dict) -> None:
    """Each record on one side matched on the other: same prompt point, mask IoU >= 0.99,
    box within a pixel, area up to the differing pixels, scores within the tolerances. A
    record may lack a match only when its predicted IoU or stability sits on a threshold."""
    for a_side, b_side, label in ((theirs, ours, "Meta's"), (ours, theirs, "samcore's")):
        for a in a_side:
            same_point = [b for b in b_side if np.allclose(b["point_coords"], a["point_coords"])]
            ious = [(_mask(a) & _mask(b)).sum() / max((_mask(a) | _mask(b)).sum(), 1) for b in same_point]
            if not ious or max(ious) < 0.99:
                assert on_threshold(a, kwargs), f"{label} mask at {a['point_coords']} has no match: {a['bbox']}"
                continue
            b = same_point[int(np.argmax(ious))]
            assert abs(a["predicted_iou"] - b["predicted_iou"]) <= IOU_TOL
            assert abs(a["stability_score"] - b["stability_score"]) <= STABILITY_TOL
            assert np.abs(np.subtract(a["bbox"], b["bbox"])).max() <= 1
            assert abs(a["area"] - b["area"]) <= (_mask(a) ^ _mask(b)).sum()
            assert list(map(int, a["crop_box"])) == list(map(int, b["crop_box"]))


@pytest.fixture(scope="module")
def official_pair():
    """(Meta's SamAutomaticMaskGenerator class, its Sam, a samcore predictor) on the same
    weights: the "odd" config's decoder (C=64, 3 blocks) with seeded random weights."""
    pytest.importorskip("torch")
    pytest.importorskip("PIL")
    from samcore.conformance.official import build_official_sam, official_mask_generator_class

    config, grid = CONFIGS["odd"]
    params = random_params(config, seed=WEIGHTS_SEED)
    sam = build_official_sam(config, grid, params)
    predictor = types.SimpleNamespace(decoder=Decoder(params, config, backend="numpy"), encoder=OfficialEncoder(sam))
    return official_mask_generator_class(), sam, predictor
