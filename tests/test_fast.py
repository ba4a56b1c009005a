"""The fast formulation (``samcore.fast``) against the plain spec where its algebra is
most exposed to rounding: ``upscale_input`` subtracts mean x colsum(G) from a product, so
image tokens whose mean dwarfs their spread are its worst case."""

from __future__ import annotations

import numpy as np
import pytest

from samcore.backend import FLOAT32_TOLERANCE
from samcore.config import PRESETS, TRANSFORMER
from samcore.conformance.strategies import CONFIGS
from samcore.fast import decode_fast, image_features
from samcore.fast.transformer import transformer
from samcore.inputs import check_prompts
from samcore.random_weights import random_params
from samcore.spec import decode

CONFIG = PRESETS["sam_vit_b"]
GRID = (64, 64)


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_fast_equals_spec_when_token_means_dwarf_their_spread(offset: float) -> None:
    params = random_params(CONFIG, seed=3)
    for i in range(CONFIG.depth):  # every layer's image tokens get mean ~offset, spread ~1
        key = f"{TRANSFORMER}layers.{i}.norm4.bias"
        params[key] = params[key] + np.float32(offset)
    rng = np.random.default_rng(4)
    embedding = (rng.standard_normal((1, CONFIG.embed_dim, *GRID)) + offset).astype(np.float32)
    coords, labels = np.array([[[300.0, 200.0], [520.0, 610.0]]], np.float32), np.array([[1, 0]])
    prompts = check_prompts(coords, labels, None, None, GRID, CONFIG.frame_size(GRID))
    spec = decode(params, CONFIG, embedding, coords, labels, None, None, True)
    fast = decode_fast(params, CONFIG, image_features(params, CONFIG, embedding), *prompts.labelled_points(), None,
                       True)
    for name, got, want in zip(("low_res_logits", "iou_predictions"), fast, spec, strict=True):
        assert np.all(np.abs(got - want) <= FLOAT32_TOLERANCE[name].bound(want)), (name, np.abs(got - want).max())


@pytest.mark.parametrize("wanted", [[0, 2, 3, 4], [0, 1], [4, 0]])
def test_transformer_outputs_only_the_wanted_tokens(wanted: list[int]) -> None:
    """``transformer(outputs=...)``: the wanted tokens' rows of the all-token result, in that
    order; the image side (image tokens, each layer's update) unchanged."""
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=5)
    rng = np.random.default_rng(6)
    features = image_features(params, config, rng.standard_normal((1, config.embed_dim, grid, grid)).astype(np.float32))
    block0 = (features.t2i_keys, features.t2i_values, features.i2t_queries)
    tokens = rng.standard_normal((2, 7, config.embed_dim)).astype(np.float32)
    every, image, updates = transformer(params, features, features.tokens, block0, tokens, config, None)
    some, image_some, updates_some = transformer(
        params, features, features.tokens, block0, tokens, config, None, outputs=wanted
    )
    assert some.shape == (2, len(wanted), config.embed_dim)
    np.testing.assert_allclose(some, every[:, wanted], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(image_some, image)
    for a, b in zip(updates_some, updates, strict=True):
        np.testing.assert_array_equal(a.u, b.u)
