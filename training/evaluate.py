"""Measure a model on held-out synthetic scenes through samcore's ``Predictor``.

    python -m training.evaluate [--weights FILE] [--scenes 50] [--backend numpy]

Per object (every shape with a visible part above the scene's minimum area):
a tight box (one mask); one click at the object's centre, the deepest point of
its visible part (best-scored of 3 masks); then two correction clicks, each at
the deepest point of the larger error, with the previous low-res logits as
``mask_input``. Also the IoU head's calibration: predicted vs true IoU.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from training.clicks import correction_clicks, interior_points, tight_boxes
from training.scenes import make_scene

#: Held-out scenes: a seed family training never draws from (training uses [seed, step]).
EVAL_SEED = 20261201


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks [H, W] (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def evaluate_object(predictor: Any, target: np.ndarray, corrections: int = 2) -> dict[str, Any]:
    """IoUs of one object (bool [H, W]) for box, centre click and after ``corrections`` clicks.

    ``predictor`` has had ``set_image`` called. Returns box / click / corrected IoUs
    and (predicted, true) IoU pairs of every mask produced.
    """
    masks, scores, _ = predictor.predict(box=tight_boxes(target[None])[0], multimask_output=False)
    box_iou = iou(masks[0], target)
    pairs = [(float(scores[0]), box_iou)]
    coords = interior_points(target[None])
    labels = np.ones(1, np.int64)
    masks, scores, low_res = predictor.predict(point_coords=coords, point_labels=labels, multimask_output=True)
    pairs += [(float(s), iou(m, target)) for m, s in zip(masks, scores, strict=True)]
    best = int(np.argmax(scores))
    click_iou = pairs[1 + best][1]
    mask, logits = masks[best], low_res[best]
    for _ in range(corrections):
        point, label = correction_clicks(mask[None], target[None])
        coords, labels = np.concatenate([coords, point]), np.concatenate([labels, label])
        masks, scores, low_res = predictor.predict(
            point_coords=coords, point_labels=labels, mask_input=logits[None], multimask_output=False
        )
        mask, logits = masks[0], low_res[0]
    corrected = iou(mask, target)
    pairs.append((float(scores[0]), corrected))
    return {"box": box_iou, "click": click_iou, "corrected": corrected, "pairs": pairs}


def evaluate(predictor: Any, scenes: int = 50, seed: int = EVAL_SEED, size: tuple[int, int] = (128, 128)) -> dict:
    """Mean IoUs over every object of ``scenes`` held-out scenes, and the IoU head's calibration.

    Returns {"objects", "box", "click", "corrected" (mean IoUs), "iou_mae" (mean |predicted - true|),
    "iou_corr" (their Pearson correlation)}.
    """
    results = []
    for i in range(scenes):
        scene = make_scene(np.random.default_rng([seed, i]), size)
        predictor.set_image(scene.image)
        results += [evaluate_object(predictor, target) for target in scene.masks]
    pairs = np.array([p for r in results for p in r["pairs"]])
    summary = {"objects": len(results)}
    summary |= {k: float(np.mean([r[k] for r in results])) for k in ("box", "click", "corrected")}
    summary["iou_mae"] = float(np.abs(pairs[:, 0] - pairs[:, 1]).mean())
    summary["iou_corr"] = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])
    return summary


def main(argv: list[str] | None = None) -> None:
    """Print the summary of ``evaluate`` as JSON."""
    from samcore import Predictor

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="safetensors file (default: the bundled default model)")
    ap.add_argument("--scenes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=EVAL_SEED)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args(argv)
    predictor = Predictor.from_weights(args.weights, backend=args.backend, encoder_backend=args.backend)
    print(json.dumps(evaluate(predictor, args.scenes, args.seed), indent=2))


if __name__ == "__main__":
    main()
