"""Run-length encoding of masks: uncompressed (Meta's) and COCO's compressed strings.

An uncompressed RLE is ``{"size": [H, W], "counts": [n0, n1, ...]}``: alternating runs
of False and True pixels (the first run False, possibly 0 long) down the columns
(Fortran order), as ``segment_anything.utils.amg.mask_to_rle_pytorch`` writes it.
A COCO RLE stores the same counts as a string, byte-for-byte what pycocotools'
``frPyObjects`` + ``rleToString`` produce, written here in NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from samcore.errors import InputError

#: Most 5-bit groups a count difference can need (|x| < 2**63).
_MAX_GROUPS = 13


def mask_to_rle(masks: np.ndarray) -> list[dict[str, Any]]:
    """Uncompressed RLEs of bool masks [B, H, W], one dict per mask."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise InputError(f"masks: expected a bool array [B, H, W], got shape {list(masks.shape)}")
    b, h, w = masks.shape
    out = []
    for i in range(b):
        flat = masks[i].T.ravel()
        changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        counts = np.diff(np.concatenate([[0], changes, [h * w]]))
        out.append({"size": [h, w], "counts": ([0] if h * w and flat[0] else []) + counts.tolist()})
    return out


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """bool [H, W] mask of an uncompressed RLE."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != h * w:
        raise InputError(f"rle: expected counts summing to H*W = {h * w}, got {int(counts.sum())}")
    return np.repeat(np.arange(len(counts)) % 2 == 1, counts).reshape(w, h).T


def area_from_rle(rle: dict[str, Any]) -> int:
    """Number of True pixels of an uncompressed RLE."""
    return int(sum(rle["counts"][1::2]))


def coco_encode_rle(rle: dict[str, Any]) -> dict[str, Any]:
    """COCO compressed RLE ``{"size": [H, W], "counts": str}`` of an uncompressed RLE.

    pycocotools' string format: each count, minus the count two before it from the
    fourth on, in little-endian 5-bit groups with a continuation bit (0x20), offset by
    48 into printable ASCII; the last group's bit 0x10 carries the sign.
    """
    h, w = rle["size"]
    x = np.asarray(rle["counts"], dtype=np.uint32).astype(np.int64)  # pycocotools stores uint32
    x[3:] -= x[1:-2].copy()
    groups = np.zeros((_MAX_GROUPS, len(x)), np.int64)
    valid = np.zeros((_MAX_GROUPS, len(x)), bool)
    active = np.ones(len(x), bool)
    for g in range(_MAX_GROUPS):
        c = x & 0x1F
        x = x >> 5
        more = np.where(c & 0x10, x != -1, x != 0)
        groups[g] = c | np.where(more, 0x20, 0)
        valid[g] = active
        active &= more
    chars = (groups.T[valid.T] + 48).astype(np.uint8)
    return {"size": [int(h), int(w)], "counts": chars.tobytes().decode("ascii")}
