"""safetensors loading, validation and conversion of official-layout checkpoints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import samcore.weights.safetensors_io as safetensors_io
from samcore import Decoder, Predictor
from samcore.config import DecoderConfig, expected_shapes
from samcore.errors import CheckpointFormatError, SamcoreError, WeightsError
from samcore.random_weights import random_params
from samcore.weights import (
    convert_checkpoint,
    default_weights_path,
    describe,
    load_decoder_params,
    load_manifest,
    random_decoder_path,
    save_tensors,
)

TINY = DecoderConfig(embed_dim=32, mlp_dim=64, num_heads=2, iou_head_hidden_dim=32)


@pytest.fixture
def tiny_file(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_tensors(path, random_params(TINY, seed=1), TINY.metadata())
    return path


def test_save_makes_non_contiguous_arrays_contiguous(tmp_path) -> None:
    """safetensors.numpy 0.8 scrambles a.T silently; save_tensors must not."""
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    tensors = {"transposed": a.T, "strided": a[:, ::2], "reversed": a[::-1]}
    save_tensors(tmp_path / "t.safetensors", tensors, {})
    loaded = load_file(tmp_path / "t.safetensors")
    for key, value in tensors.items():
        np.testing.assert_array_equal(loaded[key], value)


def test_loading_reads_only_decoder_tensors(tmp_path, monkeypatch) -> None:
    params = random_params(TINY, seed=1) | {"image_encoder.blocks.0.big": np.zeros((256, 1024), np.float32)}
    save_tensors(tmp_path / "full.safetensors", params, TINY.metadata())
    read = []
    real_safe_open = safetensors_io.safe_open

    class Recording:
        def __init__(self, *args, **kwargs):
            self.inner = real_safe_open(*args, **kwargs)

        def __enter__(self):
            self.file = self.inner.__enter__()
            return self

        def __exit__(self, *exc):
            return self.inner.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def get_tensor(self, key):
            read.append(key)
            return self.file.get_tensor(key)

    monkeypatch.setattr(safetensors_io, "safe_open", Recording)
    loaded, config = load_decoder_params(tmp_path / "full.safetensors")
    assert config == TINY
    assert sorted(read) == sorted(expected_shapes(TINY))
    for key, value in loaded.items():
        np.testing.assert_array_equal(value, params[key])


@pytest.mark.parametrize(
    "change, fragments",
    [
        (lambda p: p.pop("mask_decoder.output_upscaling.1.bias"), ["missing keys", "output_upscaling.1.bias"]),
        (lambda p: p.pop("mask_decoder.iou_token.weight"), ["cannot infer", "mask_decoder.iou_token.weight"]),
        (lambda p: p.update({"mask_decoder.extra.weight": np.zeros(2, np.float32)}), ["unexpected", "extra.weight"]),
        (
            lambda p: p.update({"prompt_encoder.no_mask_embed.weight": np.zeros((1, 31), np.float32)}),
            ["prompt_encoder.no_mask_embed.weight", "expected shape [1, 32]", "got [1, 31]"],
        ),
        (
            lambda p: p.update({"mask_decoder.mask_tokens.weight": np.zeros((4, 32), np.int32)}),
            ["mask_decoder.mask_tokens.weight", "float dtype", "I32"],
        ),
    ],
    ids=["missing", "missing for inference", "unexpected", "shape", "dtype"],
)
def test_bad_weights_are_named(tmp_path, change, fragments) -> None:
    params = random_params(TINY, seed=1)
    change(params)
    save_tensors(tmp_path / "bad.safetensors", params, TINY.metadata())
    with pytest.raises(WeightsError) as info:
        load_decoder_params(tmp_path / "bad.safetensors")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_half_precision_weights_load_as_float32(tmp_path) -> None:
    params = {k: v.astype(np.float16) for k, v in random_params(TINY, seed=1).items()}
    save_tensors(tmp_path / "half.safetensors", params, TINY.metadata())
    loaded, _ = load_decoder_params(tmp_path / "half.safetensors")
    assert all(v.dtype == np.float32 for v in loaded.values())


@pytest.mark.parametrize("cut", [0, 4, 8, 50, -100, -1])
def test_truncated_safetensors_is_refused(tiny_file, tmp_path, cut) -> None:
    data = tiny_file.read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:cut])
    with pytest.raises(CheckpointFormatError, match=r"cut\.safetensors"):
        load_decoder_params(bad)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff" * 8 + b"{}",  # header length 2**64 - 1
        (10).to_bytes(8, "little") + b"not json!!",
        np.random.default_rng(0).bytes(4096),
        (2).to_bytes(8, "little") + b"[]",
    ],
    ids=["huge header", "bad json", "random", "header not a dict"],
)
def test_corrupt_safetensors_is_refused(tmp_path, payload) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(payload)
    with pytest.raises(CheckpointFormatError):
        load_decoder_params(bad)


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        Decoder.from_weights(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointFormatError, match="expected a checkpoint file, got no such file"):
        convert_checkpoint(tmp_path / "missing.pth", tmp_path / "out.safetensors")


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"\x80\x02"], ids=["zip", "legacy"])
def test_a_torch_checkpoint_read_as_safetensors_says_convert(tmp_path, magic) -> None:
    (tmp_path / "sam.pth").write_bytes(magic + b" the rest of a torch.save file")
    with pytest.raises(CheckpointFormatError) as info:
        Decoder.from_weights(tmp_path / "sam.pth")
    assert "PyTorch checkpoint" in str(info.value) and f"samcore convert {tmp_path / 'sam.pth'}" in str(info.value)
    assert "header too large" not in str(info.value)


def test_saving_twice_writes_the_same_bytes_mode_0644(tmp_path) -> None:
    """safetensors orders metadata by a per-process hash; save_tensors sorts it. Two processes."""
    script = (
        "import sys, numpy as np; from samcore.weights import save_tensors; "
        "save_tensors(sys.argv[1], {'b': np.ones(3, np.float32), 'a': np.zeros(2, np.float16)}, "
        "{f'key{i}': str(i) for i in range(20)})"
    )
    for name in ("one", "two"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], check=True)
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "one").stat().st_mode & 0o777 == 0o666 & ~umask
    data = (tmp_path / "one").read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    loaded = load_file(tmp_path / "one")
    np.testing.assert_array_equal(loaded["b"], np.ones(3, np.float32))


def test_bundled_default_and_manifest() -> None:
    manifest = load_manifest()
    names = {c["name"] for c in manifest["checkpoints"]}
    assert names == {"sam_vit_b", "sam_vit_l", "sam_vit_h", "mobile_sam"}
    for checkpoint in manifest["checkpoints"]:
        assert re.fullmatch(r"[0-9a-f]{64}", checkpoint["sha256"]) and checkpoint["size"] > 0
        assert checkpoint["url"].startswith("https://") and checkpoint["licence"]
    assert Decoder.from_weights(random_decoder_path()).config == DecoderConfig()  # ViT-B layout, for tests
    assert default_weights_path().name == manifest["default"]
    assert Predictor.from_weights().encoder is not None  # the default model is a whole SAM: it sees pictures


def test_describe_identifies_the_model_and_parts(tmp_path) -> None:
    params = random_params(TINY, seed=1) | {"image_encoder.patch_embed.proj.weight": np.zeros((768, 3, 16, 16))}
    save_tensors(tmp_path / "b.safetensors", params, TINY.metadata())
    info = describe(tmp_path / "b.safetensors")
    assert info["model"] == "sam_vit_b"
    assert info["parameters_by_part"]["image_encoder"] == 768 * 3 * 16 * 16
    assert info["decoder_config"] == TINY
    assert info["decoder_parameters"] == sum(int(np.prod(s)) for s in expected_shapes(TINY).values())
    assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"])


def test_conversion_keeps_every_tensor_of_a_meta_checkpoint(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from samcore.conformance.official import build_official_sam

    sam = build_official_sam(TINY, 8, random_params(TINY, seed=2))
    torch.save(sam.state_dict(), tmp_path / "sam.pth")
    convert_checkpoint(tmp_path / "sam.pth", tmp_path / "sam.safetensors", config=TINY)
    converted = load_file(tmp_path / "sam.safetensors")
    state = sam.state_dict()
    assert set(converted) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(converted[key], value.numpy())
    info = describe(tmp_path / "sam.safetensors")
    assert info["metadata"]["samcore.source_file"] == "sam.pth"
    assert json.loads(info["metadata"]["samcore.config"])["num_heads"] == 2
    assert describe(tmp_path / "sam.pth")["decoder_config"] == DecoderConfig(**{**vars(TINY), "num_heads": 8})


def test_conversion_refuses_a_checkpoint_without_decoder(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"image_encoder.x": torch.zeros(3)}, tmp_path / "enc.pth")
    with pytest.raises(SamcoreError, match="mask_decoder"):
        convert_checkpoint(tmp_path / "enc.pth", tmp_path / "enc.safetensors")
    assert not (tmp_path / "enc.safetensors").exists()


def test_safetensors_files_from_other_tools_load(tmp_path) -> None:
    """A decoder saved by plain safetensors (no samcore metadata) loads with SAM's defaults."""
    config = DecoderConfig(embed_dim=64, num_heads=8, mlp_dim=32, iou_head_hidden_dim=16)
    save_file(random_params(config, seed=0), tmp_path / "plain.safetensors")
    _, loaded = load_decoder_params(tmp_path / "plain.safetensors")
    assert loaded == config
