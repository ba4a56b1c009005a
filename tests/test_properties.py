"""Properties of the Decoder facade that hold for any weights and prompts.

Batch independence, single mask = token 0, determinism, shapes and dtypes are the
conformance kit's checks (``samcore/conformance/test_backend.py``), run on every backend,
the numpy one included."""

from __future__ import annotations

import numpy as np
import pytest

from samcore.conformance.strategies import CONFIGS

CONFIG, GRID = CONFIGS["tiny"]


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
