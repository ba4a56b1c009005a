"""Binary masks at the image's size: ways to compute ``postprocess_masks(...) > 0`` in NumPy.

Three masks of 256x256 logits to a 1500x2250 image (10M output pixels), each way against
the spec (``postprocess_masks``: four separable 2-tap passes through the 1024 frame):

- ``dense GEMM``: each axis composed into one matrix A, ``(A_rows @ L) @ A_cols^T > 0``;
  BLAS speed, but every output pixel is a 256-deep dot product.
- ``3-tap gather``: the browser page's form (``web/masks.js``): columns as a GEMM on the
  used low-res rows, then rows as 3 gathered, weighted rows per output row.
- ``banded RxC``: what ``binary_masks`` ships (``samcore.fast.mask_resize``): both products
  as small GEMMs over the band of low-res pixels a block of R rows / C columns reads,
  each strip of rows thresholded while in cache.

Round-robin: each round times every way (best of 3 after a warm-up call), its ratio to the
spec taken within the round (the host's speed drifts). Prints medians, writes JSON.

    python benchmarks/mask_resize.py [--rounds 9] [--size 1500 2250] [--json benchmarks/results/mask_resize.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable

import numpy as np
from decoder import _seconds, sgemm_gflops, write_record

from samcore.fast.mask_resize import COLUMN_BLOCK, ROW_STRIP, axis_matrix, binary_masks_fast
from samcore.postprocess import postprocess_masks
from samcore.transforms import preprocess_shape

FRAME = (1024, 1024)
LOW = 256


def _ways(logits: np.ndarray, size: tuple[int, int]) -> dict[str, Callable[[], np.ndarray]]:
    kept = preprocess_shape(size, max(FRAME))
    rows = axis_matrix(LOW, FRAME[0], kept[0], size[0])
    used = int(np.flatnonzero(rows.any(axis=0))[-1]) + 1
    rows, columns_t = np.ascontiguousarray(rows[:, :used]), np.ascontiguousarray(axis_matrix(LOW, FRAME[1], kept[1],
                                                                                             size[1]).T)
    taps = np.sort(np.argsort(rows == 0, axis=1, kind="stable")[:, :3], axis=1)  # the (<= 3) nonzero columns
    tap_weights = np.take_along_axis(rows, taps, axis=1)
    used_logits = logits[..., :used, :]

    def gather() -> np.ndarray:
        wide = used_logits @ columns_t
        out = wide[..., taps[:, 0], :] * tap_weights[:, 0, None]
        out += wide[..., taps[:, 1], :] * tap_weights[:, 1, None]
        out += wide[..., taps[:, 2], :] * tap_weights[:, 2, None]
        return out > 0

    ways = {
        "spec (postprocess_masks > 0)": lambda: postprocess_masks(logits, size, FRAME) > 0,
        "dense GEMM": lambda: (rows @ used_logits) @ columns_t > 0,
        "3-tap gather": gather,
    }
    for strip, block in [(8, 128), (16, 64), (ROW_STRIP, COLUMN_BLOCK), (32, 128), (32, 512), (128, 128)]:
        shipped = " (shipped)" if (strip, block) == (ROW_STRIP, COLUMN_BLOCK) else ""
        ways[f"banded {strip}x{block}{shipped}"] = (
            lambda s=strip, b=block: binary_masks_fast(logits, size, FRAME, kept, 0.0, s, b))
    return ways


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--masks", type=int, default=3)
    parser.add_argument("--size", type=int, nargs=2, default=(1500, 2250), metavar=("H", "W"))
    parser.add_argument("--json", default="benchmarks/results/mask_resize.json", help="where to write the record")
    args = parser.parse_args()

    size = tuple(args.size)
    logits = (np.random.default_rng(0).standard_normal((1, args.masks, LOW, LOW)) * 5).astype(np.float32)
    ways = _ways(logits, size)
    spec = postprocess_masks(logits, size, FRAME)
    mismatches = {name: int(((run() != (spec > 0)) & (np.abs(spec) > 1e-4)).sum()) for name, run in ways.items()}
    peak = sgemm_gflops()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, run in ways.items():
            run()
            times[name].append(min(_seconds(run) for _ in range(3)) * 1e3)
    spec_name = next(iter(ways))
    ratios = {name: [a / b for a, b in zip(times[name], times[spec_name], strict=True)] for name in ways}

    print(f"\n{args.masks} masks {LOW}x{LOW} -> {size[0]}x{size[1]} bool, ms: median (min-max) over {args.rounds} "
          f"rounds (best of 3 each); time / spec's within each round; load average {os.getloadavg()[0]:.1f}")
    print(f"{'way':<34}{'ms':>22}{'vs spec':>20}{'wrong pixels':>14}")
    for name in ways:
        ms, r = times[name], ratios[name]
        print(f"{name:<34}{f'{statistics.median(ms):.1f} ({min(ms):.1f}-{max(ms):.1f})':>22}"
              f"{f'{statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f})':>20}{mismatches[name]:>14}")
    write_record(args.json, os.cpu_count() or 1, peak, {"size": size, "masks": args.masks, "rounds": args.rounds,
                                                        "ms": times, "ratio_to_spec": ratios,
                                                        "wrong_pixels_away_from_threshold": mismatches})


if __name__ == "__main__":
    main()
