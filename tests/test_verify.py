"""``samcore verify``: every kind of file ``samcore export`` writes passes against the spec,
and a file with one weight perturbed inside it fails."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'samcore[onnx]')")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed (pip install 'samcore[tflite]')")

from samcore.cli import main
from samcore.conformance.strategies import CONFIGS
from samcore.conformance.verify import verify_file
from samcore.errors import BackendError, InputError
from samcore.random_weights import random_params
from samcore.weights import save_tensors

TINY, GRID = CONFIGS["tiny"]
#: One weight of every file: the IoU head's last bias (float32 in every dtype, stored as is).
WEIGHT = "mask_decoder.iou_prediction_head.layers.2.bias"

KINDS = {  # file name -> `samcore export` arguments
    "samcore.onnx": ["onnx"],
    "samcore_nomask.onnx": ["onnx", "--no-mask-input"],
    "meta.onnx": ["onnx", "--interface", "meta"],
    "meta_single.onnx": ["onnx", "--interface", "meta", "--single-mask"],
    "float32.tflite": ["tflite", "--points", "5"],
    "float32_nomask.tflite": ["tflite", "--points", "5", "--no-mask-input"],
    "fp16.tflite": ["tflite", "--points", "5", "--quantize", "fp16"],
    "int8.tflite": ["tflite", "--points", "5", "--quantize", "int8"],
}


@pytest.fixture(scope="module")
def params():
    return random_params(TINY, seed=5)


@pytest.fixture(scope="module")
def weights(params, tmp_path_factory):
    path = tmp_path_factory.mktemp("verify") / "tiny.safetensors"
    save_tensors(path, params, TINY.metadata())
    return path


def _export(weights, folder, name: str):
    fmt, *options = KINDS[name]
    path = folder / name
    assert main(["export", fmt, str(weights), "--grid", str(GRID), "-o", str(path), *options]) == 0
    return path


@pytest.mark.parametrize("name", list(KINDS))
def test_every_exported_file_passes(weights, tmp_path, capsys, name) -> None:
    path = _export(weights, tmp_path, name)
    capsys.readouterr()
    assert main(["verify", str(path), "--weights", str(weights)]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "max |logit err|" in out and "mask IoU" in out and " ok" in out


@pytest.mark.parametrize("name", ["samcore.onnx", "meta.onnx", "float32.tflite", "fp16.tflite", "int8.tflite"])
def test_a_file_with_one_weight_perturbed_fails(params, weights, tmp_path, capsys, name) -> None:
    path = _export(weights, tmp_path, name)
    data = bytearray(path.read_bytes())
    stored = np.ascontiguousarray(params[WEIGHT], np.float32).tobytes()
    assert data.count(stored) == 1, "the weight is stored once, as is"
    at = data.index(stored) + 4  # element 1: mask token 1's IoU, returned with multimask output
    data[at : at + 4] = (np.frombuffer(stored[4:8], np.float32) + np.float32(0.5)).tobytes()
    path.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(path), "--weights", str(weights)]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "FAILED" in captured.out and "outside the file's declared tolerance" in \
        captured.err
    result = verify_file(path, params, TINY)
    assert not result.passed and max(c.iou_error for c in result.cases) == pytest.approx(0.5, abs=0.06)


def test_other_weights_are_refused(params, weights, tmp_path) -> None:
    path = _export(weights, tmp_path, "samcore.onnx")
    other = random_params(TINY, seed=6)
    with pytest.raises(InputError, match="weights: expected the weights the file was exported from"):
        verify_file(path, other, TINY)


def test_an_unknown_suffix_names_the_known_ones(params, tmp_path) -> None:
    path = tmp_path / "decoder.bin"
    path.write_bytes(b"")
    with pytest.raises(BackendError, match=r"\.onnx.*\.tflite"):
        verify_file(path, params, TINY)
