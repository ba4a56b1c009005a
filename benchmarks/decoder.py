"""Decoder latency: every available samcore backend against Meta's official decoder.

One process, the ViT-B preset's decoder with seeded random weights, one random
embedding, the same prompts (one foreground click each, plus SAM's padding point).
Per-prompt latency, median/min/max over --runs runs, for one prompt and for a batch
of 16, with each figure's ratio to Meta's official ONNX decoder (SamOnnxModel,
legacy exporter, onnxruntime, one prompt per call, resize to the original size
left out). Prints a table and writes JSON.

    python benchmarks/decoder.py [--runs 20] [--json benchmarks/results/decoder.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from samcore import Decoder
from samcore.config import PRESETS
from samcore.random_weights import random_params
from samcore.registry import list_backends

BATCHES = (1, 16)
OFFICIAL_ONNX = "official ONNX (SamOnnxModel)"


def _time(run: Callable[[], object], runs: int, prompts: int) -> dict[str, float]:
    run()  # warm-up: first-call allocations, lazy graph builds
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3 / prompts)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def _prompts(batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    coords = (rng.random((batch, 1, 2)) * 1024).astype(np.float32)
    return coords, np.ones((batch, 1), np.int64)


def _with_padding(coords: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    batch = coords.shape[0]
    padded = np.concatenate([coords, np.zeros((batch, 1, 2), np.float32)], axis=1)
    return padded, np.concatenate([labels, -np.ones((batch, 1), np.int64)], axis=1)


def _runners(params, config, threads: int) -> dict[str, Callable]:
    """name -> run(embedding, coords, labels): samcore backends, then the baselines."""
    runners = {}
    for row in list_backends():
        if not row.availability.available:
            print(f"skipping {row.name}: {row.availability.reason}")
            continue
        decoder = Decoder(params, config, backend=row.name, device="cpu")
        runners[f"samcore {row.name}"] = lambda e, c, l, d=decoder: d.predict(e, c, l)  # noqa: E741
    try:
        import torch

        from samcore.conformance.official import build_official_sam, official_onnx_runner, official_torch_runner
    except ImportError as exc:
        print(f"no official baselines: {exc}")
        return runners
    torch.set_num_threads(threads)
    sam = build_official_sam(config, 64, params)
    official_torch = official_torch_runner(sam)
    official_onnx = official_onnx_runner(sam, threads)
    runners["official torch modules"] = lambda e, c, l: official_torch(e, *_with_padding(c, l))  # noqa: E741
    runners[OFFICIAL_ONNX] = lambda e, c, l: official_onnx(e, *_with_padding(c, l))  # noqa: E741
    return runners


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default="benchmarks/results/decoder.json")
    args = parser.parse_args()

    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((1, config.embed_dim, 64, 64)).astype(np.float32)
    prompts = {batch: _prompts(batch, rng) for batch in BATCHES}
    results = {}
    for name, run in _runners(params, config, args.threads).items():
        results[name] = {
            str(batch): _time(lambda r=run, p=prompts[batch]: r(embedding, *p), args.runs, batch) for batch in BATCHES
        }
        print(f"measured {name}")

    base = results.get(OFFICIAL_ONNX)
    header = f"{'decoder':<32}" + "".join(f"{f'{b} prompt(s), ms/prompt':>30}{'vs official ONNX':>18}" for b in BATCHES)
    print(f"\nViT-B decoder, median (min-max) of {args.runs} runs, {args.threads} threads, {platform.processor()}")
    print(header)
    for name, by_batch in results.items():
        cells = ""
        for b in BATCHES:
            r = by_batch[str(b)]
            ratio = f"{r['median_ms'] / base[str(b)]['median_ms']:.2f}x" if base else "-"
            cells += f"{r['median_ms']:>12.1f} ({r['min_ms']:.1f}-{r['max_ms']:.1f})".rjust(30) + f"{ratio:>18}"
        print(f"{name:<32}{cells}")
    record = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "threads": args.threads, "numpy": np.__version__},
        "runs": args.runs,
        "per_prompt_ms": results,
    }
    out = pathlib.Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
