"""Reading pictures for the encoder: JPEG, PNG, WebP, ... with Pillow (``samcore[image]``).

EXIF orientation is applied (a phone photo comes out upright), any mode becomes
RGB (grayscale, palette, RGBA composited on nothing: alpha dropped), and a pixel
limit refuses decompression bombs before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from samcore.errors import InputError, SamcoreError

#: Default largest picture read (pixels): 16k x 16k; SAM sees 1024 x 1024 anyway.
MAX_PIXELS = 16384 * 16384


class ImageReadError(SamcoreError, ValueError):
    """A file is missing, unreadable, not a picture, or too large."""


def _pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise SamcoreError("reading pictures needs Pillow: pip install 'samcore[image]'") from None
    return Image, ImageOps


def read_image(source: str | os.PathLike | bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A picture file (path) or its bytes -> uint8 [H, W, 3] RGB, upright per its EXIF orientation.

    Raises ImageReadError naming the file when it is missing, unreadable or not a
    picture, or when it has more than ``max_pixels`` pixels.
    """
    Image, ImageOps = _pillow()
    name = "<bytes>" if isinstance(source, bytes | bytearray) else os.fspath(source)
    if max_pixels <= 0:
        raise InputError(f"max_pixels: expected a positive number of pixels, got {max_pixels}")
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with Image.open(stream) as picture:
            width, height = picture.size
            if width * height > max_pixels:
                raise ImageReadError(f"{name}: {width}x{height} pixels is more than max_pixels={max_pixels} "
                                     "(a decompression bomb?)")
            with warnings.catch_warnings():  # Pillow's own bomb warning: our limit has been checked
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                upright = ImageOps.exif_transpose(picture)
                rgb = upright.convert("RGB")
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{name}: too many pixels for Pillow ({exc})") from None
    except Image.UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not a picture Pillow can read ({exc})") from None
    except OSError as exc:  # truncated or corrupt data, a folder, no permission
        raise ImageReadError(f"{name}: cannot read the picture ({exc})") from None
    return np.asarray(rgb, np.uint8)
