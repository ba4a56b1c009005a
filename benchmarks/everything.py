"""Everything mode: samcore's MaskGenerator beside Meta's SamAutomaticMaskGenerator.

The ViT-B preset's decoder with seeded random weights, a 600x900 picture, one seeded
random image embedding per crop given to both (the image encoder is left out: both
generators receive the embedding instead of encoding, so what is timed is the decode
and postprocess stage). Meta's runs its torch modules on the CPU; samcore's runs on its
``auto`` decoder backend. Random weights give few masks above Meta's default thresholds,
so both get the same lowered ones (below) and keep masks to filter, deduplicate and encode.
Each run is its own process (peak RSS per run, ``ru_maxrss``, and its rise over the
process before ``generate``); runs alternate samcore / Meta, as the shared host drifts.
samcore scores every prompt first (``Decoder.predict_iou``) and decodes masks only for the
prompts with a mask past ``pred_iou_thresh``; the table says how many that was. A run
past ``--timeout`` seconds is stopped and shown as such. Prints a table, writes JSON.

    python benchmarks/everything.py [--rounds 2] [--points-per-side 32] [--prompts-per-run 16]
                                    [--timeout 3600] [--json benchmarks/results/everything.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types

import numpy as np
from decoder import sgemm_gflops, write_record

from samcore.config import PRESETS
from samcore.everything.generator import PROMPTS_PER_RUN
from samcore.random_weights import random_params
from samcore.transforms import preprocess_shape

IMAGE_SIZE = (600, 900)
GRID = 64
#: Lowered thresholds (same for both): random weights' predicted IoUs and stability
#: scores sit far below Meta's 0.88 / 0.95.
THRESHOLDS = dict(pred_iou_thresh=0.5, stability_score_thresh=0.05)
SETTINGS = {
    "no crops": dict(crop_n_layers=0),
    "one crop layer": dict(crop_n_layers=1, crop_n_points_downscale_factor=2),
}


def _embedding(crop_size: tuple[int, ...]) -> np.ndarray:
    """The seeded random embedding [1, 256, 64, 64] both generators get for a crop."""
    seed = int(np.prod(crop_size)) % (2**31)
    return np.random.default_rng(seed).standard_normal((1, 256, GRID, GRID), dtype=np.float32)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _samcore_generator(params, config, kwargs, decoded):
    from samcore import Decoder, MaskGenerator

    class GivenEmbedding:
        def encode(self, image):
            return types.SimpleNamespace(features=_embedding(image.shape[:2]))

    decoder = Decoder(params, config)
    predict = decoder.predict

    def counting_predict(**call):
        decoded.append(len(call["point_coords"]))
        return predict(**call)

    decoder.predict = counting_predict
    predictor = types.SimpleNamespace(decoder=decoder, encoder=GivenEmbedding())
    return MaskGenerator(predictor, progress=False, **kwargs), decoder.backend.name


def _meta_generator(params, config, kwargs, decoded):
    import torch

    from samcore.conformance.official import build_official_sam, official_mask_generator_class

    generator = official_mask_generator_class()(build_official_sam(config, GRID, params), **kwargs)
    predictor = generator.predictor

    def set_image(image, image_format="RGB"):
        predictor.reset_image()
        predictor.original_size = image.shape[:2]
        predictor.input_size = preprocess_shape(image.shape[:2], 16 * GRID)
        predictor.features = torch.from_numpy(_embedding(image.shape[:2]))
        predictor.is_image_set = True

    predictor.set_image = set_image
    return generator, "torch (Meta's modules)"


def run_one(side: str, setting: str, points_per_side: int, prompts_per_run: int | None, thresholds: dict) -> dict:
    """One generate() in this process: seconds, masks, peak RSS, prompts whose masks were decoded."""
    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    kwargs = dict(points_per_side=points_per_side, **thresholds, **SETTINGS[setting])
    decoded = []
    if side == "samcore":
        generator, backend = _samcore_generator(params, config, kwargs | {"prompts_per_run": prompts_per_run}, decoded)
    else:
        generator, backend = _meta_generator(params, config, kwargs, decoded)
    image = np.random.default_rng(1).integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
    before = _rss_mb()
    start = time.perf_counter()
    records = generator.generate(image)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    prompts = sum(len(g) * 4**layer for layer, g in enumerate(generator.point_grids))
    return {"seconds": seconds, "masks": len(records), "peak_rss_mb": peak, "rss_rise_mb": peak - before,
            "backend": backend, "prompts": prompts, "prompts_decoded": sum(decoded) if decoded else prompts}


def _row(setting: str, res: dict, timeout: float) -> str:
    """One table row; a side none of whose runs finished shows as stopped."""
    done = {side: [r for r in runs if r] for side, runs in res["runs"].items()}
    if not done["samcore"] or not done["meta"]:
        return f"| {setting} | " + " | ".join(
            f"{statistics.median(r['seconds'] for r in done[side]):.1f}" if done[side] else f"stopped at {timeout:.0f}"
            for side in ("samcore", "meta")) + " | - | - | - | - |"
    s, m, ratios = done["samcore"], done["meta"], res["speedup_per_round"]
    seconds = [statistics.median(r["seconds"] for r in side) for side in (s, m)]
    speedup = f"{res['speedup_median']:.1f}x ({min(ratios):.1f}-{max(ratios):.1f})" if ratios else "-"
    memory = " / ".join(f"{max(r['peak_rss_mb'] for r in side):.0f} ({max(r['rss_rise_mb'] for r in side):.0f})"
                        for side in (s, m))
    return (f"| {setting} | {seconds[0]:.1f} | {seconds[1]:.1f} | {speedup} | {s[0]['masks']} / {m[0]['masks']} | "
            f"{s[0]['prompts_decoded']} / {s[0]['prompts']} | {memory} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=list(SETTINGS), help="settings to run")
    parser.add_argument("--prompts-per-run", type=int, default=PROMPTS_PER_RUN,
                        help="samcore's MaskGenerator(prompts_per_run=); 0: the backend's choice")
    parser.add_argument("--pred-iou-thresh", type=float, default=THRESHOLDS["pred_iou_thresh"],
                        help="both generators' pred_iou_thresh; 0: every prompt's masks are decoded (no prompt "
                        "is skipped by samcore's scoring first: its worst case)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a run may take before it is stopped")
    parser.add_argument("--json", default="benchmarks/results/everything.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    thresholds = THRESHOLDS | {"pred_iou_thresh": args.pred_iou_thresh}
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1], args.points_per_side, args.prompts_per_run or None,
                                 thresholds)))
        return
    results = {}
    for setting in args.only:
        runs = {"samcore": [], "meta": []}
        for r in range(args.rounds):
            for side in ("samcore", "meta"):
                cmd = [sys.executable, __file__, "--points-per-side", str(args.points_per_side),
                       "--prompts-per-run", str(args.prompts_per_run), "--pred-iou-thresh", str(args.pred_iou_thresh),
                       "--child", side, setting]
                try:
                    done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    print(f"{setting}, round {r + 1}, {side}: stopped after {args.timeout:.0f} s", flush=True)
                    runs[side].append(None)
                    continue
                out = json.loads(done.stdout)
                runs[side].append(out)
                print(f"{setting}, round {r + 1}, {side}: {out['seconds']:.1f} s, {out['masks']} masks, "
                      f"masks decoded for {out['prompts_decoded']} of {out['prompts']} prompts, "
                      f"peak RSS {out['peak_rss_mb']:.0f} MB", flush=True)
        ratios = [m["seconds"] / s["seconds"] for s, m in zip(runs["samcore"], runs["meta"], strict=True) if s and m]
        results[setting] = {"runs": runs, "speedup_per_round": ratios,
                            "speedup_median": statistics.median(ratios) if ratios else None}
    print(f"\n{args.points_per_side}x{args.points_per_side} points, {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} image, "
          f"ViT-B decoder (random weights), encoder excluded, {thresholds}, samcore prompts_per_run="
          f"{args.prompts_per_run or 'backend'}")
    print("| setting | samcore s (median) | Meta s (median) | speed-up, median of rounds (min-max) | masks "
          "samcore / Meta | prompts decoded by samcore / all | peak RSS MB samcore / Meta (rise during generate) |")
    print("|---|---|---|---|---|---|---|")
    for setting, res in results.items():
        print(_row(setting, res, args.timeout))
    fields = {"image_size": IMAGE_SIZE, "points_per_side": args.points_per_side, "thresholds": thresholds,
              "settings": SETTINGS, "prompts_per_run": args.prompts_per_run or None, "results": results}
    write_record(args.json, int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())), sgemm_gflops(), fields)


if __name__ == "__main__":
    main()
