"""``samcore demo``: the default model on the bundled example picture, prompted three ways.

Writes one PNG of four panels: a click (best-scored of 3 masks), a box, and a
refinement (a first click, then two more clicks with the first mask's low-res
logits as ``mask_input``), each with its prompts drawn. Needs the ``image`` extra.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from samcore.image_io import overlay, read_image, write_image
from samcore.weights import bundled_path

#: Gap between panels and height of the caption strip, pixels.
GAP, CAPTION = 8, 22


def _labelled(coords: np.ndarray, labels: list[int] | np.ndarray) -> np.ndarray:
    """Points [N, 3] (x, y, label) as ``overlay`` draws them."""
    return np.column_stack([coords, labels])


def demo_panels(predictor, image: np.ndarray, prompts: dict) -> list[tuple[str, np.ndarray]]:
    """(caption, picture) pairs: each prompt of ``prompts`` (example.json's layout) and its mask drawn on ``image``."""
    predictor.set_image(image)
    click = np.array([prompts["click"]], np.float32)
    masks, scores, _ = predictor.predict(point_coords=click, point_labels=np.array([1]), multimask_output=True)
    best = int(np.argmax(scores))
    panels = [(f"click (score {scores[best]:.2f})", overlay(image, masks[best], _labelled(click, [1])))]
    box = np.array(prompts["box"], np.float32)
    masks, scores, _ = predictor.predict(box=box, multimask_output=False)
    panels.append((f"box (score {scores[0]:.2f})", overlay(image, masks[0], box=box)))
    refine = prompts["refine"]
    first = np.array([refine["first"]], np.float32)
    masks, scores, low_res = predictor.predict(point_coords=first, point_labels=np.array([1]), multimask_output=True)
    best = int(np.argmax(scores))
    panels.append((f"first click (score {scores[best]:.2f})", overlay(image, masks[best], _labelled(first, [1]))))
    coords = np.concatenate([first, np.array(refine["points"], np.float32)])
    labels = np.array([1, *refine["labels"]])
    masks, scores, _ = predictor.predict(
        point_coords=coords, point_labels=labels, mask_input=low_res[best][None], multimask_output=False
    )
    panels.append((f"refined (score {scores[0]:.2f})", overlay(image, masks[0], _labelled(coords, labels))))
    return panels


def compose(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """One uint8 [H, W, 3] picture: the panels side by side on white, each captioned above."""
    from PIL import Image, ImageDraw

    h, w = panels[0][1].shape[:2]
    canvas = Image.new("RGB", (len(panels) * (w + GAP) + GAP, h + CAPTION + GAP), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (caption, picture) in enumerate(panels):
        x = GAP + i * (w + GAP)
        canvas.paste(Image.fromarray(picture), (x, CAPTION))
        draw.text((x + 2, 5), caption, fill="black")
    return np.asarray(canvas)


def _demo(args: argparse.Namespace) -> None:
    from samcore.predictor import Predictor

    predictor = Predictor.from_weights(args.weights, backend=args.backend, encoder_backend=args.backend)
    image = read_image(bundled_path("example.png"))
    prompts = json.loads(bundled_path("example.json").read_text())
    panels = demo_panels(predictor, image, prompts)
    write_image(args.out, compose(panels))
    print("; ".join(caption for caption, _ in panels) + " (score: predicted IoU)")
    print(f"wrote {args.out}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the subcommands."""
    p = sub.add_parser("demo", help="the default model on the bundled example picture: click, box, refinement")
    p.add_argument("-o", "--out", default="demo.png", help="PNG to write (default: demo.png)")
    p.add_argument("--weights", help="SAM safetensors with an image encoder (default: the bundled default model)")
    p.add_argument("--backend", default="auto", help="backend name or 'auto' (see samcore backends)")
    p.set_defaults(run=_demo)
