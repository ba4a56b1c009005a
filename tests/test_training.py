"""training/: the scene generator, the click rules and the batched decode against Meta's modules."""

from __future__ import annotations

import numpy as np
import pytest

from training.clicks import correction_clicks, interior_points, tight_boxes
from training.scenes import KINDS, make_scene


def test_scenes_are_seeded_and_masks_are_disjoint_visible_parts() -> None:
    a, b = (make_scene(np.random.default_rng([3, 1]), (96, 128)) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.image.shape == (96, 128, 3) and a.image.dtype == np.uint8
    assert a.masks.shape[1:] == (96, 128) and set(a.kinds) <= set(KINDS)
    assert (a.masks.sum(0) <= 1).all()  # a pixel shows one shape at most
    assert (a.masks.reshape(len(a.masks), -1).mean(1) >= 0.004).all()
    c = make_scene(np.random.default_rng([3, 2]), (96, 128))
    assert not np.array_equal(a.image, c.image)


def test_every_kind_of_shape_is_drawn() -> None:
    kinds = {k for i in range(30) for k in make_scene(np.random.default_rng([5, i])).kinds}
    assert kinds == set(KINDS)


def test_clicks_land_inside_and_corrections_target_the_larger_error() -> None:
    ring = np.zeros((1, 40, 40), bool)
    y, x = np.mgrid[:40, :40]
    r = np.hypot(y - 20, x - 20)
    ring[0] = (r >= 8) & (r <= 14)
    (px, py), = interior_points(ring).astype(int)
    assert ring[0, py, px] and 10 <= r[py, px] <= 12  # on the ring, midway across it
    assert tight_boxes(ring)[0].tolist() == [6, 6, 34, 34]
    spilled = ring | (r < 8)  # the prediction filled the hole: a background click there
    points, labels = correction_clicks(spilled, ring)
    cx, cy = points[0].astype(int)
    assert labels[0] == 0 and r[cy, cx] < 8


def test_batched_decode_is_metas_prompt_encoder_and_mask_decoder() -> None:
    pytest.importorskip("samcore.conformance.official", reason="needs torch and segment-anything (the train extra)")
    import torch

    from training.decode import decode, embed_prompts
    from training.model import DECODER, ENCODER, build_sam

    torch.manual_seed(0)
    sam = build_sam(ENCODER, DECODER).eval()
    for corner in (2, 3):
        sam.prompt_encoder.point_embeddings[corner].weight.data.normal_()  # as in a checkpoint
    grid = ENCODER.grid_size
    embedding = torch.randn(1, DECODER.embed_dim, grid, grid)
    coords = np.array([[[30.0, 40.0], [70.0, 20.0]]], np.float32)
    labels = np.array([[1, 0]])
    boxes = np.array([[10.0, 12.0, 90.0, 100.0]], np.float32)
    mask_input = torch.randn(1, 1, 4 * grid, 4 * grid)
    pe = sam.prompt_encoder
    with torch.no_grad():
        cases = (((coords, labels), None, None), (None, boxes, mask_input), ((coords, labels), boxes, None))
        for points, box, mask in cases:
            sparse, dense = embed_prompts(pe, *(points or (None, None)), box, mask)
            ours, ours_iou = decode(sam.mask_decoder, embedding, pe.get_dense_pe(), sparse, dense)
            official_points = None if points is None else tuple(torch.from_numpy(a) for a in points)
            s, d = pe(official_points, None if box is None else torch.from_numpy(box), mask)
            theirs, theirs_iou = sam.mask_decoder.predict_masks(embedding, pe.get_dense_pe(), s, d)
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(ours_iou, theirs_iou, atol=1e-5, rtol=1e-5)
