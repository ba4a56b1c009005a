"""The torch backend: ``samcore_torch.SamDecoder`` and ``TorchBackend`` against the spec.

Official key names both ways (our state_dict is Meta's, Meta's state_dict loads into
ours), and equality with ``samcore.spec`` within the backend's declared tolerance for
every dtype, on a small config and on the ViT-B preset. The backend runs the fast path
(``FastDecoder``): per-image features from ``set_image`` reused, equal to the module's forward.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIGS
from samcore import Decoder
from samcore.backend import FLOAT32_TOLERANCE, OUTPUTS
from samcore.config import expected_shapes
from samcore.conformance import checks
from samcore.conformance.assertions import assert_within
from samcore.conformance.cases import PROMPT_KINDS, build_case
from samcore.conformance.strategies import CaseRecipe
from samcore.random_weights import random_params
from samcore.registry import get
from samcore.spec import decode
from samcore.spec.prompt_encoder import gather_point_prompts
from samcore.weights import save_tensors

torch = pytest.importorskip("torch")

from samcore_torch import FastDecoder, SamDecoder, TorchBackend  # noqa: E402  (SamDecoder imports torch)
from samcore_torch.backend import ieee_float32  # noqa: E402


def _within(name: str, ours, spec, tolerances) -> None:
    """The kit's assertion on (logits, IoU) pairs (torch tensors or arrays)."""
    for output, a, b in zip(OUTPUTS, ours, spec, strict=True):
        a, b = (np.asarray(x.numpy() if hasattr(x, "numpy") else x) for x in (a, b))
        assert_within(output, a, b.astype(np.float64), tolerances[output], f"# {name}\n")


# --- the module: official layout -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "odd", "vit_b"])
def test_state_dict_is_the_official_layout(name: str) -> None:
    config, _ = CONFIGS[name]
    state = SamDecoder(config).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes(config)
    buffers = dict(SamDecoder(config).named_buffers())
    assert list(buffers) == ["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]


@pytest.mark.parametrize("name", ["tiny", "odd"])
def test_loads_a_state_dict_saved_by_meta_modules(name: str, tmp_path) -> None:
    """torch.save(Meta's Sam.state_dict()) -> torch.load -> our module, strictly; same outputs."""
    from samcore.conformance.official import build_official_sam

    config, grid = CONFIGS[name]
    sam = build_official_sam(config, grid, random_params(config, seed=5))
    torch.save(sam.state_dict(), tmp_path / "sam.pth")
    state = torch.load(tmp_path / "sam.pth", weights_only=True)
    module = SamDecoder(config)
    module.load_state_dict({k: v for k, v in state.items() if not k.startswith("image_encoder.")}, strict=True)
    module.eval()

    case = build_case(config, (grid, grid), 1, 3, "points+box+mask", 4, (-1, 0, 1), True)
    coords, labels = torch.from_numpy(case.point_coords), torch.from_numpy(case.point_labels)
    boxes, mask, embedding = (torch.from_numpy(a) for a in (case.boxes, case.mask_input, case.image_embedding))
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=boxes, masks=mask)
        official = sam.mask_decoder(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense, True)
        gathered = gather_point_prompts(case.point_coords, case.point_labels, case.boxes)
        ours = module(embedding, *map(torch.from_numpy, gathered), mask, True)
    _within(name, ours, official, FLOAT32_TOLERANCE)


def test_from_params_is_strict() -> None:
    config, _ = CONFIGS["tiny"]
    params = random_params(config)
    del params["mask_decoder.iou_token.weight"]
    with pytest.raises(RuntimeError, match="iou_token"):
        SamDecoder.from_params(params, config)


# --- the backend: equal to the spec --------------------------------------------------------------


def test_registered_and_available_on_cpu() -> None:
    assert get("torch") is TorchBackend and get("pytorch") is TorchBackend
    availability = TorchBackend.availability()
    assert availability.available and availability.version == torch.__version__
    assert availability.devices[-1] == "cpu"
    assert ("cuda" in availability.devices) == torch.cuda.is_available()


def test_package_imports_without_torch() -> None:
    """The entry point loads where torch cannot be imported; availability says why."""
    script = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch': raise ImportError('blocked by test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from samcore_torch import TorchBackend\n"
        "a = TorchBackend.availability()\n"
        "assert not a.available and 'blocked by test' in a.reason, a\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_ieee_float32_turns_tf32_off_and_restores() -> None:
    """CUDA float32 runs without TF32 (cuDNN allows it by default); the caller's flags come back."""
    matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
    if conv is None or not hasattr(matmul, "fp32_precision"):
        pytest.skip("this torch has only the legacy allow_tf32 flags")
    before = (matmul.fp32_precision, conv.fp32_precision)
    with ieee_float32():
        assert (matmul.fp32_precision, conv.fp32_precision) == ("ieee", "ieee")
    assert (matmul.fp32_precision, conv.fp32_precision) == before


@pytest.mark.parametrize("multimask_output", [True, False])
@pytest.mark.parametrize("kinds", PROMPT_KINDS)
def test_small_config_matches_spec(kinds: str, multimask_output: bool) -> None:
    checks.check_matches_spec("torch", CaseRecipe("tiny", PROMPT_KINDS.index(kinds), 3, kinds, 4, (-1, 0, 1),
                                                  multimask_output))


def test_loads_from_a_safetensors_file_onto_the_cpu(tmp_path) -> None:
    config, _ = CONFIGS["tiny"]
    save_tensors(tmp_path / "tiny.safetensors", random_params(config, seed=11), config.metadata())
    decoder = Decoder.from_weights(tmp_path / "tiny.safetensors", backend="torch")
    assert isinstance(decoder.backend, TorchBackend) and decoder.backend.device == "cpu"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_small_config_low_precision(dtype: str) -> None:
    assert next(checks.decoder("torch", "tiny", dtype).backend.module.parameters()).dtype == getattr(torch, dtype)
    for seed, kinds in enumerate(("points", "mask", "points+box+mask")):  # no mask / only a mask / every kind
        checks.check_matches_spec("torch", CaseRecipe("tiny", seed, 3, kinds, 4, (-1, 0, 1), True), dtype)


def test_module_from_a_decoders_params_matches_spec() -> None:
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=2)
    dec = Decoder(params, config, backend="numpy")
    module = SamDecoder.from_params(dec.params, dec.config)
    assert isinstance(module, SamDecoder) and not module.training
    case = build_case(config, (grid, grid), 4, 2, "points+box", 3, (-1, 0, 1), False)
    coords, labels = gather_point_prompts(case.point_coords, case.point_labels, case.boxes)
    with torch.inference_mode():
        ours = module(torch.from_numpy(case.image_embedding), torch.from_numpy(coords),
                      torch.from_numpy(labels), None, False)
    spec = decode(params, config, case.image_embedding, case.point_coords, case.point_labels, case.boxes, None, False)
    _within("module", ours, spec, FLOAT32_TOLERANCE)


# --- the fast path: per-image features once, the module's outputs -------------------------------


@pytest.mark.parametrize("kinds", ["points+box", "points+mask"])
def test_after_set_image_matches_spec(kinds: str) -> None:
    """set_image's features (and, with mask input, the per-prompt image side) give the spec's outputs."""
    checks.check_matches_spec("torch", CaseRecipe("tiny", 7, 3, kinds, 4, (-1, 0, 1), True), set_image=True)


def test_set_image_features_are_computed_once(monkeypatch) -> None:
    """Predictions after set_image reuse its features; another embedding gets its own, never stale ones."""
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=4)
    dec = Decoder(params, config, backend="torch")
    case = build_case(config, (grid, grid), 6, 2, "points", 2, (-1, 0, 1), True)
    calls = []
    compute = dec.backend.fast.image_features
    monkeypatch.setattr(dec.backend.fast, "image_features", lambda e: calls.append(e) or compute(e))
    dec.set_image(case.image_embedding)
    for _ in range(2):
        dec.predict(point_coords=case.point_coords, point_labels=case.point_labels)
    assert len(calls) == 1
    other = case.image_embedding + np.float32(1)
    got = dec.predict(other, point_coords=case.point_coords, point_labels=case.point_labels)
    assert len(calls) == 2
    spec = decode(params, config, other, case.point_coords, case.point_labels, None, None, True)
    _within("another embedding", (got.low_res_logits, got.iou_predictions), spec, FLOAT32_TOLERANCE)


@pytest.mark.parametrize("multimask_output", [True, False])
def test_fast_decoder_equals_the_module(multimask_output: bool) -> None:
    """``FastDecoder`` (what the backend runs) and ``SamDecoder.forward`` on the same weights, batch and mask input."""
    config, grid = CONFIGS["odd"]
    params = random_params(config, seed=9)
    module = SamDecoder.from_params(params, config)
    case = build_case(config, (grid, grid), 8, 3, "points+box+mask", 3, (-1, 0, 1), multimask_output)
    coords, labels = (torch.from_numpy(a) for a in gather_point_prompts(case.point_coords, case.point_labels,
                                                                         case.boxes))
    embedding = torch.from_numpy(case.image_embedding)
    fast = FastDecoder(module, params, config)
    with torch.inference_mode():
        features = fast.image_features(embedding)
        for mask in (None, torch.from_numpy(case.mask_input)):
            ours = fast(features, coords, labels, mask, multimask_output)
            _within("fast vs module", ours, module(embedding, coords, labels, mask, multimask_output),
                    FLOAT32_TOLERANCE)


# --- ViT-B preset ----------------------------------------------------------------------------------

#: (kinds, multimask_output): every prompt kind once, both settings, one prompt each.
VIT_B_CASES = [("points", True), ("points+box", False), ("box+mask", True), ("mask", False)]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_vit_b_matches_spec(dtype: str) -> None:
    """Every case in float32 and bfloat16; float16 (slow on CPUs without native float16
    matmuls) on the two cases that cover boxes, mask input and both multimask settings."""
    cases = list(enumerate(VIT_B_CASES))
    for seed, (kinds, multimask_output) in cases if dtype != "float16" else cases[1:3]:
        recipe = CaseRecipe("vit_b", 100 + seed, 1, kinds, 3, (-1, 0, 1), multimask_output)
        checks.check_matches_spec("torch", recipe, dtype)
