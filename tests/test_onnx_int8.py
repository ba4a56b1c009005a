"""The ONNX backend's int8 dtype: the per-prompt graph's upscaling GEMM in int8 (``samcore_onnx.quantize``)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'segment-anything-samcore[onnx]')")
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (pip install 'segment-anything-samcore[onnx]')"
)

from samcore_onnx import OnnxBackend, export_fast_onnx  # noqa: E402
from samcore_onnx.quantize import int8_columns, quantize_decode  # noqa: E402

import samcore.graph.emitters.onnxruntime as ort_emitters  # noqa: E402
from samcore import Decoder  # noqa: E402
from samcore.backend import FLOAT32_TOLERANCE  # noqa: E402
from samcore.conformance import checks  # noqa: E402
from samcore.conformance.strategies import CONFIGS, CaseRecipe  # noqa: E402
from samcore.fast.upscaling import upscaling_gemms  # noqa: E402
from samcore.random_weights import random_params  # noqa: E402

TINY, TINY_GRID = CONFIGS["tiny"]
CPU = ["CPUExecutionProvider"]
#: Kit recipes of every prompt kind (config, seed, batch, kinds, points, labels, multimask).
RECIPES = [
    CaseRecipe(config, seed, batch, kinds, points, (-1, 0, 1), multimask)
    for config in ("tiny", "vit_b")
    for seed, (batch, points, kinds, multimask) in enumerate([
        (1, 1, "points", True), (2, 4, "points+box", False), (2, 2, "points+mask", True), (1, 1, "box", True),
    ])
]

pytestmark = pytest.mark.usefixtures("cache_folder")


@pytest.fixture(scope="module")
def tiny_params():
    return random_params(TINY, seed=5)


def _ops(model) -> collections.Counter:
    return collections.Counter(node.op_type for node in model.graph.node)


@pytest.mark.parametrize(("with_mask_input", "chunk"), [(False, None), (True, None), (False, 20)])
def test_quantize_decode_puts_only_the_upscaling_gemm_in_int8(tiny_params, monkeypatch, with_mask_input, chunk) -> None:
    """Every product with the upscaling weight, one per chunk of image tokens when the ONNX
    Runtime emitters make the upscaling in chunks (a chunk of 20 tokens: several)."""
    chunks = 1 if chunk is None else -(-TINY_GRID**2 // chunk)
    if chunk is not None:
        monkeypatch.setattr(ort_emitters, "UPSCALE_CHUNK", chunk)
    decode = export_fast_onnx(tiny_params, TINY, grid=(TINY_GRID, TINY_GRID), with_mask_input=with_mask_input).decode
    weight = upscaling_gemms(tiny_params).w2
    quantized = quantize_decode(decode, weight)
    before, after = _ops(decode), _ops(quantized)
    assert after["DynamicQuantizeMatMul"] == chunks
    assert after["MatMul"] == before["MatMul"] - chunks and after["Add"] == before["Add"] - chunks  # biases folded
    fused = [node for node in quantized.graph.node if node.op_type == "DynamicQuantizeMatMul"]
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in quantized.graph.initializer}
    assert {node.input[1] for node in fused} == {fused[0].input[1]}  # one int8 weight, shared by the chunks
    assert stored[fused[0].input[1]].dtype == np.int8 and stored[fused[0].input[2]].shape == (weight.shape[1],)
    assert not any(np.array_equal(array, weight) for array in stored.values())  # the float32 weight is gone
    props = {p.key: p.value for p in quantized.metadata_props}
    assert props["samcore.dtype"] == "int8"
    assert props["samcore.weights_sha256"] == {p.key: p.value for p in decode.metadata_props}["samcore.weights_sha256"]
    assert "samcore.dtype" not in {p.key for p in decode.metadata_props}  # the float32 model is left as it was


def test_quantize_decode_refuses_a_graph_without_the_upscaling_gemm(tiny_params) -> None:
    image = export_fast_onnx(tiny_params, TINY, grid=(TINY_GRID, TINY_GRID)).image_features
    with pytest.raises(RuntimeError, match="upscaling weight"):
        quantize_decode(image, upscaling_gemms(tiny_params).w2)


def test_int8_columns_round_to_half_a_step_per_column() -> None:
    weight = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32) * np.arange(8, dtype=np.float32)
    q, scales = int8_columns(weight)
    assert q.dtype == np.int8 and np.abs(q).max() == 127
    assert scales[0] == 1  # an all-zero column keeps a usable scale
    np.testing.assert_array_equal(q[:, 0], 0)
    assert np.all(np.abs(q * scales - weight) <= scales / 2 + 1e-7)


def test_int8_backend_caches_its_own_per_prompt_file(cache_folder, tiny_params) -> None:
    embedding = np.random.default_rng(3).standard_normal((1, TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    coords, labels = [[[10.0, 20.0], [30.0, 5.0]]], [[1, 0]]
    outputs, files = {}, {}
    for dtype in ("float32", "int8"):
        decoder = Decoder(tiny_params, TINY, backend="onnx", dtype=dtype)
        decoder.set_image(embedding)
        outputs[dtype] = decoder.predict(point_coords=coords, point_labels=labels)
        files[dtype] = decoder.backend.model_files()
    image_key = ((TINY_GRID, TINY_GRID), None, None)
    assert files["int8"][image_key] == files["float32"][image_key]  # one float32 per-image graph for both
    prompt_key = next(key for key in files["int8"] if key != image_key)
    assert files["int8"][prompt_key] != files["float32"][prompt_key]
    assert _ops(onnx.load(files["int8"][prompt_key]))["DynamicQuantizeMatMul"] == 1
    got, want = outputs["int8"].low_res_logits, outputs["float32"].low_res_logits
    assert not np.array_equal(got, want)  # it is a different computation
    tolerance = OnnxBackend.tolerances["int8"]["low_res_logits"]
    assert np.all(np.abs(got - want) <= tolerance.atol + tolerance.rtol * np.abs(want))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: f"{r.config}-{r.kinds}")
def test_int8_masks_agree_with_the_spec(recipe) -> None:
    """Binarised masks of every prompt kind against the spec's: IoU >= 0.95 each (measured over
    conformance prompts: mean 0.99, worst 0.98; docs/benchmarks.md)."""
    case, port = recipe.build(), checks.decoder("onnx", recipe.config, "int8")
    got = port.predict(**case.kwargs()).low_res_logits > 0
    want = checks.spec_outputs(port, case)[0] > 0
    union = (got | want).sum(axis=(-2, -1))
    iou = np.where(union > 0, (got & want).sum(axis=(-2, -1)) / np.maximum(union, 1), 1.0)
    assert iou.min() >= 0.95, f"mask IoU {iou.min():.3f} against the spec\n{recipe.snippet('onnx')}"


def test_the_kit_check_fails_the_int8_graph_at_float32_tolerance(monkeypatch) -> None:
    """The kit's lower-precision check (which runs "onnx" with "int8" from the declared dtypes)
    can fail: held to the float32 tolerance, the int8 graph's logits are outside it."""
    checks.check_matches_spec("onnx", RECIPES[4], "int8")  # within its declared tolerance
    monkeypatch.setitem(OnnxBackend.tolerances, "int8", FLOAT32_TOLERANCE)
    with pytest.raises(AssertionError, match="low_res_logits"):
        checks.check_matches_spec("onnx", RECIPES[4], "int8")
