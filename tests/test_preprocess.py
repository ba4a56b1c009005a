"""Preprocessing against Meta's: ResizeLongestSide.apply_image, then Sam.preprocess."""

from __future__ import annotations

import types

import numpy as np
import pytest

from samcore.encoder_config import PIXEL_MEAN, PIXEL_STD
from samcore.spec.preprocess import normalize_and_pad, preprocess, resize_longest_side

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
official = pytest.importorskip("samcore.conformance.official")


def _picture(shape: tuple[int, int], seed: int) -> np.ndarray:
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).integers(0, 40, (h, w, 3))
    return np.clip(np.stack([x * 255 / w, y * 255 / h, (x + y) % 64 * 3], -1) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("shape", "frame"), [((37, 53), 128), ((300, 171), 128), ((1, 97), 64), ((480, 640), 1024)])
def test_matches_meta(shape: tuple[int, int], frame: int) -> None:
    """Up- and downscaling, a one-pixel-high picture, and the real frame size."""
    image = _picture(shape, seed=shape[0])
    resized = official.transforms.ResizeLongestSide(frame).apply_image(image)
    np.testing.assert_array_equal(resize_longest_side(image, frame), resized)
    # Sam.preprocess reads only the pixel statistics and the encoder's frame size.
    sam = types.SimpleNamespace(pixel_mean=torch.tensor(PIXEL_MEAN).view(-1, 1, 1),
                                pixel_std=torch.tensor(PIXEL_STD).view(-1, 1, 1),
                                image_encoder=types.SimpleNamespace(img_size=frame))
    chw = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None]
    theirs = official.modeling.Sam.preprocess(sam, chw).numpy()
    ours, original_size, input_size = preprocess(image, frame, PIXEL_MEAN, PIXEL_STD)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (1, 3, frame, frame)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert original_size == shape and input_size == resized.shape[:2]


def test_bgr_is_rgb_reversed() -> None:
    image = _picture((20, 30), 0)
    rgb = preprocess(image, 32, PIXEL_MEAN, PIXEL_STD)[0]
    bgr = preprocess(np.ascontiguousarray(image[..., ::-1]), 32, PIXEL_MEAN, PIXEL_STD, image_format="BGR")[0]
    np.testing.assert_array_equal(rgb, bgr)


def test_padding_is_zero_and_values_normalised() -> None:
    image = np.full((10, 20, 3), 200, np.uint8)
    frame = normalize_and_pad(image, 24, PIXEL_MEAN, PIXEL_STD)
    np.testing.assert_array_equal(frame[0, :, 10:], 0)
    np.testing.assert_array_equal(frame[0, :, :, 20:], 0)
    expected = (200 - np.float32(PIXEL_MEAN)) / np.float32(PIXEL_STD)
    np.testing.assert_array_equal(frame[0, :, 0, 0], expected)
