"""Everything mode: samcore's MaskGenerator beside Meta's SamAutomaticMaskGenerator.

The ViT-B preset's decoder with seeded random weights, a 600x900 picture, one seeded
random image embedding per crop given to both (the image encoder is left out: both
generators receive the embedding instead of encoding, so what is timed is the decode
and postprocess stage). Meta's runs its torch modules on the CPU; samcore's runs on its
``auto`` decoder backend. Random weights give few masks above Meta's default thresholds,
so both get the same lowered ones (below) and keep masks to filter, deduplicate and encode.
Each run is its own process (peak RSS per run, ``ru_maxrss``, and its rise over the
process before ``generate``); runs alternate samcore / Meta, as the shared host drifts.
Prints a table, writes JSON.

    python benchmarks/everything.py [--rounds 2] [--points-per-side 32] [--json benchmarks/results/everything.json]
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


def _samcore_generator(params, config, kwargs):
    from samcore import Decoder, MaskGenerator

    class GivenEmbedding:
        def encode(self, image):
            return types.SimpleNamespace(features=_embedding(image.shape[:2]))

    predictor = types.SimpleNamespace(decoder=Decoder(params, config), encoder=GivenEmbedding())
    return MaskGenerator(predictor, progress=False, **kwargs), predictor.decoder.backend.name


def _meta_generator(params, config, kwargs):
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


def run_one(side: str, setting: str, points_per_side: int) -> dict:
    """One generate() in this process: seconds, masks, peak RSS."""
    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    kwargs = dict(points_per_side=points_per_side, **THRESHOLDS, **SETTINGS[setting])
    build = _samcore_generator if side == "samcore" else _meta_generator
    generator, backend = build(params, config, kwargs)
    image = np.random.default_rng(1).integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
    before = _rss_mb()
    start = time.perf_counter()
    records = generator.generate(image)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "masks": len(records), "peak_rss_mb": peak, "rss_rise_mb": peak - before,
            "backend": backend}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=list(SETTINGS), help="settings to run")
    parser.add_argument("--json", default="benchmarks/results/everything.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1], args.points_per_side)))
        return
    results = {}
    for setting in args.only:
        runs = {"samcore": [], "meta": []}
        for r in range(args.rounds):
            for side in ("samcore", "meta"):
                cmd = [sys.executable, __file__, "--points-per-side", str(args.points_per_side), "--child", side,
                       setting]
                out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                runs[side].append(out)
                print(f"{setting}, round {r + 1}, {side}: {out['seconds']:.1f} s, {out['masks']} masks, "
                      f"peak RSS {out['peak_rss_mb']:.0f} MB", flush=True)
        ratios = [m["seconds"] / s["seconds"] for s, m in zip(runs["samcore"], runs["meta"], strict=True)]
        results[setting] = {"runs": runs, "speedup_per_round": ratios, "speedup_median": statistics.median(ratios)}
    print(f"\n{args.points_per_side}x{args.points_per_side} points, {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} image, "
          f"ViT-B decoder (random weights), encoder excluded, {THRESHOLDS}")
    print("| setting | samcore s (median) | Meta s (median) | speed-up, median of rounds (min-max) | masks "
          "samcore / Meta | peak RSS MB samcore / Meta (rise during generate) |")
    print("|---|---|---|---|---|---|")
    for setting, res in results.items():
        s, m = res["runs"]["samcore"], res["runs"]["meta"]
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in (("s", s), ("m", m))}
        print(f"| {setting} | {med['s']:.1f} | {med['m']:.1f} | {res['speedup_median']:.1f}x "
              f"({min(res['speedup_per_round']):.1f}-{max(res['speedup_per_round']):.1f}) | "
              f"{s[0]['masks']} / {m[0]['masks']} | {max(r['peak_rss_mb'] for r in s):.0f} "
              f"({max(r['rss_rise_mb'] for r in s):.0f}) / {max(r['peak_rss_mb'] for r in m):.0f} "
              f"({max(r['rss_rise_mb'] for r in m):.0f}) |")
    fields = {"image_size": IMAGE_SIZE, "points_per_side": args.points_per_side, "thresholds": THRESHOLDS,
              "settings": SETTINGS, "results": results}
    write_record(args.json, int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())), sgemm_gflops(), fields)


if __name__ == "__main__":
    main()
