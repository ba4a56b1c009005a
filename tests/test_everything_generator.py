"""MaskGenerator end to end on samcore's own Predictor (a weights file with an image
encoder), the ``samcore everything`` command, and its input checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from everything_official import assert_same_records, disc_image

from samcore import MaskGenerator, Predictor, SamcoreError
from samcore.cli import main
from samcore.weights import load_decoder_params, load_encoder_params, random_decoder_path

#: Lowered thresholds (random weights): every mask kept, so there are masks to compare.
LOW = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    """A whole tiny SAM (image encoder + decoder, 128-pixel frame), seeded random weights."""
    path = tmp_path_factory.mktemp("everything") / "tiny_sam.safetensors"
    assert main(["random-weights", str(path), "--preset", "tiny", "--encoder", "--seed", "3"]) == 0
    return path


def test_weights_path_matches_meta(tiny_sam) -> None:
    """samcore's encoder + decoder vs Meta's modules with the same weights, whole pipeline."""
    pytest.importorskip("torch")
    pytest.importorskip("PIL")
    from samcore.conformance.official import (
        build_official_image_encoder,
        build_official_sam,
        official_mask_generator_class,
    )

    params, config = load_decoder_params(tiny_sam)
    encoder_params, encoder_config = load_encoder_params(tiny_sam)
    sam = build_official_sam(config, encoder_config.grid_size, params)
    sam.image_encoder = build_official_image_encoder(encoder_config, encoder_params)
    image = disc_image(seed=3)
    theirs = official_mask_generator_class()(sam, **LOW).generate(image)
    ours = MaskGenerator(str(tiny_sam), **LOW).generate(image)
    assert len(theirs) >= 20
    assert_same_records(ours, theirs, LOW)


def test_cli_writes_coco_json_and_overlay(tiny_sam, tmp_path, capsys) -> None:
    from PIL import Image

    image = disc_image(90, 130, seed=4)
    Image.fromarray(image).save(tmp_path / "in.png")
    out, picture = tmp_path / "masks.json", tmp_path / "overlay.png"
    args = ["everything", str(tmp_path / "in.png"), "-w", str(tiny_sam), "-o", str(out), "--overlay", str(picture),
            "--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
            "--box-nms-thresh", "1.0"]
    assert main(args) == 0
    assert "masks in" in capsys.readouterr().out
    document = json.loads(out.read_text())
    assert document["image"] == {"file_name": "in.png", "height": 90, "width": 130}
    annotations = document["annotations"]
    assert len(annotations) >= 4
    expected = MaskGenerator(str(tiny_sam), points_per_side=4, pred_iou_thresh=0, stability_score_thresh=0,
                             box_nms_thresh=1.0).generate(image)
    assert [a["area"] for a in annotations] == [r["area"] for r in expected]
    mask_utils = pytest.importorskip("pycocotools.mask")
    for a, r in zip(annotations, expected, strict=True):
        decoded = mask_utils.decode({"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"]})
        np.testing.assert_array_equal(decoded.astype(bool), r["segmentation"])
    drawn = np.array(Image.open(picture))
    assert drawn.shape == image.shape
    covered = np.any([r["segmentation"] for r in expected], axis=0)
    assert np.any(drawn[covered] != image[covered]) and np.array_equal(drawn[~covered], image[~covered])


def test_progress_bar_on_request(tiny_sam, capsys) -> None:
    pytest.importorskip("tqdm")
    MaskGenerator(str(tiny_sam), points_per_side=3, progress=True).generate(disc_image(64, 64))
    assert "9/9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        (dict(points_per_side=None), "points_per_side, point_grids"),
        (dict(point_grids=[np.full((4, 2), 0.5)]), "points_per_side, point_grids"),
        (dict(points_per_side=None, point_grids=[np.full((4, 2), 1.5)]), "point_grids[0]"),
        (dict(points_per_side=None, point_grids=[np.full((4, 2), 0.5)], crop_n_layers=1), "point_grids"),
        (dict(output_mode="png"), "output_mode"),
        (dict(points_per_batch=0), "points_per_batch"),
        (dict(points_per_side=0), "points_per_side"),
        (dict(crop_n_layers=-1), "crop_n_layers"),
        (dict(prompts_per_run=0), "prompts_per_run"),
    ],
)
def test_bad_arguments_name_themselves(tiny_sam, kwargs, named) -> None:
    with pytest.raises(SamcoreError, match=named.replace("[", r"\[")):
        MaskGenerator(str(tiny_sam), **kwargs)


def test_bad_inputs(tiny_sam) -> None:
    with pytest.raises(SamcoreError, match="predictor_or_weights"):
        MaskGenerator(42)
    with pytest.raises(SamcoreError, match=r"predictor_or_weights: .*decoder-only"):
        MaskGenerator(Predictor.from_weights(random_decoder_path()))
    with pytest.raises(SamcoreError, match=r"predictor_or_weights: .*decoder-only"):
        MaskGenerator(random_decoder_path())
    generator = MaskGenerator(str(tiny_sam), points_per_side=2)
    with pytest.raises(SamcoreError, match="image: expected a uint8"):
        generator.generate(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(SamcoreError, match=r"image: expected .* got shape \[10, 10\]"):
        generator.generate(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("crop_n_layers", [0, 1])
def test_no_mask_passing_gives_an_empty_list(tiny_sam, crop_n_layers) -> None:
    generator = MaskGenerator(str(tiny_sam), points_per_side=3, pred_iou_thresh=50.0, crop_n_layers=crop_n_layers)
    assert generator.generate(disc_image(50, 70)) == []
