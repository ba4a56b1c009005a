"""Decoder latency: every available samcore backend against Meta's official decoder.

One process, the ViT-B preset's decoder with seeded random weights, one random
embedding, the same prompts (one foreground click each, plus SAM's padding point).
samcore backends are timed as an interactive app uses them: ``Decoder.set_image``
once (timed on its own), then ``predict`` per batch of prompts. Per-prompt latency,
median/min/max over the runs, for batches of 1, 16 and 64, with each figure's ratio
to Meta's official ONNX decoder (SamOnnxModel, legacy exporter, onnxruntime, one
prompt per call, its resize to the original size left out), the GFLOP/s a single
click achieves against this machine's measured sgemm peak, and the peak NumPy memory
of a batch of 64 (tracemalloc; the numpy backend's arrays). Prints a table, writes JSON.
The host's speed drifts (shared machine): quote ratios, and run it twice.

    python benchmarks/decoder.py [--runs 20] [--json benchmarks/results/decoder.json] [--only onnx ...]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pathlib
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence

import numpy as np

from samcore import Decoder
from samcore.config import PRESETS, DecoderConfig
from samcore.random_weights import random_params
from samcore.registry import list_backends

BATCHES = (1, 16, 64)
GRID = 64
OFFICIAL_ONNX = "official ONNX (SamOnnxModel)"
#: Backends that run the fast formulation, whose FLOP count the GFLOP/s column uses.
FAST_FORMULATION = ("samcore numpy", "samcore onnx")
#: Combinations not timed, and why.
SKIPPED = {("torch", "float16"): "float16 on a CPU has no fast kernels in torch (~1.6 s a prompt)"}


def decoder_gflop(config: DecoderConfig, grid: int, tokens: int, masks: int) -> float:
    """GFLOP of one prompt in the fast formulation (multiply-adds x 2; the large terms:
    attention against the image tokens and the upscaling GEMMs)."""
    hw, c, heads = grid * grid, config.embed_dim, config.num_heads
    cross = c // config.attention_downsample_rate
    image_attention = (config.depth - 1) * 4  # reassociated products against X in blocks >= 1
    macs = image_attention * heads * tokens * c * hw  # (q Wk)(X+PE)^T, A X, (k Wq)(X+PE)^T, A^T U
    macs += 2 * heads * (1 + masks) * c * hw  # the final attention: the IoU token and the masks' tokens
    macs += 3 * tokens * cross * hw + hw * heads * tokens * c  # block 0 from cached projections
    macs += hw * config.depth * (heads * tokens + 3) * c  # upscale_input's thin product
    macs += 4 * hw * (c // 4) * (c // 2) + 16 * hw * (c // 8) * masks  # second upscaling GEMM, masks
    return 2 * macs / 1e9


def sgemm_gflops(size: int = 2048, runs: int = 5) -> float:
    """This machine's float32 matmul rate (NumPy's BLAS), best of ``runs``."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    best = min(_seconds(lambda: a @ a) for _ in range(runs))
    return 2 * size**3 / best / 1e9


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _stats(times_ms: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times_ms), "min_ms": min(times_ms), "max_ms": max(times_ms)}


def _prompts(batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.random((batch, 1, 2)) * 1024).astype(np.float32), np.ones((batch, 1), np.int64)


def one_click() -> tuple[DecoderConfig, dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The paired scripts' setting: (ViT-B config, its seeded random params, a random embedding
    [1, C, GRID, GRID], one foreground click: coords [1, 1, 2], labels [1, 1])."""
    config = PRESETS["sam_vit_b"]
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((1, config.embed_dim, GRID, GRID)).astype(np.float32)
    return (config, random_params(config, seed=0), embedding, *_prompts(1, rng))


def _with_padding(coords: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    batch = coords.shape[0]
    padded = np.concatenate([coords, np.zeros((batch, 1, 2), np.float32)], axis=1)
    return padded, np.concatenate([labels, -np.ones((batch, 1), np.int64)], axis=1)


#: Runner name -> its samcore Decoder (model file sizes are read from it after the runs).
DECODERS: dict[str, Decoder] = {}


def _model_file_mb(names: Sequence[str]) -> dict[str, float]:
    """Runner name -> MB of the model files its backend ran, for the ``names`` whose backends
    say (``model_files``)."""
    sizes = {}
    for name, decoder in DECODERS.items():
        if name not in names:
            continue
        files = getattr(decoder.backend, "model_files", dict)()
        if files:
            sizes[name] = sum(path.stat().st_size for path in files.values()) / 1e6
    return sizes


def _samcore_runners(params, config, embedding, only=None) -> dict[str, tuple[Callable, float]]:
    """name -> (run(coords, labels), set_image ms) for every available backend and dtype (with
    ``only``: those whose name "samcore BACKEND DTYPE" contains one of its strings; no other is built)."""
    runners = {}
    for row in list_backends():
        if not row.availability.available:
            print(f"skipping {row.name}: {row.availability.reason}")
            continue
        for dtype in row.dtypes:
            if only and not any(text in f"samcore {row.name} {dtype}" for text in only):
                continue
            if (row.name, dtype) in SKIPPED:
                print(f"skipping {row.name} {dtype}: {SKIPPED[row.name, dtype]}")
                continue
            decoder = Decoder(params, config, backend=row.name, device="cpu", dtype=dtype)
            decoder.set_image(embedding)  # first call: exports, sessions, caches
            set_image_ms = min(_seconds(lambda d=decoder: d.set_image(embedding)) for _ in range(3)) * 1e3
            DECODERS[f"samcore {row.name} {dtype}"] = decoder
            runners[f"samcore {row.name} {dtype}"] = (
                lambda c, l, d=decoder: d.predict(point_coords=c, point_labels=l),  # noqa: E741
                set_image_ms,
            )
    return runners


def _official_runners(params, config, threads: int, embedding, original_size=None,
                      single_mask: bool = False) -> dict[str, tuple[Callable, None]]:
    """name -> (run(coords, labels), None) for Meta's torch modules and ONNX export (with
    ``original_size``: its ONNX export alone, resize included, ``official_onnx_runner``'s)."""
    try:
        import torch
        from official_runners import official_onnx_runner, official_torch_runner

        from samcore.conformance.official import build_official_sam
    except ImportError as exc:
        print(f"no official baselines: {exc}")
        return {}
    torch.set_num_threads(threads)
    sam = build_official_sam(config, GRID, params)

    def bind(runner):
        return lambda c, l: runner(embedding, *_with_padding(c, l)), None  # noqa: E741

    if original_size is not None:
        return {OFFICIAL_ONNX: bind(official_onnx_runner(sam, threads, original_size, single_mask))}
    return {"official torch modules": bind(official_torch_runner(sam)), OFFICIAL_ONNX: bind(
        official_onnx_runner(sam, threads))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per figure (a quarter of them for 64 prompts)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default="benchmarks/results/decoder.json", help="where to write the record")
    parser.add_argument("--only", nargs="+", metavar="TEXT", help="time only the decoders whose name contains one")
    args = parser.parse_args()

    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((1, config.embed_dim, GRID, GRID)).astype(np.float32)
    prompts = {batch: _prompts(batch, rng) for batch in BATCHES}
    peak = sgemm_gflops()
    gflop = decoder_gflop(config, GRID, tokens=config.num_mask_tokens + 1 + 2, masks=config.num_mask_tokens - 1)

    runners = _samcore_runners(params, config, embedding, args.only)
    runners |= _official_runners(params, config, args.threads, embedding)
    if args.only:
        runners = {name: runner for name, runner in runners.items() if any(text in name for text in args.only)}

    # Each decoder in turn, warm: a turn of another runtime would leave the caches cold and,
    # for ONNX Runtime and OpenMP, idle threads spinning on both cores (measured: single
    # clicks 1.5x slower, every decoder alike, when decoders take turns call by call).
    times: dict[str, dict[int, list[float]]] = {name: {} for name in runners}
    for name, (run, _) in runners.items():
        for batch in BATCHES:
            call = functools.partial(run, *prompts[batch])
            call()  # warm-up
            runs = args.runs if batch < 64 else max(3, args.runs // 4)
            times[name][batch] = [_seconds(call) * 1e3 / batch for _ in range(runs)]
    results = {}
    for name, (run, set_image_ms) in runners.items():
        row = {"set_image_ms": set_image_ms, **{str(batch): _stats(times[name][batch]) for batch in BATCHES}}
        if name.startswith("samcore numpy"):
            tracemalloc.start()
            run(*prompts[64])
            row["peak_numpy_mb_64_prompts"] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        if name.startswith(FAST_FORMULATION):
            row["gflops_1_prompt"] = gflop / (row["1"]["median_ms"] / 1e3)
        results[name] = row

    base = results.get(OFFICIAL_ONNX)
    print(f"\nViT-B decoder, ms per prompt: median (min-max) of {args.runs} runs ({max(3, args.runs // 4)} for 64), "
          f"{args.threads} threads; sgemm peak {peak:.0f} GFLOP/s; one click = {gflop:.2f} GFLOP (fast formulation)")
    header = f"{'decoder':<30}{'set_image':>10}"
    for b in BATCHES:
        header += f"{f'{b} prompt(s)':>24}{'vs ONNX':>8}"
    print(header + f"{'GFLOP/s':>9}{'% peak':>8}")
    for name, row in results.items():
        line = f"{name:<30}" + (f"{row['set_image_ms']:>8.1f}ms" if row["set_image_ms"] is not None else f"{'-':>10}")
        for b in BATCHES:
            r = row[str(b)]
            ratio = f"{r['median_ms'] / base[str(b)]['median_ms']:.2f}x" if base else "-"
            line += f"{r['median_ms']:>9.1f} ({r['min_ms']:.1f}-{r['max_ms']:.1f})".rjust(24) + f"{ratio:>8}"
        rate = row.get("gflops_1_prompt")
        print(line + (f"{rate:>9.0f}{100 * rate / peak:>7.0f}%" if rate else f"{'-':>9}{'-':>8}"))
    for name, row in results.items():
        if "peak_numpy_mb_64_prompts" in row:
            print(f"{name}: peak NumPy memory for 64 prompts {row['peak_numpy_mb_64_prompts']:.0f} MB")
    sizes = _model_file_mb(list(results))
    for name, mb in sizes.items():
        print(f"model file of {name}: {mb:.2f} MB")
    write_record(args.json, args.threads, peak,
                 {"runs": args.runs, "gflop_per_click": gflop, "results": results, "model_file_mb": sizes})


def write_record(path: str, threads: int, sgemm_peak: float, fields: dict) -> None:
    """Write ``fields`` and this machine's details as JSON to ``path``."""
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": threads,
               "numpy": np.__version__, "sgemm_gflops": sgemm_peak, "load_average": os.getloadavg()}
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, **fields}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
