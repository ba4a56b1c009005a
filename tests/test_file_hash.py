"""``remembered_sha256``: a weights file is hashed once per version, not on every load."""

from __future__ import annotations

import hashlib
import os

import pytest

import samcore.weights.file_hash as file_hash
from samcore import Encoder
from samcore.cache import cached_files, clear_cache
from samcore.weights import default_weights_path, remembered_sha256


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every full read of a file by ``sha256_file``."""
    reads: list[str] = []
    real = file_hash.sha256_file

    def counted(path):
        reads.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(file_hash, "sha256_file", counted)
    return reads


def test_second_load_reads_no_file_and_a_changed_file_is_hashed_again(tmp_path, monkeypatch, cache_folder) -> None:
    reads = _counting(monkeypatch)
    path = tmp_path / "weights.bin"
    path.write_bytes(b"first version")
    assert remembered_sha256(path) == hashlib.sha256(b"first version").hexdigest()
    assert remembered_sha256(path) == hashlib.sha256(b"first version").hexdigest()
    assert len(reads) == 1
    path.write_bytes(b"second version, longer")
    assert remembered_sha256(path) == hashlib.sha256(b"second version, longer").hexdigest()
    assert len(reads) == 2
    assert any(f.suffix == ".sha256" for f in cached_files())  # `samcore cache clear` removes it
    clear_cache()
    remembered_sha256(path)
    assert len(reads) == 3


def test_a_malformed_entry_is_recomputed(tmp_path, monkeypatch, cache_folder) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"data")
    clear_cache()
    remembered_sha256(path)
    (entry,) = [f for f in cached_files() if f.suffix == ".sha256"]
    entry.write_text("not a digest")
    reads = _counting(monkeypatch)
    assert remembered_sha256(path) == hashlib.sha256(b"data").hexdigest()
    assert len(reads) == 1


def test_encoder_model_id_is_the_file_sha256(monkeypatch, cache_folder) -> None:
    """The public call: ``Encoder.from_weights`` twice hashes the bundled file once."""
    reads = _counting(monkeypatch)
    first = Encoder.from_weights(backend="numpy").model_id
    second = Encoder.from_weights(backend="numpy").model_id
    assert first == second == hashlib.sha256(default_weights_path().read_bytes()).hexdigest()
    assert len(reads) == 1
