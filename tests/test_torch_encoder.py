"""samcore_torch's image encoder (SamEncoder, TorchEncoder) against Meta's ImageEncoderViT.

The conformance kit holds TorchEncoder to the spec (samcore/conformance/test_encoder.py);
these tests hold the module to Meta's own at the kit's small configs, and check the
official key names, the head grouping of long attention and the progress reports.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
official = pytest.importorskip("samcore.conformance.official")

from samcore_torch import SamEncoder, TorchEncoder  # noqa: E402
from samcore_torch import image_encoder as torch_image_encoder  # noqa: E402

from samcore.conformance.encoder_checks import (  # noqa: E402
    ENCODER_CASES,
    embedding_error,
    encoder_case_images,
    encoder_case_params,
)
from samcore.encoder import Encoder  # noqa: E402

SMALL = [name for name in ENCODER_CASES if name != "vit_b"]


def _official(name: str) -> torch.nn.Module:
    return official.build_official_image_encoder(ENCODER_CASES[name].config, encoder_case_params(name))


@pytest.mark.parametrize("name", SMALL)
def test_meta_state_dict_loads_strict(name: str) -> None:
    """Meta's state_dict, under ``image_encoder.``, has exactly SamEncoder's keys and shapes."""
    official = {f"image_encoder.{k}": v for k, v in _official(name).state_dict().items()}
    module = SamEncoder.from_params({k: v.numpy() for k, v in official.items()}, ENCODER_CASES[name].config)
    ours = module.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in official.items()}
    module.load_state_dict(official, strict=True)


@pytest.mark.parametrize("name", SMALL)
def test_float32_matches_meta(name: str) -> None:
    """Meta's ImageEncoderViT and SamEncoder on the same 2 images: within 1e-4 of the RMS."""
    images = encoder_case_images(name, 2, seed=3)
    with torch.inference_mode():
        expected = _official(name)(torch.from_numpy(images)).numpy()
    got = TorchEncoder(encoder_case_params(name), ENCODER_CASES[name].config, "cpu", "float32").encode(images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert embedding_error(got, expected) <= TorchEncoder.tolerances["float32"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_near_meta(dtype: str) -> None:
    """bfloat16 / float16 against Meta's float32 module, within the declared tolerance."""
    images = encoder_case_images("resized", 1, seed=4)
    with torch.inference_mode():
        expected = _official("resized")(torch.from_numpy(images)).numpy()
    got = TorchEncoder(encoder_case_params("resized"), ENCODER_CASES["resized"].config, "cpu", dtype).encode(images)
    assert got.dtype == np.float32
    assert embedding_error(got, expected) <= TorchEncoder.tolerances[dtype]


def test_attention_in_query_chunks_equals_all_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bias budget below one query row (every block attends row by row) changes nothing."""
    name = "resized"
    images = torch.from_numpy(encoder_case_images(name, 2, seed=5))
    module = SamEncoder.from_params(encoder_case_params(name), ENCODER_CASES[name].config)
    with torch.inference_mode():
        together = module(images).numpy()
        monkeypatch.setattr(torch_image_encoder, "BIAS_ELEMENTS", 1)
        chunked = module(images).numpy()
    assert embedding_error(chunked, together) <= 1e-6


def test_progress_after_each_block() -> None:
    """Encoder.encode_images with on_block: called once per block, in order."""
    name = "windowed"
    encoder = Encoder(encoder_case_params(name), ENCODER_CASES[name].config, backend="torch")
    assert isinstance(encoder.backend, TorchEncoder)
    calls: list[tuple[int, int]] = []
    encoder.encode_images(encoder_case_images(name, 1, seed=0), on_block=lambda *progress: calls.append(progress))
    depth = ENCODER_CASES[name].config.depth
    assert calls == [(i + 1, depth) for i in range(depth)]
