"""How long loading the decoder takes from a whole converted checkpoint.

Writes a ViT-B-sized safetensors file (the decoder plus ~89 M image-encoder
parameters, as `samcore convert sam_vit_b_01ec64.pth` produces) and times
`load_decoder_params` (reads only the decoder's tensors) against reading the
whole file with `safetensors.numpy.load_file`. Prints a table, writes JSON.

    python benchmarks/load_weights.py [--runs 7] [--json benchmarks/results/load_weights.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file

from samcore.config import PRESETS
from samcore.random_weights import random_params
from samcore.weights import load_decoder_params, save_tensors

ENCODER_PARAMETERS = 89_670_912  # SAM ViT-B's image encoder


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", default="benchmarks/results/load_weights.json")
    args = parser.parse_args()

    config = PRESETS["sam_vit_b"]
    blocks = 12
    tensors = random_params(config, seed=0)
    per_block = ENCODER_PARAMETERS // blocks
    for i in range(blocks):
        tensors[f"image_encoder.blocks.{i}.weight"] = np.ones(per_block, np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "sam_vit_b.safetensors"
        save_tensors(path, tensors, config.metadata())
        size_mb = path.stat().st_size / 1e6
        decoder_ms = _median_ms(lambda: load_decoder_params(path), args.runs)
        whole_ms = _median_ms(lambda: load_file(path), args.runs)

    rows = [
        ("load_decoder_params (decoder only)", decoder_ms),
        ("safetensors load_file (whole file)", whole_ms),
    ]
    print(f"file: {size_mb:.0f} MB (ViT-B layout), median of {args.runs} runs")
    print(f"{'what':<38} {'median ms':>10} {'vs whole':>9}")
    for name, ms in rows:
        print(f"{name:<38} {ms:>10.1f} {ms / whole_ms:>8.2f}x")
    out = pathlib.Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"file_mb": size_mb, "runs": args.runs, "median_ms": dict(rows)}
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
