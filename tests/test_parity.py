"""The spec (the ``reference`` backend) and its fast formulation (the ``numpy`` backend) against
Meta's official segment-anything, the ground truth: a failure names which of the two is off.

Weights: Meta's modules with seeded random weights, saved with torch.save as Meta
saves its checkpoints, converted by samcore, loaded from safetensors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import record_parity
from samcore.conformance.strategies import Case, case_recipes

torch = pytest.importorskip("torch")

ATOL = 1e-4  # absolute, on logits and IoU scores
SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _tensor(array):
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))


def official_decode(sam, case: Case) -> tuple[np.ndarray, np.ndarray]:
    """``sam.mask_decoder(emb, dense_pe, *sam.prompt_encoder(points, boxes, masks), multimask)``."""
    points = None if case.point_coords is None else (_tensor(case.point_coords), _tensor(case.point_labels))
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=points, boxes=_tensor(case.boxes), masks=_tensor(case.mask_input))
        masks, iou = sam.mask_decoder(
            _tensor(case.image_embedding), sam.prompt_encoder.get_dense_pe(), sparse, dense, case.multimask_output
        )
    return masks.numpy(), iou.numpy()


def assert_close(name: str, ours: np.ndarray, official: np.ndarray, case: Case) -> None:
    assert ours.shape == official.shape, f"{name}: shape {ours.shape} != official {official.shape}"
    diff = record_parity(name, ours, official)
    if diff > ATOL:
        where = np.unravel_index(np.argmax(np.abs(ours - official)), ours.shape)
        raise AssertionError(
            f"{name}: max |samcore - official| = {diff:.3g} > {ATOL} at {list(map(int, where))} "
            f"(samcore {ours[where]:.6g}, official {official[where]:.6g}) for {case!r}"
        )


def test_parity_with_official_torch_modules(parity_case) -> None:
    """hypothesis-drawn prompts: 1-16 points of labels -1/0/1, boxes, masks, batches 1-8."""
    examples = 8 if parity_case.name == "vit_b" else 40

    @settings(SETTINGS, max_examples=examples)
    @given(recipe=case_recipes(parity_case.name))
    def check(recipe) -> None:
        case = recipe.build()
        masks, iou = official_decode(parity_case.sam, case)
        for path, decoder in parity_case.decoders.items():
            out = decoder.predict(**case.kwargs())
            assert_close(f"{parity_case.name} {path} low_res_logits", out.low_res_logits, masks, case)
            assert_close(f"{parity_case.name} {path} iou_predictions", out.iou_predictions, iou, case)

    check()


def test_box_corner_labels_match_official_onnx_model(parity_case) -> None:
    """Labels 2 and 3 (box corners passed as points) against Meta's SamOnnxModel."""
    from samcore.conformance.official import onnx_utils

    onnx_model = onnx_utils.SamOnnxModel(parity_case.sam, return_single_mask=False).eval()
    grid = (parity_case.grid, parity_case.grid)
    examples = 4 if parity_case.name == "vit_b" else 25

    @settings(SETTINGS, max_examples=examples)
    @given(recipe=case_recipes(parity_case.name, labels=(-1, 0, 1, 2, 3), kinds=("points", "points+mask"),
                               max_batch=4))
    def check(recipe) -> None:
        case = recipe.build()
        # Meta's ONNX model takes the final point list: ours plus the padding point.
        batch = case.point_coords.shape[0]
        coords = np.concatenate([case.point_coords, np.zeros((batch, 1, 2), np.float32)], axis=1)
        labels = np.concatenate([case.point_labels, -np.ones((batch, 1))], axis=1).astype(np.float32)
        has_mask = case.mask_input is not None
        mask = case.mask_input if has_mask else np.zeros((batch, 1, 4 * grid[0], 4 * grid[1]), np.float32)
        frame = parity_case.config.frame_size(grid)
        with torch.inference_mode():
            _, iou, low_res = onnx_model(
                _tensor(case.image_embedding), _tensor(coords), _tensor(labels), _tensor(mask),
                torch.tensor([float(has_mask)]), torch.tensor(frame, dtype=torch.float32),
            )
        for path, decoder in parity_case.decoders.items():
            out = decoder.predict(**(case.kwargs() | {"multimask_output": True}))
            name = f"{parity_case.name} {path} labels 2/3"
            assert_close(f"{name} low_res_logits", out.low_res_logits, low_res.numpy()[:, 1:], case)
            assert_close(f"{name} iou_predictions", out.iou_predictions, iou.numpy()[:, 1:], case)

    check()
