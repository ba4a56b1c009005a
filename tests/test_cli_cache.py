"""The export cache as the command line shows it: said once when first filled, ``samcore
cache info|clear``, and LiteRT's XNNPACK notice kept off stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from samcore.cache import cached_files, clear_cache


def test_the_first_export_is_announced_once_and_the_cache_can_be_cleared(tmp_path: Path, run_samcore) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx backend exports into the cache")
    cache = tmp_path / "cache"
    first = run_samcore("predict", "--backend", "onnx")
    assert first.returncode == 0, first.stderr
    notice = [line for line in first.stderr.splitlines() if "cache" in line]
    assert len(notice) == 1 and str(cache) in notice[0] and "samcore cache clear" in notice[0]
    second = run_samcore("predict", "--backend", "onnx")
    assert second.returncode == 0 and "cache" not in second.stderr  # once: the cache is not empty now

    exported = sorted(p.name for p in cache.iterdir() if p.suffix in (".onnx", ".sha256"))
    assert any(name.endswith(".onnx") for name in exported)
    assert any(name.endswith(".sha256") for name in exported)  # the weights file's remembered digest
    (cache / "notes.txt").write_text("not samcore's")
    info = run_samcore("cache", "info")
    assert info.returncode == 0 and str(cache) in info.stdout and f"{len(exported)} cached files" in info.stdout
    assert all(name in info.stdout for name in exported)
    cleared = run_samcore("cache", "clear")
    assert cleared.returncode == 0 and f"removed {len(exported)} cached files" in cleared.stdout
    assert sorted(p.name for p in cache.iterdir()) == ["notes.txt"]  # only exported files go
    assert "0 cached files" in run_samcore("cache", "info").stdout


def test_clear_cache_removes_kind_folders_it_empties(tmp_path: Path, monkeypatch) -> None:
    """Without $SAMCORE_CACHE the cache is ~/.cache/samcore/<kind>/."""
    monkeypatch.delenv("SAMCORE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    root = tmp_path / ".cache" / "samcore"
    (root / "onnx").mkdir(parents=True)
    (root / "onnx" / "decoder-x.onnx").write_bytes(b"12345")
    (root / "tflite").mkdir()
    (root / "tflite" / "fast-image-x.tflite").write_bytes(b"123")
    (root / "tflite" / "keep.json").write_text("{}")
    assert [p.name for p in cached_files()] == ["decoder-x.onnx", "fast-image-x.tflite"]
    assert clear_cache() == (2, 8)
    assert not (root / "onnx").exists() and sorted(p.name for p in (root / "tflite").iterdir()) == ["keep.json"]


def test_litert_xnnpack_notice_is_not_printed(run_samcore) -> None:
    pytest.importorskip("ai_edge_litert", reason="the tflite backend needs ai-edge-litert")
    result = run_samcore("predict", "--backend", "tflite")
    assert result.returncode == 0, result.stderr
    assert "decoded in" in result.stdout and "XNNPACK" not in result.stderr
