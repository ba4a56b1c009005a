"""samcore.MaskGenerator against Meta's SamAutomaticMaskGenerator: same model, same image.

Random weights give few masks above Meta's default 0.88 / 0.95 thresholds, so the
cases lower them (and raise the NMS thresholds in some cases) to have many masks to
compare. Every Meta mask must have a samcore mask from the same prompt point with
mask IoU >= 0.99, the same box and area up to the pixels that differ, and scores
within float32 tolerance (``everything_official.assert_same_records``).
"""

from __future__ import annotations

import types

import pytest
from everything_official import (  # noqa: F401 (official_pair is a fixture)
    assert_same_records,
    disc_image,
    official_pair,
    on_threshold,
)

from samcore import Decoder, MaskGenerator

#: case -> (generator arguments, fewest masks Meta's generator gives: the NMS 0.7 cases keep
#: one or two, since random weights draw masks that nearly all span the image).
CASES = {
    # Predicted IoUs here spread over -0.5..1.9, stability scores over 0..0.27.
    "no crops, no NMS": (dict(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                              box_nms_thresh=1.0), 100),
    "no crops, NMS 0.7": (dict(points_per_side=8, pred_iou_thresh=0.5, stability_score_thresh=0.05), 1),
    "thresholds in the data": (dict(points_per_side=8, pred_iou_thresh=1.0, stability_score_thresh=0.002,
                                   box_nms_thresh=1.0), 10),
    "one crop layer": (dict(points_per_side=8, pred_iou_thresh=0.5, stability_score_thresh=0.05, crop_n_layers=1,
                           crop_n_points_downscale_factor=2, box_nms_thresh=1.0, crop_nms_thresh=1.0), 5),
    "one crop layer, NMS 0.7": (dict(points_per_side=8, pred_iou_thresh=0.5, stability_score_thresh=0.05,
                                    crop_n_layers=1), 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_generator_matches_meta(official_pair, case) -> None:  # noqa: F811
    generator_class, sam, predictor = official_pair
    kwargs, fewest = CASES[case]
    image = disc_image()
    official = generator_class(sam, **kwargs)
    theirs = official.generate(image)
    ours = MaskGenerator(predictor, **kwargs).generate(image)
    assert len(theirs) >= fewest, "the case should leave masks to compare"
    assert abs(len(ours) - len(theirs)) <= sum(on_threshold(r, kwargs) for r in ours + theirs)
    assert_same_records(ours, theirs, kwargs)
    assert set(ours[0]) == set(theirs[0])


@pytest.mark.parametrize("mode", ["uncompressed_rle", "coco_rle"])
def test_output_modes_match_meta(official_pair, mode) -> None:  # noqa: F811
    pytest.importorskip("pycocotools")
    generator_class, sam, predictor = official_pair
    kwargs = dict(CASES["no crops, NMS 0.7"][0], output_mode=mode)
    official = generator_class(sam, **kwargs)
    image = disc_image(seed=1)
    theirs, ours = official.generate(image), MaskGenerator(predictor, **kwargs).generate(image)
    assert len(ours) == len(theirs) >= 1
    for a, b in zip(ours, theirs, strict=True):
        assert a["segmentation"]["size"] == b["segmentation"]["size"]
        assert type(a["segmentation"]["counts"]) is type(b["segmentation"]["counts"])


def test_small_region_removal_matches_meta(official_pair) -> None:  # noqa: F811
    pytest.importorskip("cv2")
    generator_class, sam, predictor = official_pair
    kwargs = dict(CASES["no crops, no NMS"][0], min_mask_region_area=200)
    official = generator_class(sam, **kwargs)
    image = disc_image(seed=2)
    theirs, ours = official.generate(image), MaskGenerator(predictor, **kwargs).generate(image)
    assert len(theirs) >= 3
    assert_same_records(ours, theirs, kwargs)


#: Each prompt here has one mask scored 1.1-1.9: 1.6 leaves about half the prompts decoded.
SCORING_CASES = {
    "no crops": dict(points_per_side=8, pred_iou_thresh=1.6, stability_score_thresh=0.0, box_nms_thresh=1.0),
    "one crop layer": dict(points_per_side=8, pred_iou_thresh=1.6, stability_score_thresh=0.0, box_nms_thresh=1.0,
                           crop_n_layers=1, crop_n_points_downscale_factor=2, crop_nms_thresh=1.0),
}


@pytest.mark.parametrize("case", list(SCORING_CASES))
def test_scoring_first_matches_meta(official_pair, case, monkeypatch) -> None:  # noqa: F811
    """On a backend that scores prompts without their masks (onnx: ``capabilities.iou_only``),
    the prompts none of whose masks pass ``pred_iou_thresh`` are never decoded, and the
    records are still Meta's."""
    pytest.importorskip("onnxruntime")
    generator_class, sam, predictor = official_pair
    decoder = Decoder(predictor.decoder.params, predictor.decoder.config, backend="onnx")
    assert decoder.backend.capabilities.iou_only
    decoded = []
    predict = decoder.predict

    def counting_predict(**kwargs):
        decoded.append(len(kwargs["point_coords"]))
        return predict(**kwargs)

    monkeypatch.setattr(decoder, "predict", counting_predict)
    kwargs = SCORING_CASES[case]
    image = disc_image()
    generator = MaskGenerator(types.SimpleNamespace(decoder=decoder, encoder=predictor.encoder), **kwargs)
    ours, theirs = generator.generate(image), generator_class(sam, **kwargs).generate(image)
    prompts = sum(len(generator.point_grids[layer]) * 4**layer for layer in range(generator.crop_n_layers + 1))
    assert 0 < sum(decoded) < prompts, "some prompts should be scored only, some decoded"
    assert len(theirs) >= 10, "the case should leave masks to compare"
    assert abs(len(ours) - len(theirs)) <= sum(on_threshold(r, kwargs) for r in ours + theirs)
    assert_same_records(ours, theirs, kwargs)
