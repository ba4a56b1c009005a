"""The main job out of the box: the default model segments the bundled example picture.

The example's ground truth is regenerated from its seed (training/example.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PIL", reason="needs Pillow (the image extra)")

from samcore.cli import main
from samcore.image_io import read_image
from samcore.weights import bundled_path
from training.evaluate import iou
from training.example import example_prompts, example_scene


def test_bundled_example_is_the_generated_scene_and_its_prompts() -> None:
    scene = example_scene()
    np.testing.assert_array_equal(read_image(bundled_path("example.png")), scene.image)
    stored = json.loads(bundled_path("example.json").read_text())
    assert {k: stored[k] for k in ("click", "box", "refine")} == example_prompts(scene.masks)


def test_segment_with_the_default_model_finds_the_clicked_object(tmp_path, capsys) -> None:
    scene = example_scene()
    x, y = json.loads(bundled_path("example.json").read_text())["click"]
    target = scene.masks[[m[int(y), int(x)] for m in scene.masks].index(True)]
    mask_png, overlay_png = tmp_path / "mask.png", tmp_path / "overlay.png"
    args = ["segment", str(bundled_path("example.png")), "--point", f"{x:g},{y:g}", "-o", str(mask_png)]
    assert main([*args, "--overlay", str(overlay_png), "--quiet"]) == 0
    mask = read_image(mask_png)[..., 0] > 127
    assert iou(mask, target) >= 0.8
    assert read_image(overlay_png).shape == scene.image.shape


def test_demo_writes_one_picture_of_four_prompted_panels(tmp_path, capsys) -> None:
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out)]) == 0
    picture = read_image(out)
    h, w = example_scene().image.shape[:2]
    assert picture.shape[0] > h and picture.shape[1] > 4 * w
    assert "refined" in capsys.readouterr().out
