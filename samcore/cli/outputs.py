"""What ``samcore predict --out`` writes: a mask image (.png) or the arrays (.npz)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from samcore.decoder import DecoderOutput

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a grayscale image uint8 [H, W] as an 8-bit PNG (no dependency beyond zlib)."""
    h, w = image.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(image, np.uint8)], axis=1)  # filter 0
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8 bits, grayscale, no interlace
    path.write_bytes(PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
                     + _chunk(b"IEND", b""))


def write_prediction(path: Path, out: DecoderOutput, masks: np.ndarray) -> str:
    """Write one prompt's prediction to ``path`` by its suffix; a description of what was written.

    ``.png``: the mask with the highest predicted IoU, 255 inside, 0 outside, at the original
    size. ``.npz``: ``masks`` bool [1, M, H, W], ``low_res_logits`` float32 [1, M, 4h, 4w] and
    ``iou_predictions`` float32 [1, M], named as ``DecoderOutput`` names them.
    """
    if path.suffix.lower() == ".png":
        best = int(np.argmax(out.iou_predictions[0]))
        write_png(path, np.where(masks[0, best], 255, 0).astype(np.uint8))
        return f"mask {best} (highest predicted IoU) as a {masks.shape[2]}x{masks.shape[3]} image"
    with open(path, "wb") as f:  # a file object: numpy appends nothing to the name
        np.savez_compressed(f, masks=masks, low_res_logits=out.low_res_logits, iou_predictions=out.iou_predictions)
    return "masks, low_res_logits and iou_predictions"
