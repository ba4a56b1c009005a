"""Write the bundled example picture and the prompts ``samcore demo`` uses on it.

    python -m training.example            # weights/example.png, weights/example.json

A held-out scene (seed family of its own) drawn at 384 x 384. The prompts come from
its ground truth: a click at one object's centre, the tight box of another, and a
refinement (a click, then a second foreground click on the same object and a
background click just outside it) for a third.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training.clicks import erode, interior_points, tight_boxes
from training.scenes import Scene, make_scene

EXAMPLE_SEED = (7, 1)
SIZE = (384, 384)


def _far_point(mask: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The pixel of ``mask`` farthest from ``point`` (x, y) among those at least half its depth inside."""
    layers = [mask[None]]
    while layers[-1].any():
        layers.append(erode(layers[-1]))
    ys, xs = np.nonzero(layers[(len(layers) - 1) // 2][0])
    i = np.argmax((xs - point[0]) ** 2 + (ys - point[1]) ** 2)
    return np.array([xs[i], ys[i]], np.float32)


def example_prompts(masks: np.ndarray) -> dict:
    """Click / box / refinement prompts for the three largest objects of bool masks [N, H, W]."""
    order = np.argsort(-masks.reshape(len(masks), -1).sum(1))
    click_obj, box_obj, refine_obj = (int(i) for i in order[:3])
    centre = interior_points(masks[[click_obj, refine_obj]])
    x0, y0, x1, y1 = tight_boxes(masks[refine_obj][None])[0].astype(int)
    near = np.zeros(masks.shape[1:], bool)
    near[max(y0 - 24, 0) : y1 + 25, max(x0 - 24, 0) : x1 + 25] = True
    background = interior_points((near & ~masks[refine_obj])[None])[0]
    return {
        "click": centre[0].tolist(),
        "box": tight_boxes(masks[box_obj][None])[0].tolist(),
        "refine": {
            "first": centre[1].tolist(),
            "points": [_far_point(masks[refine_obj], centre[1]).tolist(), background.tolist()],
            "labels": [1, 0],
        },
    }


def example_scene() -> Scene:
    """The scene of the bundled example picture (deterministic)."""
    return make_scene(np.random.default_rng(EXAMPLE_SEED), SIZE, num_shapes=(5, 7))


def main(argv: list[str] | None = None) -> None:
    """Write the example PNG and its prompts JSON into ``--out`` (default weights/)."""
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="weights", help="folder to write example.png and example.json into")
    args = ap.parse_args(argv)
    scene = example_scene()
    out = Path(args.out)
    Image.fromarray(scene.image).save(out / "example.png", optimize=True)
    prompts = {"about": "Prompts for example.png from its ground truth (training/example.py); (x, y) pixels."}
    (out / "example.json").write_text(json.dumps(prompts | example_prompts(scene.masks), indent=2) + "\n")


if __name__ == "__main__":
    main()
