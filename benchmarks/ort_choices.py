"""ONNX Runtime choices for the onnx backend's private graphs, timed as CPU time of one thread.

This host is shared and its wall-clock speed drifts by up to 2x; CPU time of the calling
thread (ONNX Runtime with one intra-op thread runs every node on it) moves much less.
Every variant runs in turns, round by round (2 untimed + ``--clicks`` timed runs a block);
a variant's figure is the median of its block medians, its ratio to the first variant of
its table is taken within each round.

Three tables. Nodes (two tables): ONNX Runtime's contrib operators against what the graphs emit, on one
node's worth of ViT-B-sized data (com.microsoft SkipLayerNormalization against Add +
LayerNormalization with its statistics; BiasGelu against Gelu, and the Gelu forms).
Clicks: one click of the ViT-B per-prompt graph (``export_fast_onnx``, random weights) as
exported, with the upscaling in other chunk sizes (``UPSCALE_CHUNK``), with the two
image-side residual Add + LayerNormalization pairs rewritten as SkipLayerNormalization,
with ``session.set_denormal_as_zero``, and Meta's official ONNX decoder for the ratio.

    python benchmarks/ort_choices.py [--rounds 8] [--clicks 8] [--json benchmarks/results/ort_choices.json]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from decoder import GRID, sgemm_gflops, write_record
from onnx import TensorProto, helper
from samcore_onnx import export_fast_onnx

from samcore.config import PRESETS
from samcore.graph.emitters import onnxruntime as ort_emitters
from samcore.random_weights import random_params

MS = "com.microsoft"


def session(model: onnx.ModelProto, optimize: bool = True, denormal_as_zero: bool = False) -> ort.InferenceSession:
    """One intra-op thread (runs on the calling thread), every optimisation unless ``optimize`` is False."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if denormal_as_zero:
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def cpu_ms(run: Callable[[], object], clicks: int) -> float:
    """Median thread CPU time of ``clicks`` runs after 2 untimed, ms."""
    for _ in range(2):
        run()
    times = []
    for _ in range(clicks):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1e3


def rounds(runs: dict[str, Callable[[], object]], n: int, clicks: int) -> dict[str, dict[str, float]]:
    """name -> median ms and median (min, max) ratio to the first name, over ``n`` interleaved rounds."""
    blocks: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(n):
        for name, run in runs.items():
            blocks[name].append(cpu_ms(run, clicks))
    first = blocks[next(iter(runs))]
    out = {}
    for name, ms in blocks.items():
        ratios = [a / b for a, b in zip(ms, first, strict=True)]
        out[name] = {"ms": statistics.median(ms), "ratio": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios)}
    return out


def one_node_model(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], params: dict[str, np.ndarray],
                   outputs: list[str]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "node", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [onnx.numpy_helper.from_array(v, k) for k, v in params.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def node_runs(rng: np.random.Generator) -> tuple[dict[str, Callable[[], object]], ...]:
    """The contrib operators against the graphs' nodes, on ViT-B-sized data: (norms, GELUs)."""
    x, skip = (rng.standard_normal((1, 4096, 256), dtype=np.float32) for _ in range(2))
    norm = {"gamma": rng.standard_normal(256, dtype=np.float32), "beta": rng.standard_normal(256, dtype=np.float32)}
    stats = ["y", "mean", "inv_std"]
    add_ln = one_node_model([helper.make_node("Add", ["x", "skip"], ["sum"]),
                             helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], stats, epsilon=1e-5)],
                            {"x": x, "skip": skip}, norm, stats)
    skip_ln = one_node_model([helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta"], stats,
                                               domain=MS, epsilon=1e-5)], {"x": x, "skip": skip}, norm, stats)
    g = rng.standard_normal((1, 65536, 32), dtype=np.float32)
    bias = {"bias": rng.standard_normal(32, dtype=np.float32)}
    gelu = one_node_model([helper.make_node("Gelu", ["g"], ["y"], domain=MS)], {"g": g}, {}, ["y"])
    bias_gelu = one_node_model([helper.make_node("BiasGelu", ["g", "bias"], ["y"], domain=MS)], {"g": g}, bias, ["y"])
    gelu20 = one_node_model([helper.make_node("Gelu", ["g"], ["y"])], {"g": g}, {}, ["y"])
    gelu20.opset_import[0].version = 20
    feeds, gelu_feed = {"x": x, "skip": skip}, {"g": g}
    norms = {
        "Add + LayerNormalization (stats) [1, 4096, 256], unoptimised": (session(add_ln, optimize=False), feeds),
        "  the same, ORT optimising (it fuses them to SkipLN)": (session(add_ln), feeds),
        "  com.microsoft SkipLayerNormalization (stats)": (session(skip_ln), feeds),
    }
    gelus = {
        "com.microsoft Gelu [1, 65536, 32] (the Erf pattern's fusion)": (session(gelu), gelu_feed),
        "  ONNX Gelu (opset 20)": (session(gelu20), gelu_feed),
        "  com.microsoft BiasGelu (bias + Gelu)": (session(bias_gelu), gelu_feed),
    }
    return tuple({name: functools.partial(s.run, None, feed) for name, (s, feed) in cases.items()}
                 for cases in (norms, gelus))


def with_skip_layer_norm(model: onnx.ModelProto) -> onnx.ModelProto:
    """The per-prompt graph with each Add feeding only a LayerNormalization that returns its
    statistics (the image-side residuals) rewritten as one SkipLayerNormalization."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}
    uses: dict[str, int] = {}
    for n in nodes:
        for name in n.input:
            uses[name] = uses.get(name, 0) + 1
    replaced, dropped = {}, set()
    for n in nodes:
        add = producer.get(n.input[0]) if n.op_type == "LayerNormalization" else None
        if add is None or add.op_type != "Add" or uses[n.input[0]] != 1 or len(n.output) != 3:
            continue
        eps = next(a.f for a in n.attribute if a.name == "epsilon")
        replaced[id(n)] = helper.make_node("SkipLayerNormalization", [*add.input, *n.input[1:]], list(n.output),
                                           domain=MS, epsilon=eps, name=f"skip_{n.name}")
        dropped.add(id(add))
    del model.graph.node[:]
    model.graph.node.extend(replaced.get(id(n), n) for n in nodes if id(n) not in dropped)
    model.opset_import.append(helper.make_opsetid(MS, 1))
    return model


def click_runs(rng: np.random.Generator, official: bool) -> dict[str, Callable[[], object]]:
    """One click of the per-prompt graph, variants of it, and (``official``) Meta's ONNX decoder."""
    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    embedding = rng.standard_normal((1, config.embed_dim, GRID, GRID), dtype=np.float32)
    coords, labels = np.array([[[300.0, 400.0], [0.0, 0.0]]], np.float32), np.array([[1, -1]], np.int64)

    def export(chunk: int) -> tuple[onnx.ModelProto, onnx.ModelProto]:
        default, ort_emitters.UPSCALE_CHUNK = ort_emitters.UPSCALE_CHUNK, chunk
        try:
            return export_fast_onnx(params, config, grid=(GRID, GRID))
        finally:
            ort_emitters.UPSCALE_CHUNK = default

    image, prompt = export(ort_emitters.UPSCALE_CHUNK)
    features = session(image)
    feed = dict(zip([o.name for o in features.get_outputs()], features.run(None, {"image_embedding": embedding}),
                    strict=True)) | {"point_coords": coords, "point_labels": labels}

    def run(model: onnx.ModelProto, **options: bool) -> Callable[[], object]:
        s = session(model, **options)
        names = {i.name for i in s.get_inputs()}
        return lambda: s.run(None, {k: v for k, v in feed.items() if k in names})

    runs = {f"per-prompt graph as exported (chunks of {ort_emitters.UPSCALE_CHUNK} tokens)": run(prompt)}
    for chunk in (GRID * GRID, 1024, 256):
        runs[f"  upscaling in chunks of {chunk} tokens"] = run(export(chunk)[1])
    runs["  image-side Add + LayerNormalization as SkipLayerNormalization"] = run(with_skip_layer_norm(prompt))
    runs["  session.set_denormal_as_zero"] = run(prompt, denormal_as_zero=True)
    if official:
        from decoder import _official_runners  # torch, segment-anything: only when asked

        meta = _official_runners(params, config, 1, embedding)
        if "official ONNX (SamOnnxModel)" in meta:
            runs["official ONNX decoder (SamOnnxModel)"] = lambda m=meta["official ONNX (SamOnnxModel)"][0]: m(
                coords[:, :1], labels[:, :1])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=8, help="timed runs per block")
    parser.add_argument("--no-official", action="store_true", help="leave Meta's ONNX decoder out (no torch needed)")
    parser.add_argument("--json", default="benchmarks/results/ort_choices.json", help="where to write the record")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    norms, gelus = node_runs(rng)
    tables = {"layer norms": rounds(norms, args.rounds, 3 * args.clicks),
              "gelus": rounds(gelus, args.rounds, 3 * args.clicks),
              "clicks": rounds(click_runs(rng, not args.no_official), args.rounds, args.clicks)}
    for title, table in tables.items():
        print(f"\n{title}: ms of CPU time (one thread), median over {args.rounds} rounds; ratio to the first row")
        for name, row in table.items():
            print(f"{name:<66}{row['ms']:>8.2f}{row['ratio']:>8.2f}x ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})")
    write_record(args.json, 1, sgemm_gflops(), {"rounds": args.rounds, "clicks": args.clicks, **tables})


if __name__ == "__main__":
    main()
