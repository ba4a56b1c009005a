"""Embedding: the payload a server sends a device, as a file or bytes."""

from __future__ import annotations

import numpy as np
import pytest

from samcore import Embedding
from samcore.errors import InputError, InputTypeError


@pytest.fixture
def embedding() -> Embedding:
    features = np.random.default_rng(0).standard_normal((1, 16, 8, 8)).astype(np.float32) * 3
    return Embedding(features, (480, 640), (96, 128), "ab" * 32)


def test_float32_round_trip_is_exact(embedding: Embedding, tmp_path) -> None:
    embedding.save(tmp_path / "e.safetensors")
    for loaded in (Embedding.load(tmp_path / "e.safetensors"), Embedding.from_bytes(embedding.to_bytes("float32"))):
        assert loaded.features.dtype == np.float32
        np.testing.assert_array_equal(loaded.features, embedding.features)
        assert (loaded.original_size, loaded.input_size, loaded.model_id) == ((480, 640), (96, 128), "ab" * 32)


def test_float16_halves_the_payload_within_its_rounding(embedding: Embedding) -> None:
    half, full = embedding.to_bytes("float16"), embedding.to_bytes("float32")
    assert len(half) < 0.6 * len(full)
    loaded = Embedding.from_bytes(half)
    assert loaded.features.dtype == np.float32
    np.testing.assert_allclose(loaded.features, embedding.features, rtol=2**-11, atol=0)
    assert not np.array_equal(loaded.features, embedding.features)


def test_bad_values_are_refused(embedding: Embedding, tmp_path) -> None:
    with pytest.raises(InputError, match=r"features: expected shape \[1, C, h, w\], got \[16, 8, 8\]"):
        Embedding(embedding.features[0], (1, 1), (1, 1))
    with pytest.raises(InputTypeError, match="features: expected a float array, got dtype int64"):
        Embedding(np.zeros((1, 2, 2, 2), np.int64), (1, 1), (1, 1))
    with pytest.raises(InputError, match="original_size: expected two positive ints"):
        Embedding(embedding.features, (0, 5), (1, 1))
    with pytest.raises(InputError, match="dtype: expected one of"):
        embedding.to_bytes("bfloat16")
    with pytest.raises(InputError, match="data: expected a samcore embedding"):
        Embedding.from_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    (tmp_path / "x.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"x\.safetensors: data: expected a samcore embedding"):
        Embedding.load(tmp_path / "x.safetensors")
