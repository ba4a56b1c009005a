"""``samcore.weights.decoder_params``: the one check every decoder exporter runs on a parameter mapping."""

from __future__ import annotations

import numpy as np
import pytest

from samcore.config import PRESETS, expected_shapes
from samcore.errors import WeightsError
from samcore.random_weights import random_params
from samcore.weights import decoder_params

CONFIG = PRESETS["mobile_sam"]
KEY = "mask_decoder.iou_prediction_head.layers.0.weight"


@pytest.fixture(scope="module")
def params() -> dict[str, np.ndarray]:
    return random_params(CONFIG, seed=0)


def test_returns_float32_decoder_keys_only(params) -> None:
    """Every expected key as float32; other parts' keys (an image encoder's) are left out."""
    mixed = {**{k: v.astype(np.float16) for k, v in params.items()}, "image_encoder.neck.0.weight": np.zeros(3)}
    arrays = decoder_params(mixed, CONFIG)
    assert arrays.keys() == expected_shapes(CONFIG).keys()
    assert all(a.dtype == np.float32 for a in arrays.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop(KEY), rf"missing keys \['{KEY}'\]"),
        (lambda p: p.__setitem__(KEY, p[KEY][:, :-1]), rf"{KEY}: expected shape \[256, 256\], got \[256, 255\]"),
        (lambda p: p.__setitem__("mask_decoder.extra.weight", np.zeros(2)), r"unexpected keys"),
        (lambda p: p.__setitem__(KEY, p[KEY].astype(np.int32)), rf"{KEY}: expected a float dtype"),
    ],
)
def test_refuses_what_does_not_fit(params, change, message) -> None:
    changed = dict(params)
    change(changed)
    with pytest.raises(WeightsError, match=message):
        decoder_params(changed, CONFIG)


@pytest.mark.parametrize("exporter", ["samcore_onnx", "samcore_tflite"])
def test_exporters_refuse_a_missing_key(params, exporter) -> None:
    """Both exporters validate with ``decoder_params`` before tracing anything."""
    module = pytest.importorskip(f"{exporter}.export", reason=f"{exporter}'s runtime is not installed")
    changed = dict(params)
    changed.pop(KEY)
    with pytest.raises(WeightsError, match=KEY):
        if exporter == "samcore_onnx":
            module.export_onnx(changed, CONFIG)
        else:
            module.tflite_model(changed, CONFIG, points=2)
