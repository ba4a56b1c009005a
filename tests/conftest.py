"""Shared fixtures: decoder configs, Meta's official modules with the same weights,
and samcore decoders loaded from those weights after torch.save + conversion."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from samcore import Decoder, DecoderConfig
from samcore.conformance.strategies import CONFIGS, WEIGHTS_SEED
from samcore.random_weights import random_params

#: Largest |samcore - official| seen in this run, reported at the end.
PARITY_MAX: dict[str, float] = {}


def record_parity(name: str, ours: np.ndarray, official: np.ndarray) -> float:
    """Max abs difference of two arrays, remembered for the end-of-run report."""
    diff = float(np.abs(ours - official).max()) if ours.size else 0.0
    PARITY_MAX[name] = max(PARITY_MAX.get(name, 0.0), diff)
    return diff


def pytest_terminal_summary(terminalreporter) -> None:
    if PARITY_MAX:
        terminalreporter.section("parity with segment-anything (max abs difference)")
        for name, diff in sorted(PARITY_MAX.items()):
            terminalreporter.write_line(f"{name}: {diff:.3g}")


@dataclasses.dataclass
class ParityCase:
    name: str
    config: DecoderConfig
    grid: int
    sam: object  # segment_anything.modeling.Sam with the same weights
    decoders: dict[str, Decoder]  # "reference" (the plain spec), "fast" (the numpy backend), each loaded
    # from torch.save -> samcore convert -> safetensors
    checkpoint: pathlib.Path  # the .pth as Meta saves it


@pytest.fixture(scope="session", params=list(CONFIGS))
def parity_case(request, tmp_path_factory) -> ParityCase:
    """Meta's modules and samcore's decoder with one set of seeded random weights."""
    if request.param == "vit_b":
        request.applymarker(pytest.mark.slow)
    torch = pytest.importorskip("torch")
    from samcore.conformance.official import build_official_sam
    from samcore.weights import convert_checkpoint

    config, grid = CONFIGS[request.param]
    sam = build_official_sam(config, grid, random_params(config, seed=WEIGHTS_SEED))
    folder = tmp_path_factory.mktemp(request.param)
    checkpoint = folder / "sam.pth"
    torch.save(sam.state_dict(), checkpoint)
    # The config goes in the file's metadata (num_heads is not in any shape) and comes back on load.
    convert_checkpoint(checkpoint, folder / "sam.safetensors", config=config)
    decoders = {path: Decoder.from_weights(folder / "sam.safetensors", backend=backend)
                for path, backend in (("reference", "reference"), ("fast", "numpy"))}
    return ParityCase(request.param, config, grid, sam, decoders, checkpoint)


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory):
    """A fresh $SAMCORE_CACHE for one test module (exports there start from nothing)."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("cache")
        mp.setenv("SAMCORE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_decoder() -> Decoder:
    """A small decoder (C=32, 8x8 grid) for fast property and input tests."""
    config, _ = CONFIGS["tiny"]
    return Decoder(random_params(config, seed=3), config, backend="numpy")


#: The console script of this environment (``python -m samcore`` where it is not installed).
SCRIPT = pathlib.Path(sys.executable).with_name("samcore")
SAMCORE_COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "samcore"]


@pytest.fixture()
def run_samcore(tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the console script in ``tmp_path`` (``run_samcore(*args, env={...})``); exported graphs
    go to ``tmp_path / "cache"``, never to ~/.cache."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full_env = os.environ | {"SAMCORE_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"} | (env or {})
        return subprocess.run([*SAMCORE_COMMAND, *args], capture_output=True, text=True, env=full_env, cwd=tmp_path,
                              timeout=300)

    return run
