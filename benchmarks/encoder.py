"""Image encoder speed: samcore's encoder backends against Meta's ImageEncoderViT, one run.

The ViT-B preset at its 1024 frame, seeded random weights (the architecture, not the
values, sets the cost), one preprocessed random image. Encoders: every available samcore
encoder backend and dtype (``samcore.encoders``; the numpy spec only with ``--numpy``),
Meta's ``ImageEncoderViT`` in torch (inference mode) and Meta's encoder exported to ONNX
(legacy exporter, ``dynamo=False``, opset 17) run in ONNX Runtime. The encoders take
turns within each round (the shared host's slow spells fall on all alike): seconds per
image, median/min/max over the rounds, each round's ratio to Meta's ONNX (median of
those), GFLOP/s against this machine's sgemm peak (NumPy matmul, measured here), the
peak memory of one encode (in a fresh process per encoder: its peak RSS above the RSS
once the encoder is built), and for reduced precisions the embedding error and mask
agreement against samcore's float32.

    python benchmarks/encoder.py [--rounds 3] [--threads 2] [--json benchmarks/results/encoder.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from decoder import sgemm_gflops, write_record

from samcore import Decoder, Encoder
from samcore.config import ENCODER_PRESETS, PRESETS, EncoderConfig
from samcore.random_weights import random_encoder_params, random_params
from samcore.registry import ENCODERS

META_ONNX = "Meta ONNX (legacy export)"
META_TORCH = "Meta torch"
#: Reduced precisions are compared with this runner's embedding.
REFERENCE = "samcore onnx float32"
#: Combinations not timed, and why.
SKIPPED = {("torch", "float16"): "float16 on a CPU without AVX512-FP16 has no fast kernels in torch"}


def encoder_gflop(config: EncoderConfig) -> float:
    """GFLOP of one image as Meta computes it (multiply-adds x 2): patch embedding, per block
    qkv / attention / proj on the tokens it attends over (windows padded to whole windows),
    the MLP, and the neck's 1x1 and 3x3 convolutions."""
    g, d, c = config.grid_size, config.embed_dim, config.out_chans
    macs = g * g * d * 3 * config.patch_size**2
    for i in range(config.depth):
        side = config.block_attention_size(i)
        tokens = (-(-g // side) * side) ** 2  # padded to whole windows
        macs += tokens * 4 * d * d + tokens * side * side * 2 * d  # qkv + proj, q k^T + a v
        if config.use_rel_pos:
            macs += tokens * 2 * side * config.head_dim * config.num_heads  # the decomposed rel-pos terms
        macs += g * g * 2 * d * config.mlp_dim
    macs += g * g * (d * c + 9 * c * c)
    return 2 * macs / 1e9


def _status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM: the peak since the last reset), in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(f"{field}:"))


def peak_memory_mb(name: str, threads: int) -> float:
    """MB of peak RSS above the built encoder's RSS while it encodes one image, in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--memory-child", name, "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def _memory_child(name: str, threads: int, images: np.ndarray, params, config) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = _build(params, config, threads, folder, [name])[name]
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: the peak RSS (VmHWM) restarts from the current RSS
        before = _status_bytes("VmRSS")
        run(images)
        peak = _status_bytes("VmHWM")
    print(json.dumps({"peak_mb": (peak - before) / 1e6}))


def _samcore_runners(params, config, only) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    runners = {}
    for row in ENCODERS.list():
        if row.name == "numpy" and "numpy" not in only:
            continue
        if not row.availability.available:
            print(f"skipping {row.name}: {row.availability.reason}")
            continue
        for dtype in row.dtypes:
            if (row.name, dtype) in SKIPPED:
                print(f"skipping {row.name} {dtype}: {SKIPPED[row.name, dtype]}")
                continue
            name = f"samcore {row.name} {dtype}"
            if only and not any(text in name for text in only):
                continue
            encoder = Encoder(params, config, backend=row.name, device="cpu", dtype=dtype)
            getattr(encoder.backend, "session", None)  # ONNX Runtime: open the session now
            runners[name] = encoder.encode_images
    return runners


def _meta_runners(params, config, threads: int, folder: str, only) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    if only and not any(text in name for text in only for name in (META_TORCH, META_ONNX)):
        return {}
    try:
        import onnxruntime
        import torch

        from samcore.conformance.official import build_official_image_encoder
    except ImportError as exc:
        print(f"no Meta baselines: {exc}")
        return {}
    torch.set_num_threads(threads)
    module = build_official_image_encoder(config, params)

    def run_torch(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(images)).numpy()

    path = os.path.join(folder, "meta_image_encoder.onnx")
    size = config.img_size
    torch.onnx.export(module, (torch.zeros(1, 3, size, size),), path, input_names=["images"],
                      output_names=["image_embeddings"], opset_version=17, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return {META_TORCH: run_torch, META_ONNX: lambda images: session.run(None, {"images": images})[0]}


def mask_agreement(reference: np.ndarray, other: np.ndarray, prompts: int = 32) -> float:
    """Mean IoU of the decoder's masks (logits > 0, 3 per prompt, random clicks, ViT-B decoder with
    seeded random weights) on ``other``'s embedding against ``reference``'s."""
    decoder = Decoder(random_params(PRESETS["sam_vit_b"], seed=0), PRESETS["sam_vit_b"], backend="numpy")
    coords = (np.random.default_rng(1).random((prompts, 1, 2)) * 1024).astype(np.float32)
    labels = np.ones((prompts, 1), np.int64)
    masks = [decoder.predict(e, point_coords=coords, point_labels=labels).low_res_logits > 0
             for e in (reference, other)]
    inter = (masks[0] & masks[1]).sum(axis=(-2, -1))
    union = (masks[0] | masks[1]).sum(axis=(-2, -1))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def _build(params, config, threads: int, folder: str, only) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Encoder name -> encode(images), built (weights loaded, sessions open), those matching ``only``."""
    runners = _samcore_runners(params, config, only) | _meta_runners(params, config, threads, folder, only)
    return {name: run for name, run in runners.items() if not only or any(text in name for text in only)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (each encoder once per round)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default="benchmarks/results/encoder.json", help="where to write the record")
    parser.add_argument("--only", nargs="+", metavar="TEXT", default=[],
                        help="time only the encoders whose name contains one ('numpy' adds the spec)")
    parser.add_argument("--memory-child", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    config = ENCODER_PRESETS["sam_vit_b"]
    params = random_encoder_params(config, seed=0)
    size = config.img_size
    images = np.zeros((1, 3, size, size), np.float32)
    images[:, :, : size * 3 // 4] = np.random.default_rng(0).standard_normal((1, 3, size * 3 // 4, size))
    if args.memory_child:
        _memory_child(args.memory_child, args.threads, images, params, config)
        return
    peak = sgemm_gflops()
    gflop = encoder_gflop(config)

    with tempfile.TemporaryDirectory() as folder:
        runners = _build(params, config, args.threads, folder, args.only)
        outputs = {name: run(images) for name, run in runners.items()}  # warm-up: first-touch allocations
        times: dict[str, list[float]] = {name: [] for name in runners}
        for r in range(args.rounds):
            for name, run in runners.items():
                start = time.perf_counter()
                run(images)
                times[name].append(time.perf_counter() - start)
            print(f"round {r + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
        names = list(runners)
        del runners  # every encoder's weights and arenas (~10 GB at ViT-B) before the memory processes
    memory = {name: peak_memory_mb(name, args.threads) for name in names}

    results = {}
    for name, seconds in times.items():
        row = {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
               "gflops": gflop / statistics.median(seconds), "peak_memory_mb": memory[name]}
        if META_ONNX in times:
            row["vs_meta_onnx"] = statistics.median(m / s for m, s in zip(times[META_ONNX], seconds, strict=True))
        if META_TORCH in times:
            row["vs_meta_torch"] = statistics.median(m / s for m, s in zip(times[META_TORCH], seconds, strict=True))
        if name != REFERENCE and REFERENCE in outputs:
            ref, out = outputs[REFERENCE], outputs[name]
            rms = float(np.sqrt(np.mean(np.square(ref, dtype=np.float64))))
            row["embedding_error_max_rms"] = float(np.abs(out - ref).max()) / rms
            row["embedding_error_rms_rms"] = float(np.sqrt(np.mean(np.square(out - ref, dtype=np.float64)))) / rms
            if not name.endswith("float32") and name.startswith("samcore"):
                row["mask_iou_vs_float32"] = mask_agreement(ref, out)
        results[name] = row

    print(f"\nViT-B image encoder at {size}, seconds per image: median (min-max) of {args.rounds} rounds, "
          f"{args.threads} threads; sgemm peak {peak:.0f} GFLOP/s; one image = {gflop:.0f} GFLOP")
    print(f"{'encoder':<28}{'s/image':>22}{'x Meta ONNX':>12}{'x Meta torch':>13}{'GFLOP/s':>9}{'% peak':>8}"
          f"{'peak MB':>9}{'err/RMS':>9}{'mask IoU':>9}")
    for name, row in results.items():
        timing = f"{row['median_s']:.2f} ({row['min_s']:.2f}-{row['max_s']:.2f})"
        error = f"{row['embedding_error_max_rms']:.1e}" if "embedding_error_max_rms" in row else "-"
        iou = f"{row['mask_iou_vs_float32']:.3f}" if "mask_iou_vs_float32" in row else "-"
        rate = f"{row['gflops']:>9.0f}{100 * row['gflops'] / peak:>7.0f}%"
        print(f"{name:<28}{timing:>22}{row.get('vs_meta_onnx', float('nan')):>11.2f}x"
              f"{row.get('vs_meta_torch', float('nan')):>12.2f}x{rate}"
              f"{row['peak_memory_mb']:>9.0f}{error:>9}{iou:>9}")
    write_record(args.json, args.threads, peak, {"rounds": args.rounds, "gflop_per_image": gflop, "results": results})


if __name__ == "__main__":
    main()
