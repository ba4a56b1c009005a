"""Transforms and post-processing against Meta's ResizeLongestSide, Sam.postprocess_masks
and calculate_stability_score."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samcore import apply_boxes, apply_coords, postprocess_masks, preprocess_shape, stability_score
from samcore.postprocess import resize_bilinear

torch = pytest.importorskip("torch")
sizes = st.tuples(st.integers(1, 3000), st.integers(1, 3000))


@given(original=sizes, long_side=st.sampled_from([1024, 512, 128]))
def test_coordinate_transforms_match_resize_longest_side(original, long_side) -> None:
    from samcore.conformance.official import transforms

    meta = transforms.ResizeLongestSide(long_side)
    rng = np.random.default_rng(original[0])
    coords = rng.random((3, 5, 2)) * [original[1], original[0]]
    boxes = rng.random((4, 4)) * [original[1], original[0], original[1], original[0]]
    assert preprocess_shape(original, long_side) == meta.get_preprocess_shape(*original, long_side)
    np.testing.assert_array_equal(apply_coords(coords, original, long_side), meta.apply_coords(coords, original))
    np.testing.assert_array_equal(apply_boxes(boxes, original, long_side), meta.apply_boxes(boxes, original))


@settings(max_examples=25, deadline=None)
@given(original=st.tuples(st.integers(16, 1500), st.integers(16, 1500)), seed=st.integers(0, 2**16))
def test_postprocess_masks_matches_sam(original, seed) -> None:
    from samcore.conformance.official import modeling

    logits = np.random.default_rng(seed).standard_normal((2, 3, 64, 64)).astype(np.float32) * 5
    frame = (256, 256)
    input_size = preprocess_shape(original, 256)
    sam = modeling.Sam.__new__(modeling.Sam)  # postprocess_masks only needs image_encoder.img_size
    torch.nn.Module.__init__(sam)
    sam.image_encoder = type("Encoder", (torch.nn.Module,), {})()
    sam.image_encoder.img_size = 256
    expected = sam.postprocess_masks(torch.from_numpy(logits), input_size, original).numpy()
    ours = postprocess_masks(logits, original, frame)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [(7, 5), (64, 64), (300, 17), (1, 1)])
def test_resize_bilinear_matches_interpolate(size) -> None:
    x = np.random.default_rng(1).standard_normal((2, 16, 12)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(resize_bilinear(x, size), expected[0].numpy(), atol=1e-5)


def test_stability_score_matches_meta() -> None:
    from samcore.conformance.official import amg

    masks = np.random.default_rng(2).standard_normal((3, 4, 40, 50)).astype(np.float32) * 3
    masks[0, 0] = -10  # empty at both thresholds: 0/0
    expected = amg.calculate_stability_score(torch.from_numpy(masks), 0.0, 1.0).numpy()
    np.testing.assert_allclose(stability_score(masks, 0.0, 1.0), expected, equal_nan=True, atol=1e-7)
    assert np.isnan(stability_score(masks)[0, 0])


def test_output_masks_are_at_original_size(tiny_decoder) -> None:
    embedding = np.random.default_rng(0).standard_normal((32, 8, 8)).astype(np.float32)
    out = tiny_decoder.predict(embedding, [[[10.0, 20.0]]], [[1]])
    masks = out.masks((90, 60))
    assert masks.shape == (1, 3, 90, 60) and masks.dtype == bool
    np.testing.assert_array_equal(masks, postprocess_masks(out.low_res_logits, (90, 60), (128, 128)) > 0)
