"""The fast binary masks (``samcore.fast.mask_resize`` through ``binary_masks``) against the
spec: ``postprocess_masks(...) > threshold``, equal except where the spec's logit lies within
float32 rounding of the threshold; on random, adversarial and oddly sized inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from samcore import (
    DecoderOutput,
    binary_masks,
    binary_masks_with_stability,
    postprocess_masks,
    preprocess_shape,
    stability_score,
)
from samcore.errors import InputError
from samcore.fast import mask_resize
from samcore.fast.mask_resize import axis_matrix, bands, binary_masks_fast
from samcore.postprocess import resize_bilinear

#: Frames (square, as SAM's) and their low-res mask sizes.
FRAMES = {1024: 256, 256: 64, 128: 32}
EPS = float(np.finfo(np.float32).eps)


def _rounding_margin(logits: np.ndarray, threshold: float) -> float:
    """How far from the threshold float32 rounding can move a resized logit: a few ulps of
    the largest magnitude summed (two 2-tap passes per axis in the spec, 3 taps here)."""
    return 1e-6 + 16 * EPS * max(abs(threshold), float(np.abs(logits).max(initial=0.0)))


def _assert_matches_spec(logits: np.ndarray, original: tuple[int, int], frame: int, threshold: float) -> None:
    spec = postprocess_masks(logits, original, (frame, frame))
    ours = binary_masks(logits, original, (frame, frame), threshold)
    assert ours.dtype == np.bool_ and ours.shape == spec.shape == logits.shape[:-2] + tuple(original)
    differ = ours != (spec > threshold)
    near = np.abs(spec - threshold) <= _rounding_margin(logits, threshold)
    assert not (differ & ~near).any(), (
        f"{int((differ & ~near).sum())} pixels differ away from the threshold; first at "
        f"{np.argwhere(differ & ~near)[:3].tolist()}, spec logits {spec[differ & ~near][:3].tolist()}")
    assert differ.sum() <= max(8, differ.size // 1000), f"{int(differ.sum())} of {differ.size} pixels differ"


sizes = st.tuples(st.integers(1, 2500), st.integers(1, 2500))


@settings(max_examples=30, deadline=None)
@given(original=sizes, frame=st.sampled_from(sorted(FRAMES)), seed=st.integers(0, 2**16),
       threshold=st.sampled_from([0.0, 0.0, -1.5, 2.25]), scale=st.sampled_from([1.0, 5.0, 1e3]))
def test_random_logits_match_the_spec(original, frame, seed, threshold, scale) -> None:
    assume(0 not in preprocess_shape(original, frame))  # refused below
    low = FRAMES[frame]
    logits = (np.random.default_rng(seed).standard_normal((1, 2, low, low)) * scale).astype(np.float32)
    _assert_matches_spec(logits, original, frame, threshold)


@pytest.mark.parametrize("original", [
    (1500, 2250),  # the benchmark's photo
    (683, 1024),  # already the size the image has in the frame: the spec skips its second resize
    (1024, 1024),  # the frame itself
    (1, 1), (1, 2000), (2000, 1), (7, 5),  # tiny and degenerate
    (100, 37),  # smaller than the low-res mask on both axes
    (4100, 900),  # larger than the frame
])
def test_odd_sizes_match_the_spec(original) -> None:
    logits = (np.random.default_rng(sum(original)).standard_normal((3, 256, 256)) * 4).astype(np.float32)
    _assert_matches_spec(logits, original, 1024, 0.0)


@pytest.mark.parametrize("original", [(300, 200), (200, 300), (90, 91)])
def test_a_non_square_frame_matches_the_spec(original) -> None:
    """A non-square embedding grid gives a non-square frame; the image may fill more rows than it has."""
    logits = (np.random.default_rng(7).standard_normal((1, 2, 32, 24)) * 4).astype(np.float32)
    spec = postprocess_masks(logits, original, (128, 96))
    ours = binary_masks(logits, original, (128, 96))
    assert ours.shape == spec.shape == (1, 2, *original)
    differ = ours != (spec > 0)
    assert not (differ & (np.abs(spec) > _rounding_margin(logits, 0.0))).any()


def _adversarial(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Logits [2, 1, 64, 64] built to sit on or jump across the threshold 0."""
    y, x = np.mgrid[0:64, 0:64]
    fields = {
        "on the threshold": np.zeros((64, 64)),
        "ulps around it": rng.choice([-1, 1], (64, 64)) * 1e-30,
        "checkerboard": np.where((y + x) % 2, 30.0, -30.0),
        "edge": np.where(x * 3 + y > 90, 1e4, -1e4),  # a sharp step, large magnitudes
        "gradient through 0": (x - 31.5) * 1e-3 + (y - 31.5) * 1e-4,
        "sparse spikes": np.where(rng.random((64, 64)) < 0.01, 10.0, -1e-3),
    }
    return np.broadcast_to(fields[kind].astype(np.float32), (2, 1, 64, 64)).copy()


@pytest.mark.parametrize("kind", ["on the threshold", "ulps around it", "checkerboard", "edge",
                                  "gradient through 0", "sparse spikes"])
@pytest.mark.parametrize("original", [(300, 451), (61, 40)])
def test_adversarial_logits_match_the_spec(kind, original) -> None:
    logits = _adversarial(kind, np.random.default_rng(3))
    spec = postprocess_masks(logits, original, (256, 256))
    if kind in ("on the threshold", "ulps around it"):  # every pixel within rounding of 0: no answer is wrong,
        ours = binary_masks(logits, original, (256, 256))  # but the shape, dtype and "> 0" of exact zeros are
        assert ours.shape == spec.shape and ours.dtype == np.bool_
        if kind == "on the threshold":
            assert not ours.any() and not (spec > 0).any()
        return
    _assert_matches_spec(logits, original, 256, 0.0)


@pytest.mark.parametrize("low, frame, kept, out", [(256, 1024, 683, 1500), (256, 1024, 1024, 2250),
                                                   (64, 256, 256, 256), (32, 128, 85, 7), (256, 1024, 1, 1)])
def test_each_axis_is_the_spec_resize_as_one_banded_matrix(low, frame, kept, out) -> None:
    matrix = axis_matrix(low, frame, kept, out)
    assert matrix.shape == (out, low) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)  # bilinear weights sum to one
    for row in matrix:
        touched = np.flatnonzero(row)
        assert len(touched) <= 3 and touched[-1] - touched[0] == len(touched) - 1, touched
    # the spec's steps on the rows of an identity (columns low -> low are left as they are)
    eye = np.eye(low, dtype=np.float32)
    spec_steps = resize_bilinear(resize_bilinear(eye, (frame, low))[:kept], (out, low))
    np.testing.assert_allclose(matrix, spec_steps, atol=1e-6)
    for block in (1, 16, 1000):
        rebuilt = np.zeros_like(matrix)
        assert bands(low, frame, kept, out, block)[0].start == 0
        for band in bands(low, frame, kept, out, block):
            rebuilt[band.start:band.stop, band.low_start:band.low_stop] = band.weights
        np.testing.assert_array_equal(rebuilt, matrix)


def test_band_sizes_and_mask_groups_do_not_change_the_masks(monkeypatch) -> None:
    logits = (np.random.default_rng(5).standard_normal((4, 3, 64, 64)) * 3).astype(np.float32)
    kept = preprocess_shape((333, 500), 256)
    first = binary_masks_fast(logits, (333, 500), (256, 256), kept)
    for row_strip, column_block in [(1, 1), (7, 300), (512, 13)]:
        again = binary_masks_fast(logits, (333, 500), (256, 256), kept, 0.0, row_strip, column_block)
        assert (again != first).mean() < 1e-4
    for strip_bytes in (1, 5 * 4 * 16 * 500):  # one mask at a time; 5 at a time (the last group of 2)
        monkeypatch.setattr(mask_resize, "STRIP_BYTES", strip_bytes)
        np.testing.assert_array_equal(binary_masks_fast(logits, (333, 500), (256, 256), kept), first)


def test_decoder_output_masks_are_the_fast_masks() -> None:
    logits = (np.random.default_rng(6).standard_normal((2, 3, 32, 32)) * 3).astype(np.float32)
    out = DecoderOutput(logits, np.zeros((2, 3), np.float32), (128, 128))
    np.testing.assert_array_equal(out.masks((90, 61), 0.5), binary_masks(logits, (90, 61), (128, 128), 0.5))
    assert out.masks((90, 61)).shape == (2, 3, 90, 61)


@pytest.mark.parametrize("call", [binary_masks, postprocess_masks])
def test_an_image_too_thin_for_the_frame_is_refused(call) -> None:
    """(1, 3000) fills 0 rows of the 1024 frame (Meta's code fails deep in torch)."""
    with pytest.raises(InputError, match=r"original_size: expected an aspect ratio .* got \(1, 3000\)"):
        call(np.zeros((1, 1, 256, 256), np.float32), (1, 3000))


def test_no_prompts_give_no_masks() -> None:
    masks = binary_masks(np.zeros((0, 3, 64, 64), np.float32), (50, 70), (256, 256))
    assert masks.shape == (0, 3, 50, 70) and masks.dtype == np.bool_


@settings(max_examples=15, deadline=None)
@given(original=sizes, frame=st.sampled_from(sorted(FRAMES)), seed=st.integers(0, 2**16),
       offset=st.sampled_from([0.5, 1.0, 2.0]), smooth=st.booleans())
def test_stability_in_one_pass_equals_the_spec(original, frame, seed, offset, smooth) -> None:
    """``binary_masks_with_stability``: ``binary_masks`` and ``stability_score`` of the spec's
    resized logits; each stability area may differ only by pixels within rounding of t +- offset."""
    assume(0 not in preprocess_shape(original, frame))  # refused, as by binary_masks
    low = FRAMES[frame]
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((3, low, low)) * 4).astype(np.float32)
    if smooth:  # blobs, as a trained decoder gives: most pixels far from the thresholds
        yy, xx = np.mgrid[:low, :low] / low
        logits = (8 * (0.3 - np.hypot(yy - rng.random(3)[:, None, None], xx - rng.random(3)[:, None, None])))
        logits = logits.astype(np.float32)
    masks, stability = binary_masks_with_stability(logits, original, (frame, frame), 0.0, offset)
    spec = postprocess_masks(logits, original, (frame, frame))
    np.testing.assert_array_equal(masks, binary_masks(logits, original, (frame, frame)))
    margin = _rounding_margin(logits, offset)
    near = sum((np.abs(spec - level) <= margin).sum(axis=(-1, -2)) for level in (offset, -offset))
    assert near.max() <= max(8, spec[0].size // 1000)  # pixels whose area membership rounding may flip
    expected = stability_score(spec, 0.0, offset)
    slack = 2 * near / np.maximum((spec > -offset).sum(axis=(-1, -2)), 1)  # each flip moves a ratio by <= 2/union
    both_nan = np.isnan(stability) & np.isnan(expected)
    close = np.abs(stability - expected) <= slack + 1e-6
    assert (both_nan | close).all(), (stability, expected)
