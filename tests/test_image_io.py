"""read_image: pictures in the formats people have, upright, as uint8 RGB; clear errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from samcore.errors import SamcoreError
from samcore.image_io import ImageFileError, read_image

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

PICTURE = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", ["png", "webp"])
def test_lossless_formats_round_trip(tmp_path, suffix: str) -> None:
    path = tmp_path / f"p.{suffix}"
    Image.fromarray(PICTURE).save(path, **({"lossless": True} if suffix == "webp" else {}))
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (21, 34, 3)
    np.testing.assert_array_equal(image, PICTURE)


def test_jpeg_from_bytes() -> None:
    buffer = io.BytesIO()
    Image.fromarray(PICTURE).save(buffer, format="JPEG", quality=95)
    image = read_image(buffer.getvalue())
    assert image.shape == (21, 34, 3) and image.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path) -> None:
    """Orientation 6 (the camera turned 90 degrees clockwise): the picture is stored sideways."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(PICTURE).save(tmp_path / "p.png", exif=exif)
    image = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(image, np.rot90(PICTURE, k=-1))


def test_grayscale_and_rgba_become_rgb(tmp_path) -> None:
    gray = PICTURE[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[..., None], 3, axis=-1))
    rgba = np.concatenate([PICTURE, np.full((21, 34, 1), 77, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), PICTURE)


def test_errors_name_the_file(tmp_path) -> None:
    (tmp_path / "t.jpg").write_text("hello")
    with pytest.raises(ImageFileError, match=r"t\.jpg: not a picture Pillow can read"):
        read_image(tmp_path / "t.jpg")
    with pytest.raises(ImageFileError, match=r"missing\.png: no such file"):
        read_image(tmp_path / "missing.png")
    buffer = io.BytesIO()
    Image.fromarray(PICTURE).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:60])
    with pytest.raises(ImageFileError, match=r"cut\.png: cannot read the picture"):
        read_image(tmp_path / "cut.png")
    assert issubclass(ImageFileError, SamcoreError) and issubclass(ImageFileError, ValueError)


def test_pixel_limit_refuses_before_decoding(tmp_path) -> None:
    Image.fromarray(PICTURE).save(tmp_path / "p.png")
    with pytest.raises(ImageFileError, match=r"p\.png: 34x21 pixels is more than max_pixels=700"):
        read_image(tmp_path / "p.png", max_pixels=700)
    assert read_image(tmp_path / "p.png", max_pixels=714).shape == (21, 34, 3)
