"""A small run of benchmarks/service.py: concurrent clients against ``samcore serve`` on 127.0.0.1;
every request is answered (200, or 503 + Retry-After and then 200), none is lost."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("PIL")

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "service.py"


def test_every_request_of_a_small_load_is_answered(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("service_benchmark", BENCHMARK)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    weights = benchmark.random_sam(tmp_path, "tiny")
    # A queue of 2 for 8 clients: uploads refused with 503 (likely, not certain) must be answered on retry.
    result = benchmark.run(weights, clients=8, images=3, server_options=["--max-batch", "2", "--max-queue", "2"],
                           time_limit=120)
    assert result["requests"] == 24 and result["answered_200"] == 24 and result["lost"] == 0, result
    assert result["etags_are_content_keys"] and result["every_503_had_retry_after"]
    assert result["encoder_batches"] <= 24 and result["p95_ms"] >= result["p50_ms"] > 0
    assert result["server_peak_rss_mb"] > 0
