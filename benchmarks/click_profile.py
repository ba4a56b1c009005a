"""Where one click's time goes in the ONNX backend's per-prompt graph, per dtype (ONNX Runtime's profiler).

The same weights, embedding and click as ``click_pairs.py``. For each dtype of ``OnnxBackend``
(float32, int8): the per-prompt graph the backend runs (from its cache) in a session with
the backend's options and profiling on, fed ``set_image``'s features, the dtypes in turns
(a block of clicks each per round, as ``click_pairs.py``); kernel time summed per operator
type over all clicks (the first, warm-up ones included), and grouped: products (MatMul, FusedMatMul, Gemm and the
int8 ones), run-time quantization, and the rest (norms, activations, elementwise, layout).
Shares are what to read on a shared host: absolute times move with its load.

    python benchmarks/click_profile.py [--rounds 10] [--clicks 5] [--json benchmarks/results/click_profile.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import tempfile
from typing import Any

import numpy as np
from decoder import one_click, sgemm_gflops, write_record

from samcore import Decoder
from samcore.inputs import check_prompts

#: Operator type -> group.
PRODUCTS = ("MatMul", "FusedMatMul", "Gemm", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul")
QUANTIZATION = ("DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear")
DTYPES = ("float32", "int8")


def group(op: str) -> str:
    """An operator type's group: "products", "quantization" or "other"."""
    return "products" if op in PRODUCTS else "quantization" if op in QUANTIZATION else "other"


def click_session(decoder: Decoder, embedding: np.ndarray, coords: np.ndarray, labels: np.ndarray,
                  folder: str) -> tuple[Any, dict[str, np.ndarray]]:
    """A profiling session on the decoder's per-prompt graph (its cached file, the backend's
    options) and the feed of one click on ``set_image``'s features."""
    import onnxruntime
    from samcore_onnx.backend import session_options

    backend = decoder.backend
    decoder.set_image(embedding)
    decoder.predict(point_coords=coords, point_labels=labels)  # creates the per-prompt session
    path = next(p for key, p in backend.model_files().items() if key[1] is not None)
    grid = embedding.shape[-2:]
    prompts = check_prompts(coords, labels, None, None, grid, decoder.config.frame_size(grid))
    feed = dict(zip(("point_coords", "point_labels"), prompts.labelled_points(), strict=True))
    feed |= {name: value.numpy() for name, value in backend.run_image(embedding).items()}
    options = session_options()
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(folder, decoder.backend.dtype)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]), feed


def per_op(events: list[dict], runs: int) -> dict[str, dict[str, float]]:
    """op type -> {"ms": kernel ms per click, "nodes": nodes per click} from a profile's events."""
    times, nodes = collections.Counter(), collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            times[event["args"]["op_name"]] += event["dur"]
            nodes[event["args"]["op_name"]] += 1
    return {op: {"ms": us / runs / 1e3, "nodes": nodes[op] / runs} for op, us in times.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="rounds; each profiles a block of clicks per dtype")
    parser.add_argument("--clicks", type=int, default=5, help="clicks per block")
    parser.add_argument("--json", default="benchmarks/results/click_profile.json", help="where to write the record")
    args = parser.parse_args()

    config, params, embedding, coords, labels = one_click()
    peak = sgemm_gflops()
    with tempfile.TemporaryDirectory() as folder:
        sessions = {dtype: click_session(Decoder(params, config, backend="onnx", device="cpu", dtype=dtype),
                                         embedding, coords, labels, folder) for dtype in DTYPES}
        for _ in range(args.rounds):  # the dtypes in turns, so the host's drift reaches both alike
            for session, feed in sessions.values():
                for _ in range(args.clicks):
                    session.run(None, feed)
        runs = args.rounds * args.clicks
        results = {dtype: per_op(json.loads(pathlib.Path(session.end_profiling()).read_text()), runs)
                   for dtype, (session, _) in sessions.items()}

    for dtype, ops in results.items():
        total = sum(row["ms"] for row in ops.values())
        groups = collections.Counter()
        for op, row in ops.items():
            groups[group(op)] += row["ms"]
        print(f"\nsamcore onnx {dtype}: {total:.2f} ms of kernels per click (sgemm peak {peak:.0f} GFLOP/s now); "
              + ", ".join(f"{name} {100 * ms / total:.0f}%" for name, ms in groups.most_common()))
        print(f"{'operator':<26}{'ms/click':>10}{'share':>8}{'nodes':>7}")
        for op, row in ops.items():
            print(f"{op:<26}{row['ms']:>10.2f}{100 * row['ms'] / total:>7.1f}%{row['nodes']:>7.0f}")
    write_record(args.json, os.cpu_count() or 1, peak, {"rounds": args.rounds, "clicks": args.clicks,
                                                         "per_op": results})


if __name__ == "__main__":
    main()
