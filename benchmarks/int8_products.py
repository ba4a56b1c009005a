"""The large products of one click (ViT-B preset, one click: 7 tokens x 8 heads = 56 rows,
HW = 4096) alone in ONNX Runtime, float32 against int8, paired: what int8 buys each one.

Per product: float32 (``FusedMatMul``, a transposed first operand read in place); int8 with
both operands quantized at run time (``DynamicQuantizeLinear`` each, a uint8 transpose where
the click stores an operand transposed, ``MatMulIntegerToFloat``: what a product of two activations
needs); int8 with a constant int8 second operand, per-column scales (``DynamicQuantizeMatMul``:
only possible where the second operand is a weight). Rounds alternate the variants; each
ratio is taken within a round. Prints a table, writes JSON.

    python benchmarks/int8_products.py [--rounds 7] [--json benchmarks/results/int8_products.json]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics

import numpy as np
from decoder import _seconds, sgemm_gflops, write_record

#: name -> (M, K, N, which operand the click stores transposed: "A" as [K, M], "B" as [N, K], or "").
PRODUCTS = {
    "image update A^T u [4096,56]x[56,256]": (4096, 56, 256, "A"),
    "upscale_input L^T R [4096,116]x[116,256]": (4096, 116, 256, "A"),
    "scores g (X+PE)^T [56,256]x[256,4096]": (56, 256, 4096, "B"),
    "token->image A X [56,4096]x[4096,256]": (56, 4096, 256, ""),
    "second upscaling GEMM [16384,64]x[64,128]": (16384, 64, 128, ""),
}


def sessions(m: int, k: int, n: int, transposed: str, weight: np.ndarray) -> dict:
    """variant -> (an ONNX Runtime session computing op(A) [M, K] x op(B) [K, N] from input A
    (and B), whether it takes B); ``weight``: B [K, N] for the constant-weight variant."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    a_shape, b_shape = [k, m] if transposed == "A" else [m, k], [n, k] if transposed == "B" else [k, n]
    flip = [helper.make_node("Transpose", [f"{x}q"], [f"{x}qt"], perm=[1, 0]) for x in transposed]
    quantized = [f"{x}q{'t' * (x == transposed)}" for x in "AB"]
    peak = np.abs(weight).max(axis=0)
    scales = (peak / 127).astype(np.float32)
    stored = [numpy_helper.from_array(np.rint(weight / scales).astype(np.int8), "Wq"),
              numpy_helper.from_array(scales, "Ws")]
    graphs = {
        "float32": ([helper.make_node("FusedMatMul", ["A", "B"], ["Y"], domain="com.microsoft",
                                      transA=int(transposed == "A"), transB=int(transposed == "B"))], True, []),
        "int8, both quantized per run": ([
            helper.make_node("DynamicQuantizeLinear", ["A"], ["Aq", "As", "Az"]),
            helper.make_node("DynamicQuantizeLinear", ["B"], ["Bq", "Bs", "Bz"]), *flip,
            helper.make_node("MatMulIntegerToFloat", [*quantized, "As", "Bs", "Az", "Bz"], ["Y"],
                             domain="com.microsoft"),
        ], True, []),
        "int8, constant int8 B": ([
            *([helper.make_node("Transpose", ["A"], ["At"], perm=[1, 0])] if transposed == "A" else []),
            helper.make_node("DynamicQuantizeMatMul", ["At" if transposed == "A" else "A", "Wq", "Ws"], ["Y"],
                             domain="com.microsoft"),
        ], False, stored),
    }
    out = {}
    for name, (nodes, takes_b, initializers) in graphs.items():
        inputs = [helper.make_tensor_value_info("A", TensorProto.FLOAT, a_shape)]
        if takes_b:
            inputs.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, b_shape))
        graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                                  initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("com.microsoft", 1)])
        out[name] = (onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                  providers=["CPUExecutionProvider"]), takes_b)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per block (after 3 untimed)")
    parser.add_argument("--json", default="benchmarks/results/int8_products.json", help="where to write the record")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    results = {}
    print(f"{'product':<44}{'variant':<32}{'ms':>8}{'vs float32':>12}")
    for product, (m, k, n, transposed) in PRODUCTS.items():
        a = rng.random((k, m) if transposed == "A" else (m, k), dtype=np.float32)
        weight = rng.standard_normal((k, n), dtype=np.float32)
        b = np.ascontiguousarray(weight.T) if transposed == "B" else weight
        variants = sessions(m, k, n, transposed, weight)
        blocks = collections.defaultdict(list)
        for _ in range(args.rounds):
            for name, (session, takes_b) in variants.items():
                feed = {"A": a, "B": b} if takes_b else {"A": a}
                for _ in range(3):
                    session.run(None, feed)
                blocks[name].append(statistics.median(
                    _seconds(lambda s=session, f=feed: s.run(None, f)) * 1e3 for _ in range(args.runs)))
        results[product] = {}
        for name, ms in blocks.items():
            ratio = statistics.median(x / y for x, y in zip(ms, blocks["float32"], strict=True))
            results[product][name] = {"block_median_ms": ms, "ratio_to_float32": ratio}
            print(f"{product:<44}{name:<32}{statistics.median(ms):>8.3f}{ratio:>11.2f}x")
    write_record(args.json, os.cpu_count() or 1, sgemm_gflops(), {"rounds": args.rounds, "products": results})


if __name__ == "__main__":
    main()
