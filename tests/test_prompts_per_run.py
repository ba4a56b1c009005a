"""``Decoder.predict(..., prompts_per_run=N)``: a speed hint that each backend honours or
ignores, with the same results either way, reset after every call."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from conftest import CONFIGS
from samcore import Decoder, SamcoreError
from samcore.conformance.assertions import assert_within
from samcore.conformance.strategies import WEIGHTS_SEED
from samcore.random_weights import random_params
from samcore.registry import get

#: backend -> the module whose ``decode_in_steps`` runs its per-prompt work.
HONOURING = {"numpy": "samcore.numpy_backend", "onnx": "samcore_onnx.backend", "torch": "samcore_torch.backend"}
BATCH = 7


def _decoder(backend: str) -> Decoder:
    if not get(backend).availability().available:
        pytest.skip(f"{backend}: {get(backend).availability().reason}")
    config, _ = CONFIGS["tiny"]
    return Decoder(random_params(config, WEIGHTS_SEED), config, backend=backend)


def _prompts(decoder: Decoder) -> dict:
    rng = np.random.default_rng(0)
    grid = (8, 8)
    frame = decoder.config.frame_size(grid)
    return dict(image_embedding=rng.standard_normal((1, decoder.config.embed_dim, *grid), dtype=np.float32),
                point_coords=rng.uniform(0, frame[0], (BATCH, 2, 2)), point_labels=rng.integers(0, 2, (BATCH, 2)))


@pytest.mark.parametrize("backend", list(HONOURING))
def test_same_results_and_steps_as_asked(backend, monkeypatch) -> None:
    decoder = _decoder(backend)
    kwargs = _prompts(decoder)
    plain, plain_iou = decoder.predict(**kwargs), decoder.predict_iou(**kwargs)
    module = importlib.import_module(HONOURING[backend])
    steps = []
    original = module.decode_in_steps

    def recording(batch, step, decode_step):
        steps.append(step)
        return original(batch, step, decode_step)

    monkeypatch.setattr(module, "decode_in_steps", recording)
    asked = decoder.predict(**kwargs, prompts_per_run=3)
    asked_iou = decoder.predict_iou(**kwargs, prompts_per_run=3)
    assert steps == [3, 3], "the backend should run 3 prompts at a time in both calls"
    tolerance = decoder.backend.tolerances["float32"]
    assert_within("low_res_logits", asked.low_res_logits, plain.low_res_logits, tolerance["low_res_logits"], backend)
    for iou in (asked.iou_predictions, asked_iou, plain_iou):
        assert_within("iou_predictions", iou, plain.iou_predictions, tolerance["iou_predictions"], backend)
    assert decoder.backend.requested_prompts_per_run is None, "the hint lasts one call"
    decoder.predict(**kwargs)
    assert steps[-1] != 3, "without the hint the backend takes its own step again"


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "4"])
def test_bad_prompts_per_run_names_itself(bad) -> None:
    decoder = _decoder("numpy")
    with pytest.raises(SamcoreError, match="prompts_per_run: expected None or an integer >= 1"):
        decoder.predict(**_prompts(decoder), prompts_per_run=bad)
    assert decoder.backend.requested_prompts_per_run is None
