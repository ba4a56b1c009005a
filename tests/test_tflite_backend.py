"""The TFLite backend: .tflite files of builtin operators written from the spec, checked against the spec."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip(
    "ai_edge_litert", reason="ai-edge-litert is not installed (pip install 'segment-anything-samcore[tflite]')"
)
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'segment-anything-samcore[tflite]')")

from samcore_tflite import TFLiteBackend, cache, export_tflite, tflite_metadata, tflite_ops

from samcore import Decoder
from samcore.backend import FLOAT32_TOLERANCE
from samcore.conformance import checks
from samcore.conformance.strategies import CONFIGS, CaseRecipe
from samcore.errors import InputError
from samcore.inputs import check_prompts
from samcore.random_weights import random_params
from samcore.weights import save_tensors

TINY, TINY_GRID = CONFIGS["tiny"]
VIT_B, VIT_B_GRID = CONFIGS["vit_b"]


pytestmark = pytest.mark.usefixtures("cache_folder")  # every export of this module: a fresh folder


@pytest.fixture(scope="module")
def tiny_params():
    return random_params(TINY, seed=5)


@pytest.fixture(scope="module")
def vit_b_params():
    return random_params(VIT_B, seed=11)


def _case(config, grid: int, rng: np.random.Generator, points: int, box: bool, mask: bool, labels=(-1, 0, 1)):
    """(embedding, point_coords, point_labels, boxes, mask_input) for one prompt."""
    frame = config.frame_size((grid, grid))[0]
    embedding = rng.standard_normal((1, config.embed_dim, grid, grid)).astype(np.float32)
    coords = (rng.random((1, points, 2)) * frame).astype(np.float32) if points else None
    point_labels = rng.choice(np.array(labels), (1, points)) if points else None
    boxes = np.sort(rng.random((1, 2, 2)) * frame, axis=1).reshape(1, 4).astype(np.float32) if box else None
    mask_input = (4 * rng.standard_normal((1, 1, 4 * grid, 4 * grid))).astype(np.float32) if mask else None
    return embedding, coords, point_labels, boxes, mask_input


# --- the file ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantize", [None, "fp16", "int8"])
def test_files_use_builtin_operators_only(tiny_params, tmp_path, quantize) -> None:
    from ai_edge_litert import schema_py_generated as schema

    path = tmp_path / "decoder.tflite"
    ops = export_tflite(tiny_params, TINY, path, points=5, quantize=quantize, grid=(TINY_GRID, TINY_GRID))
    assert ops == tflite_ops(path) == sorted(ops)
    builtins = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    assert set(ops) <= builtins - {"CUSTOM", "DELEGATE"} and not any(op.startswith("STABLEHLO") for op in ops)
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "GELU", "SOFTMAX", "CONV_2D", "LESS"} <= set(ops)
    assert ("DEQUANTIZE" in ops) == (quantize is not None)
    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    assert all(code.CustomCode() is None for code in codes)
    meta = tflite_metadata(path)["samcore"].decode()
    assert '"samcore.points": 5' in meta and '"samcore.grid": "8x8"' in meta


def test_io_layout(tiny_params, tmp_path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = tmp_path / "decoder.tflite"
    export_tflite(tiny_params, TINY, path, points=6, grid=(TINY_GRID, TINY_GRID))
    it = Interpreter(model_path=str(path))
    inputs = {d["name"]: (list(d["shape"]), d["dtype"]) for d in it.get_input_details()}
    outputs = {d["name"]: (list(d["shape"]), d["dtype"]) for d in it.get_output_details()}
    g, c, t = TINY_GRID, TINY.embed_dim, TINY.num_mask_tokens
    assert inputs == {
        "image_embedding": ([1, c, g, g], np.float32), "point_coords": ([1, 6, 2], np.float32),
        "point_labels": ([1, 6], np.int32), "num_tokens": ([1], np.int32),
        "mask_input": ([1, 1, 4 * g, 4 * g], np.float32),
    }
    assert outputs == {"low_res_logits": ([1, t, 4 * g, 4 * g], np.float32), "iou_predictions": ([1, t], np.float32)}
    assert list(it.get_signature_list()["serving_default"]["inputs"]) == sorted(inputs)


# --- the backend against the spec ------------------------------------------------------------------

TINY_CASES = [  # points, kinds, multimask, labels
    (1, "points", True, (1,)), (3, "points+box", False, (-1, 0, 1)), (1, "box", True, (1,)),
    (1, "mask", True, (1,)), (2, "points+mask", False, (0, 1)), (4, "points+box+mask", True, (-1, 0, 1, 2, 3)),
    (9, "points+box", True, (0, 1)),  # 11 tokens: the 16-token graph
]


@pytest.mark.parametrize(("points", "kinds", "multimask", "labels"), TINY_CASES)
def test_float32_equals_spec_tiny(points, kinds, multimask, labels) -> None:
    recipe = CaseRecipe("tiny", points, 1, kinds, points, labels, multimask)
    checks.check_matches_spec("tflite", recipe)


@pytest.mark.slow
def test_float32_equals_spec_vit_b() -> None:
    for i, (points, kinds, multimask) in enumerate([(2, "points+box", True), (1, "points+mask", False),
                                                    (1, "box+mask", True)]):
        checks.check_matches_spec("tflite", CaseRecipe("vit_b", i, 1, kinds, points, (-1, 0, 1), multimask))


@pytest.mark.slow
@pytest.mark.parametrize(("dtype", "size_ratio"), [("float16", 0.55), ("int8", 0.3)])
def test_reduced_precision_within_declared_tolerance_and_smaller(vit_b_params, dtype, size_ratio) -> None:
    for i, (points, kinds) in enumerate([(3, "points"), (1, "points+box+mask")]):
        checks.check_matches_spec("tflite", CaseRecipe("vit_b", 10 + i, 1, kinds, points, (-1, 0, 1), True), dtype)
    backend = TFLiteBackend(vit_b_params, VIT_B, "cpu", dtype)
    grid = (VIT_B_GRID, VIT_B_GRID)
    options = {"points": 8, "with_mask_input": False, "multimask_output": True}
    reference = TFLiteBackend(vit_b_params, VIT_B, "cpu", "float32")
    reference.interpreter(grid, False, 8)  # exports the float32 files
    backend.interpreter(grid, False, 8)
    for which in (0, 1):  # per image, per prompt
        size = {q: cache.fast_cache_paths(backend.weights_sha256, grid, quantize=q, **options)[which].stat().st_size
                for q in (None, backend.quantize)}
        assert size[backend.quantize] < size_ratio * size[None], (which, size)


def test_batched_prompts_equal_each_alone(tiny_params) -> None:
    dec = Decoder(tiny_params, TINY, backend="tflite")
    rng = np.random.default_rng(4)
    embedding = rng.standard_normal((1, TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    coords, labels = (rng.random((3, 2, 2)) * 128).astype(np.float32), np.array([[1, 0], [1, 1], [0, -1]])
    batched = dec.predict(embedding, coords, labels)
    for i in range(3):
        alone = dec.predict(embedding, coords[i : i + 1], labels[i : i + 1])
        np.testing.assert_array_equal(batched.low_res_logits[i : i + 1], alone.low_res_logits)


# --- points, padding, interpreters ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(TFLiteBackend.dtypes))
@pytest.mark.parametrize("mask", [False, True])
def test_users_prompts_equal_the_spec_on_the_same_prompts(dtype, mask) -> None:
    """The 8-token graph, every number of real tokens it holds: 1..7 points (+ SAM's padding
    point), 0..6 points with a box; multimask on and off; each dtype within its declared
    tolerance of the spec on the user's prompts (no padding on the spec's side)."""
    seed = 0
    for box in (False, True):
        for points in range(0 if box else 1, 7 if box else 8):
            kinds = "+".join(k for k, given in (("points", points), ("box", box), ("mask", mask)) if given)
            for multimask in (False, True):
                seed += 1
                recipe = CaseRecipe("tiny", seed, 1, kinds, max(points, 1), (-1, 0, 1), multimask)
                checks.check_matches_spec("tflite", recipe, dtype)


def test_padded_points_keep_sams_padding_point_and_count_real_tokens(tiny_params) -> None:
    backend = TFLiteBackend(tiny_params, TINY, "cpu", "float32", points=6)
    grid, frame = (TINY_GRID, TINY_GRID), TINY.frame_size((TINY_GRID, TINY_GRID))
    points = check_prompts([[[1.0, 2.0], [3.0, 4.0]]], [[1, 0]], None, None, grid, frame)
    coords, labels, tokens = backend.padded_points(points)  # 2 points + SAM's padding point = 3 real tokens
    assert tokens == 3 and coords.shape == (1, 6, 2) and labels.tolist() == [[1, 0, -1, -1, -1, -1]]
    mask = np.zeros((1, 1, 4 * TINY_GRID, 4 * TINY_GRID), np.float32)
    _, labels, tokens = backend.padded_points(check_prompts(None, None, None, mask, grid, frame))
    assert tokens == 0 and labels.tolist() == [[-1] * 6]  # a mask alone: no real token
    assert TFLiteBackend(tiny_params, TINY, "cpu", "float32").graph_points(9) == 16


def test_exported_file_equals_the_spec_for_every_number_of_real_tokens(tiny_params, tmp_path) -> None:
    """``export_tflite --points 6``: the user's K <= 6 tokens then fillers, num_tokens = K."""
    from samcore_tflite.runtime import open_interpreter

    from samcore.spec import decode_all_tokens

    path = tmp_path / "decoder.tflite"
    export_tflite(tiny_params, TINY, path, points=6, grid=(TINY_GRID, TINY_GRID))
    it = open_interpreter(str(path), 1)
    inputs = {d["name"]: d["index"] for d in it.get_input_details()}
    outputs = {d["name"]: d["index"] for d in it.get_output_details()}
    backend = TFLiteBackend(tiny_params, TINY, "cpu", "float32", points=6)  # its host-side padding
    grid, frame = (TINY_GRID, TINY_GRID), TINY.frame_size((TINY_GRID, TINY_GRID))
    rng = np.random.default_rng(7)
    for points, box in [(0, False), (1, False), (3, False), (5, False), (0, True), (2, True), (4, True)]:
        embedding, *prompt = _case(TINY, TINY_GRID, rng, points, box, True)
        coords, labels, tokens = backend.padded_points(check_prompts(*prompt, grid, frame))
        feed = {"image_embedding": embedding, "point_coords": coords, "point_labels": labels.astype(np.int32),
                "num_tokens": np.array([tokens], np.int32), "mask_input": prompt[3]}
        for name, value in feed.items():
            it.set_tensor(inputs[name], value)
        it.invoke()
        spec = decode_all_tokens(tiny_params, TINY, embedding, *prompt)
        for name, want in zip(("low_res_logits", "iou_predictions"), spec, strict=True):
            got = it.get_tensor(outputs[name])
            assert np.all(np.abs(got - want) <= FLOAT32_TOLERANCE[name].bound(want)), (points, box, name)


def test_too_many_points_is_an_input_error(tiny_params) -> None:
    backend = TFLiteBackend(tiny_params, TINY, "cpu", "float32", points=4)
    grid, frame = (TINY_GRID, TINY_GRID), TINY.frame_size((TINY_GRID, TINY_GRID))
    prompts = check_prompts(np.ones((1, 4, 2), np.float32), np.ones((1, 4), np.int64), None, None, grid, frame)
    embedding = np.zeros((1, TINY.embed_dim, TINY_GRID, TINY_GRID), np.float32)
    with pytest.raises(InputError, match=r"at most 4 tokens.*got 5 \(4 points \+ a padding point \(no box\)\)") as info:
        backend.decode(embedding, prompts, True)
    assert "--points 5" in str(info.value) and "corner" not in str(info.value)
    boxed = check_prompts(np.ones((1, 3, 2), np.float32), np.ones((1, 3), np.int64), [[1, 2, 3, 4]], None, grid, frame)
    with pytest.raises(InputError, match=r"got 5 \(3 points \+ 2 box corners\)"):
        backend.decode(embedding, boxed, True)


def test_interpreters_and_files_are_reused(tiny_params) -> None:
    embedding = np.random.default_rng(3).standard_normal((1, TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    prompts = check_prompts([[[10.0, 20.0]]], [[1]], None, None, (TINY_GRID, TINY_GRID), TINY.frame_size((8, 8)))
    first = TFLiteBackend(tiny_params, TINY, "cpu", "float32", num_threads=1)
    expected = first.decode(embedding, prompts, True)
    interpreter = first.interpreter((TINY_GRID, TINY_GRID), False, 8)
    exports = TFLiteBackend.exports
    for got, want in zip(first.decode(embedding, prompts, True), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert first.interpreter((TINY_GRID, TINY_GRID), False, 8) is interpreter and len(first.model_files()) == 2
    second = TFLiteBackend({k: v.copy() for k, v in tiny_params.items()}, TINY, "cpu", "float32")
    second.decode(embedding, prompts, True)
    assert TFLiteBackend.exports == exports  # the same weights: the cached file


def test_a_corrupt_cache_file_is_exported_again(tiny_params) -> None:
    backend = TFLiteBackend(tiny_params, TINY, "cpu", "float32")
    paths = cache.fast_cache_paths(backend.weights_sha256, (4, 4), points=8, quantize=None, with_mask_input=False,
                                   multimask_output=True)
    paths[1].parent.mkdir(parents=True, exist_ok=True)
    for path in paths:
        path.write_bytes(b"not a model")
    backend.interpreter((4, 4), False, 8)
    backend.image_interpreter((4, 4))
    assert all("samcore" in tflite_metadata(path) for path in paths)


def test_registered_with_alias_and_dtypes() -> None:
    from samcore.registry import get

    assert get("litert") is TFLiteBackend and get("tflite") is TFLiteBackend
    availability = TFLiteBackend.availability()
    assert availability.available and availability.devices == ("cpu",) and "ai_edge_litert" in availability.version
    assert TFLiteBackend.dtypes == ("float32", "float16", "int8")
    assert TFLiteBackend.capabilities.batched_prompts


def test_importing_the_package_needs_no_runtime() -> None:
    script = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('ai_edge_litert', 'tflite_runtime', 'onnx', 'tensorflow'):\n"
        "            raise ImportError('blocked by test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import samcore_tflite\n"
        "a = samcore_tflite.TFLiteBackend.availability()\n"
        "assert not a.available and 'ai-edge-litert' in a.reason, a\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


# --- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("quantize", [[], ["--quantize", "int8"]])
def test_cli_exports_and_prints_size_and_ops(tiny_params, tmp_path, capsys, quantize) -> None:
    from samcore.cli import main

    weights, out = tmp_path / "tiny.safetensors", tmp_path / "decoder.tflite"
    save_tensors(weights, tiny_params, TINY.metadata())
    argv = ["export", "tflite", str(weights), "--points", "4", "--grid", str(TINY_GRID), "-o", str(out), *quantize]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and " MB, " in text and "FULLY_CONNECTED" in text and "GELU" in text
    assert ("DEQUANTIZE" in text) == bool(quantize)
    assert tflite_ops(out) == sorted(text.rsplit(": ", 1)[1].strip().split(", "))


def test_set_image_runs_the_per_image_graph_once(tiny_params) -> None:
    rng = np.random.default_rng(5)
    embedding = rng.standard_normal((1, TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    grid = (TINY_GRID, TINY_GRID)
    backend = TFLiteBackend(tiny_params, TINY, "cpu", "float32")
    backend.set_image(embedding)
    assert backend.image_runs == 1
    for multimask in (True, False):
        prompts = check_prompts(rng.random((2, 2, 2)).astype(np.float32) * 100, [[1, 0], [1, 1]], None, None, grid,
                                TINY.frame_size(grid))
        logits, iou = backend.decode(embedding, prompts, multimask)
        fresh = TFLiteBackend(tiny_params, TINY, "cpu", "float32").decode(embedding.copy(), prompts, multimask)
        np.testing.assert_array_equal(logits, fresh[0])
        np.testing.assert_array_equal(iou, fresh[1])
        assert logits.shape[1] == iou.shape[1] == (TINY.num_mask_tokens - 1 if multimask else 1)
    assert backend.image_runs == 1  # the features were reused
