"""Accuracy of the reduced-precision decoders against the float32 spec.

Variants: TFLite float16 weights and TFLite int8 dynamic range (``samcore_tflite``),
``OnnxBackend``'s int8 dtype (``samcore_onnx.quantize``: the per-prompt graph's products
over the image tokens in int8), and ONNX int8 dynamic range
(``onnxruntime.quantization.quantize_dynamic``, int8 per-channel weights, on samcore's
exported ONNX graph). Prompts: hypothesis-drawn conformance cases
(``samcore.conformance.strategies.case_recipes``: 1-16 points labelled -1/0/1, boxes,
mask inputs, both multimask settings) on the kit's "vit_b" and "tiny" configs with its
seeded random weights, each prompt against the spec on the same prompts.

Per variant and config: binarised-mask IoU (logits > 0) against the spec's, mean and
worst; |IoU score - spec| mean and max; max |logit - spec|. Also the largest error that
``atol + rtol * |spec|`` must cover, for declaring tolerances. Prints a table, writes JSON.

    python benchmarks/quantization_accuracy.py [--cases 40] [--only "samcore onnx int8"]
                                               [--json benchmarks/results/quantization_accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings

from samcore import Decoder
from samcore.conformance.checks import decoder, spec_outputs
from samcore.conformance.strategies import CONFIGS, Case, case_recipes
from samcore.spec.mask_decoder import select_masks
from samcore.spec.prompt_encoder import gather_point_prompts

Runner = Callable[[Case], tuple[np.ndarray, np.ndarray]]
#: rtol of the declared tolerances: the atol a variant needs is reported for it.
RTOL = {"low_res_logits": 0.05, "iou_predictions": 0.05}
#: Variant name -> (samcore backend, dtype) of the variants that are samcore backends.
PORTS = {"tflite float16": ("tflite", "float16"), "tflite int8": ("tflite", "int8"),
         "samcore onnx int8": ("onnx", "int8")}
QUANTIZE_DYNAMIC = "onnx int8 (quantize_dynamic)"


def draw(config: str, count: int) -> list:
    """``count`` reproducible conformance recipes for ``config`` (batches of 1-2 prompts)."""
    recipes = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case_recipes(config, max_batch=2))
    def collect(recipe) -> None:
        recipes.append(recipe)

    collect()
    return recipes[:count]


def onnx_int8_runner(config: str, folder: pathlib.Path) -> Runner:
    """samcore's ONNX graphs quantized by onnxruntime's quantize_dynamic, run on the CPU."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from samcore_onnx import export_onnx

    port = decoder("numpy", config)
    side = CONFIGS[config][1]
    sessions = {}
    for mask in (False, True):
        source, target = folder / f"{config}-{mask}.onnx", folder / f"{config}-{mask}-int8.onnx"
        export_onnx(port.params, port.config, source, grid=(side, side), with_mask_input=mask)
        quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8)
        sessions[mask] = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])

    def run(case: Case) -> tuple[np.ndarray, np.ndarray]:
        if case.point_coords is None and case.boxes is None:
            coords, labels = np.zeros((case.batch, 0, 2), np.float32), np.zeros((case.batch, 0), np.int64)
        else:
            coords, labels = gather_point_prompts(case.point_coords, case.point_labels, case.boxes)
        feed = {"image_embedding": case.image_embedding, "point_coords": coords, "point_labels": labels}
        if case.mask_input is not None:
            feed["mask_input"] = case.mask_input
        masks, iou = sessions[case.mask_input is not None].run(None, feed)
        return select_masks(masks, iou, case.multimask_output)

    return run


def port_runner(backend: str, dtype: str, config: str) -> Runner:
    """A samcore backend in a reduced-precision dtype, through ``Decoder.predict``."""
    port = decoder(backend, config, dtype)

    def run(case: Case) -> tuple[np.ndarray, np.ndarray]:
        out = port.predict(**case.kwargs())
        return out.low_res_logits, out.iou_predictions

    return run


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of binarised masks [..., H, W] (1 where both are empty)."""
    a, b = a > 0, b > 0
    union = (a | b).sum(axis=(-2, -1))
    return np.where(union > 0, (a & b).sum(axis=(-2, -1)) / np.maximum(union, 1), 1.0)


_SPEC: dict[tuple[str, object], tuple[np.ndarray, np.ndarray]] = {}


def _spec(reference: Decoder, recipe, case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The spec's outputs on ``reference``'s weights, computed once per recipe."""
    key = (reference.backend.name, recipe)
    if key not in _SPEC:
        _SPEC[key] = spec_outputs(reference, case)
    return _SPEC[key]


def measure(run: Runner, reference: Decoder, recipes: list) -> dict:
    """The metrics of one variant over ``recipes``, against the spec on the same prompts
    (with ``reference``'s weights)."""
    ious, score_errors, logit_errors, needed = [], [], [], {k: 0.0 for k in RTOL}
    for recipe in recipes:
        case = recipe.build()
        logits, scores = run(case)
        spec_logits, spec_scores = _spec(reference, recipe, case)
        ious.extend(mask_iou(logits, spec_logits).ravel())
        score_errors.extend(np.abs(scores - spec_scores).ravel())
        logit_errors.append(float(np.abs(logits - spec_logits).max()))
        for name, got, want in (("low_res_logits", logits, spec_logits), ("iou_predictions", scores, spec_scores)):
            atol = np.abs(got - want) - RTOL[name] * np.abs(want)
            needed[name] = max(needed[name], float(atol.max()))
    return {
        "masks": len(ious), "mask_iou_mean": float(np.mean(ious)), "mask_iou_worst": float(np.min(ious)),
        "iou_score_error_mean": float(np.mean(score_errors)), "iou_score_error_max": float(np.max(score_errors)),
        "max_logit_error": float(np.max(logit_errors)),
        "atol_needed_at_rtol": {k: {"rtol": RTOL[k], "atol": v} for k, v in needed.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40, help="drawn cases per config (vit_b: half as many)")
    parser.add_argument("--only", nargs="+", metavar="TEXT", help="variants whose name contains one (default: all)")
    parser.add_argument("--json", default="benchmarks/results/quantization_accuracy.json")
    args = parser.parse_args()

    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for config, count in (("vit_b", max(1, args.cases // 2)), ("tiny", args.cases)):
            recipes = draw(config, count)
            for name in (*PORTS, QUANTIZE_DYNAMIC):
                if args.only and not any(text in name for text in args.only):
                    continue
                if name in PORTS:
                    run, reference = port_runner(*PORTS[name], config), decoder(PORTS[name][0], config, PORTS[name][1])
                else:
                    run, reference = onnx_int8_runner(config, pathlib.Path(folder)), decoder("numpy", config)
                results.setdefault(name, {})[config] = measure(run, reference, recipes)
                print(f"measured {name} on {config}")

    header = (f"{'variant':<30}{'config':<8}{'masks':>8}{'mask IoU mean':>15}{'worst':>8}"
              f"{'IoU-score err mean':>20}{'max':>8}{'max logit err':>15}")
    print("\n" + header)
    for name, by_config in results.items():
        for config, r in by_config.items():
            print(f"{name:<30}{config:<8}{r['masks']:>8}{r['mask_iou_mean']:>15.4f}{r['mask_iou_worst']:>8.4f}"
                  f"{r['iou_score_error_mean']:>20.5f}{r['iou_score_error_max']:>8.4f}{r['max_logit_error']:>15.4f}")
    out = pathlib.Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cases_per_config": {"vit_b": max(1, args.cases // 2), "tiny": args.cases},
                               "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
