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


class ImageFileError(SamcoreError, ValueError):
    """A picture file is missing, unreadable, not a picture, too large, or cannot be written."""


def _pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise SamcoreError("reading pictures needs Pillow: pip install 'samcore[image]'") from None
    return Image, ImageOps


def read_image(source: str | os.PathLike | bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A picture file (path) or its bytes -> uint8 [H, W, 3] RGB, upright per its EXIF orientation.

    Raises ImageFileError naming the file when it is missing, unreadable or not a
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
                raise ImageFileError(f"{name}: {width}x{height} pixels is more than max_pixels={max_pixels} "
                                     "(a decompression bomb?)")
            with warnings.catch_warnings():  # Pillow's own bomb warning: our limit has been checked
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                upright = ImageOps.exif_transpose(picture)
                rgb = upright.convert("RGB")
    except FileNotFoundError:
        raise ImageFileError(f"{name}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageFileError(f"{name}: too many pixels for Pillow ({exc})") from None
    except Image.UnidentifiedImageError as exc:
        raise ImageFileError(f"{name}: not a picture Pillow can read ({exc})") from None
    except OSError as exc:  # truncated or corrupt data, a folder, no permission
        raise ImageFileError(f"{name}: cannot read the picture ({exc})") from None
    return np.asarray(rgb, np.uint8)


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Save a bool mask [H, W] as an 8-bit grayscale PNG (255 inside, 0 outside)."""
    Image, _ = _pillow()
    Image.fromarray(np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8)).save(path, format="PNG")


#: Overlay colour of mask pixels (RGB) and its opacity.
MASK_COLOUR, MASK_OPACITY = (30, 144, 255), 0.55


def overlay(
    image: np.ndarray, mask: np.ndarray, points: np.ndarray | None = None, box: np.ndarray | None = None
) -> np.ndarray:
    """The picture uint8 [H, W, 3] with ``mask`` [H, W] tinted over it, its outline, the prompt
    points [N, 3] (x, y, label: green foreground, red background) and box [4] drawn."""
    Image, _ = _pillow()
    from PIL import ImageDraw, ImageFilter

    tinted = image.astype(np.float32)
    tinted[mask] = (1 - MASK_OPACITY) * tinted[mask] + MASK_OPACITY * np.array(MASK_COLOUR, np.float32)
    picture = Image.fromarray(tinted.round().astype(np.uint8))
    edges = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.FIND_EDGES)
    picture.paste(MASK_COLOUR, mask=edges)
    draw = ImageDraw.Draw(picture)
    radius = max(3, round(max(image.shape[:2]) / 150))
    if box is not None:
        draw.rectangle([float(v) for v in box], outline=(255, 215, 0), width=max(1, radius // 2))
    for x, y, label in [] if points is None else points:
        colour = (0, 200, 0) if label == 1 else (220, 0, 0)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(255, 255, 255))
    return np.asarray(picture)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save uint8 [H, W, 3] RGB in the format the file's extension names (PNG, JPEG, WebP, ...)."""
    Image, _ = _pillow()
    try:
        Image.fromarray(image).save(path)
    except ValueError as exc:  # unknown extension
        raise ImageFileError(f"{os.fspath(path)}: cannot write a picture there ({exc})") from None
