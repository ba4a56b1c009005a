"""Properties of the decoder that hold for any weights and prompts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from samcore.conformance.strategies import CONFIGS, Case, case_recipes

CONFIG, GRID = CONFIGS["tiny"]
SETTINGS = settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
CASES = case_recipes("tiny", labels=(-1, 0, 1, 2, 3)).map(lambda recipe: recipe.build())


def _row(array: np.ndarray | None, i: int) -> np.ndarray | None:
    return None if array is None else array[i : i + 1]


@SETTINGS
@given(case=CASES)
def test_batch_equals_each_prompt_alone(tiny_decoder, case: Case) -> None:
    batched = tiny_decoder.predict(**case.kwargs())
    for i in range(batched.iou_predictions.shape[0]):
        alone = tiny_decoder.predict(
            case.image_embedding,
            _row(case.point_coords, i),
            _row(case.point_labels, i),
            _row(case.boxes, i),
            _row(case.mask_input, i),
            case.multimask_output,
        )
        np.testing.assert_allclose(batched.low_res_logits[i : i + 1], alone.low_res_logits, atol=1e-5, rtol=0)
        np.testing.assert_allclose(batched.iou_predictions[i : i + 1], alone.iou_predictions, atol=1e-5, rtol=0)


@SETTINGS
@given(case=CASES)
def test_single_mask_is_token_zero_of_the_same_pass(tiny_decoder, case: Case) -> None:
    from samcore.spec import decode_all_tokens

    inputs = (case.image_embedding, case.point_coords, case.point_labels, case.boxes, case.mask_input)
    single = tiny_decoder.predict(*inputs, multimask_output=False)
    multi = tiny_decoder.predict(*inputs, multimask_output=True)
    logits, iou = decode_all_tokens(tiny_decoder.params, CONFIG, *inputs)
    # The numpy backend runs the fast formulation: equal to the spec's pass up to rounding.
    np.testing.assert_allclose(single.low_res_logits, logits[:, :1], atol=1e-5, rtol=0)
    np.testing.assert_allclose(single.iou_predictions, iou[:, :1], atol=1e-5, rtol=0)
    np.testing.assert_allclose(multi.low_res_logits, logits[:, 1:], atol=1e-5, rtol=0)
    np.testing.assert_allclose(multi.iou_predictions, iou[:, 1:], atol=1e-5, rtol=0)


@SETTINGS
@given(case=CASES)
def test_deterministic_shapes_and_dtypes(tiny_decoder, case: Case) -> None:
    first = tiny_decoder.predict(**case.kwargs())
    second = tiny_decoder.predict(**case.kwargs())
    np.testing.assert_array_equal(first.low_res_logits, second.low_res_logits)
    np.testing.assert_array_equal(first.iou_predictions, second.iou_predictions)
    batch = next(a.shape[0] for a in (case.point_coords, case.boxes, case.mask_input) if a is not None)
    masks = 3 if case.multimask_output else 1
    assert first.low_res_logits.shape == (batch, masks, 4 * GRID, 4 * GRID)
    assert first.iou_predictions.shape == (batch, masks)
    assert first.low_res_logits.dtype == first.iou_predictions.dtype == np.float32


def test_set_image_then_prompts_equals_passing_the_embedding(tiny_decoder) -> None:
    rng = np.random.default_rng(1)
    embedding = rng.standard_normal((1, CONFIG.embed_dim, GRID, GRID)).astype(np.float32)
    coords, labels = rng.random((2, 3, 2)).astype(np.float32) * 128, rng.integers(-1, 2, (2, 3))
    tiny_decoder.set_image(embedding)
    interactive = tiny_decoder.predict(point_coords=coords, point_labels=labels)
    direct = tiny_decoder.predict(embedding.copy(), coords, labels)
    np.testing.assert_array_equal(interactive.low_res_logits, direct.low_res_logits)
    np.testing.assert_array_equal(interactive.iou_predictions, direct.iou_predictions)


def test_predict_without_an_image_is_refused() -> None:
    from samcore import Decoder
    from samcore.errors import InputError
    from samcore.random_weights import random_params

    decoder = Decoder(random_params(CONFIG, 0), CONFIG, backend="numpy")
    with pytest.raises(InputError, match="set_image"):
        decoder.predict(point_coords=[[[1.0, 2.0]]], point_labels=[[1]])


def test_batches_larger_than_one_pass_are_chunked_exactly(tiny_decoder) -> None:
    from samcore.decoder import PROMPTS_PER_PASS

    rng = np.random.default_rng(0)
    batch = PROMPTS_PER_PASS * 2 + 3
    embedding = rng.standard_normal((CONFIG.embed_dim, GRID, GRID)).astype(np.float32)
    coords = rng.random((batch, 2, 2)).astype(np.float32) * 128
    labels = rng.integers(0, 2, (batch, 2))
    out = tiny_decoder.predict(embedding, coords, labels)
    last = tiny_decoder.predict(embedding, coords[-1:], labels[-1:])
    assert out.low_res_logits.shape[0] == batch
    np.testing.assert_allclose(out.low_res_logits[-1:], last.low_res_logits, atol=1e-5, rtol=0)
