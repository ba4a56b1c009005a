"""samcore.everything's helpers against Meta's ``segment_anything.utils.amg`` (torch),
torchvision's NMS semantics, pycocotools and OpenCV, on drawn inputs."""

from __future__ import annotations

import numpy as np
import pytest

from samcore.everything import (
    area_from_rle,
    batched_mask_to_box,
    batched_nms,
    box_xyxy_to_xywh,
    build_all_layer_point_grids,
    coco_encode_rle,
    generate_crop_boxes,
    is_box_near_crop_edge,
    mask_to_rle,
    remove_small_regions,
    rle_to_mask,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from samcore.postprocess import stability_score

torch = pytest.importorskip("torch")
amg = pytest.importorskip("samcore.conformance.official").amg


def blobs(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """bool [n, h, w]: random rectangles and noise, one mask empty, one full."""
    masks = rng.random((n, h, w)) < 0.02
    for m in masks:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0 : y0 + rng.integers(1, h), x0 : x0 + rng.integers(1, w)] = True
    masks[0] = False
    masks[1] = True
    return masks


@pytest.mark.parametrize(("n", "layers", "scale"), [(32, 0, 1), (16, 2, 2), (7, 1, 3)])
def test_point_grids_match_meta(n, layers, scale) -> None:
    ours, theirs = build_all_layer_point_grids(n, layers, scale), amg.build_all_layer_point_grids(n, layers, scale)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size", [(1500, 2250), (480, 640), (1000, 333), (37, 50)])
@pytest.mark.parametrize("layers", [0, 1, 2])
def test_crop_boxes_match_meta(size, layers) -> None:
    assert generate_crop_boxes(size, layers, 512 / 1500) == amg.generate_crop_boxes(size, layers, 512 / 1500)


@pytest.mark.parametrize("seed", range(3))
def test_rle_matches_meta_and_round_trips(seed) -> None:
    rng = np.random.default_rng(seed)
    masks = blobs(rng, 6, int(rng.integers(1, 40)), int(rng.integers(1, 40)))
    ours = mask_to_rle(masks)
    assert ours == amg.mask_to_rle_pytorch(torch.from_numpy(masks))
    for mask, rle in zip(masks, ours, strict=True):
        np.testing.assert_array_equal(rle_to_mask(rle), mask)
        assert area_from_rle(rle) == mask.sum() == amg.area_from_rle(rle)


@pytest.mark.parametrize("seed", range(4))
def test_coco_rle_is_byte_compatible_with_pycocotools(seed) -> None:
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    for rle in mask_to_rle(blobs(rng, 5, h, w)):
        assert coco_encode_rle(rle) == amg.coco_encode_rle(rle)
    long_runs = {"size": [4000, 5000], "counts": [0, 19_999_000, 1000]}  # counts beyond 2**24
    assert coco_encode_rle(long_runs) == amg.coco_encode_rle(long_runs)


def test_boxes_match_meta() -> None:
    masks = blobs(np.random.default_rng(0), 8, 23, 31)
    ours = batched_mask_to_box(masks)
    np.testing.assert_array_equal(ours, amg.batched_mask_to_box(torch.from_numpy(masks)).numpy())
    np.testing.assert_array_equal(ours[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(batched_mask_to_box(masks.reshape(2, 4, 23, 31)), ours.reshape(2, 4, 4))
    np.testing.assert_array_equal(box_xyxy_to_xywh(ours[2]), amg.box_xyxy_to_xywh(torch.from_numpy(ours[2])).numpy())


def test_crop_helpers_match_meta() -> None:
    rng = np.random.default_rng(1)
    crop, image = [10, 20, 60, 50], [0, 0, 80, 70]
    boxes = np.concatenate([rng.integers(0, 30, (40, 2)), rng.integers(25, 50, (40, 2))], axis=1)
    points = rng.random((40, 2)) * 30
    masks = blobs(rng, 3, 30, 50)
    np.testing.assert_array_equal(uncrop_boxes_xyxy(boxes, crop), amg.uncrop_boxes_xyxy(torch.from_numpy(boxes), crop))
    np.testing.assert_allclose(uncrop_points(points, crop), amg.uncrop_points(torch.from_numpy(points), crop))
    np.testing.assert_array_equal(uncrop_masks(masks, crop, 70, 80),
                                  amg.uncrop_masks(torch.from_numpy(masks), crop, 70, 80).numpy())
    near = is_box_near_crop_edge(boxes, crop, image)
    assert 0 < near.sum() < len(near)
    np.testing.assert_array_equal(near, amg.is_box_near_crop_edge(torch.from_numpy(boxes), crop, image).numpy())


def test_stability_score_matches_meta() -> None:
    logits = np.random.default_rng(2).standard_normal((5, 40, 30)).astype(np.float32) * 3
    ours = stability_score(logits, 0.0, 1.0)
    np.testing.assert_allclose(ours, amg.calculate_stability_score(torch.from_numpy(logits), 0.0, 1.0).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_batched_nms_matches_torchvision_semantics(seed) -> None:
    from samcore.conformance import torchvision_ops

    rng = np.random.default_rng(seed)
    xy = rng.random((60, 2)) * 100
    boxes = np.concatenate([xy, xy + rng.random((60, 2)) * 40], axis=1).astype(np.float32)
    boxes[:3] = boxes[3]  # exact duplicates and ...
    scores = rng.random(60).astype(np.float32)
    scores[10:14] = scores[9]  # ... tied scores
    categories = rng.integers(0, 3 if seed % 2 else 1, 60)
    for threshold in (0.0, 0.3, 0.7, 1.0):
        ours = batched_nms(boxes, scores, categories, threshold)
        theirs = torchvision_ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                                             torch.from_numpy(categories), threshold).numpy()
        np.testing.assert_array_equal(ours, theirs)
        assert np.all(np.diff(scores[ours]) <= 0)


def test_batched_nms_keeps_what_it_should() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    scores = np.array([0.5, 0.9, 0.1, 0.5, 0.7], np.float32)
    # box 1 (IoU 0.81 with 0 and 3) suppresses both at 0.7; the empty box (0/0 IoU) survives.
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.zeros(5), 0.7), [1, 4, 2])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.zeros(5), 0.9), [1, 4, 0, 2])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.array([0, 1, 0, 0, 0]), 0.7), [1, 4, 0, 2])
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).shape == (0,)


@pytest.mark.parametrize("mode", ["holes", "islands"])
@pytest.mark.parametrize("seed", range(4))
def test_small_regions_match_meta_opencv(mode, seed) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("scipy")
    rng = np.random.default_rng(seed)
    mask = blobs(rng, 3, 60, 70)[2] | (rng.random((60, 70)) < 0.1)
    for area in (1, 3, 30, 5000):
        ours, changed = remove_small_regions(mask, area, mode)
        theirs, their_changed = amg.remove_small_regions(mask, area, mode)
        assert changed == their_changed
        np.testing.assert_array_equal(ours, theirs)
