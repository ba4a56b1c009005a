"""The torch backend: ``samcore_torch.SamDecoder`` and ``TorchBackend`` against the spec.

Official key names both ways (our state_dict is Meta's, Meta's state_dict loads into
ours), and equality with ``samcore.spec`` within the backend's declared tolerance for
every dtype, on a small config and on the ViT-B preset.
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
from samcore.inputs import check_prompts
from samcore.random_weights import random_params
from samcore.registry import get
from samcore.spec import decode_all_tokens
from samcore.spec.mask_decoder import select_masks
from samcore.spec.prompt_encoder import gather_point_prompts
from samcore.weights import save_tensors

torch = pytest.importorskip("torch")

from samcore_torch import SamDecoder, TorchBackend  # noqa: E402  (SamDecoder imports torch)
from samcore_torch.backend import ieee_float32  # noqa: E402

#: Prompt kinds: points (labels -1/0/1), box, mask input, and their mixes.
KINDS = ("points", "box", "points+box", "mask", "points+mask", "box+mask", "all")


def make_prompts(kind: str, config, grid: int, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Random prompts of ``kind`` inside the input frame, and a random embedding."""
    rng = np.random.default_rng(seed)
    frame_h, frame_w = config.frame_size((grid, grid))
    out: dict[str, np.ndarray] = {
        "image_embedding": rng.standard_normal((1, config.embed_dim, grid, grid)).astype(np.float32)
    }
    if "points" in kind or kind == "all":
        n = int(rng.integers(1, 6))
        out["point_coords"] = (rng.random((batch, n, 2)) * [frame_w, frame_h]).astype(np.float32)
        out["point_labels"] = rng.choice(np.array([-1, 0, 1]), size=(batch, n))
    if "box" in kind or kind == "all":
        out["boxes"] = np.sort(rng.random((batch, 2, 2)) * [frame_w, frame_h], axis=1).reshape(batch, 4)
    if "mask" in kind or kind == "all":
        out["mask_input"] = (4 * rng.standard_normal((batch, 1, 4 * grid, 4 * grid))).astype(np.float32)
    return out


def spec_all_tokens(params, config, prompts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``samcore.spec.decode_all_tokens`` on checked prompts (both multimask settings select from it)."""
    grid = prompts["image_embedding"].shape[-2:]
    p = check_prompts(
        prompts.get("point_coords"), prompts.get("point_labels"), prompts.get("boxes"), prompts.get("mask_input"),
        grid, config.frame_size(grid),
    )
    return decode_all_tokens(
        params, config, prompts["image_embedding"], p.point_coords, p.point_labels, p.boxes, p.mask_input
    )


def assert_within(ours: tuple[np.ndarray, np.ndarray], spec: tuple[np.ndarray, np.ndarray], tolerances) -> None:
    """Each output within ``tolerances[name]`` of the spec, elementwise."""
    for name, a, s in zip(OUTPUTS, ours, spec, strict=True):
        assert a.shape == s.shape and a.dtype == np.float32, (name, a.shape, s.shape, a.dtype)
        excess = np.abs(a - s) - tolerances[name].bound(s)
        worst = np.unravel_index(np.argmax(excess), excess.shape)
        assert excess[worst] <= 0, (
            f"{name}: |torch - spec| = {abs(a[worst] - s[worst]):.3g} at {list(map(int, worst))} exceeds "
            f"{tolerances[name]} (torch {a[worst]:.6g}, spec {s[worst]:.6g})"
        )


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

    prompts = make_prompts("all", config, grid, batch=3, seed=1)
    coords, labels = (torch.from_numpy(prompts[k]) for k in ("point_coords", "point_labels"))
    boxes, mask, embedding = (torch.from_numpy(prompts[k]) for k in ("boxes", "mask_input", "image_embedding"))
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=boxes, masks=mask)
        official = sam.mask_decoder(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense, True)
        gathered = gather_point_prompts(prompts["point_coords"], prompts["point_labels"], prompts["boxes"])
        ours = module(embedding, *map(torch.from_numpy, gathered), mask, True)
    assert_within([t.numpy() for t in ours], [t.numpy() for t in official], FLOAT32_TOLERANCE)


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
@pytest.mark.parametrize("kind", KINDS)
def test_small_config_matches_spec(kind: str, multimask_output: bool, tmp_path) -> None:
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=11)
    save_tensors(tmp_path / "tiny.safetensors", params, config.metadata())
    decoder = Decoder.from_weights(tmp_path / "tiny.safetensors", backend="torch")
    assert isinstance(decoder.backend, TorchBackend) and decoder.backend.device == "cpu"
    prompts = make_prompts(kind, config, grid, batch=3, seed=KINDS.index(kind))
    out = decoder.predict(**prompts, multimask_output=multimask_output)
    spec = select_masks(*spec_all_tokens(params, config, prompts), multimask_output)
    assert_within((out.low_res_logits, out.iou_predictions), spec, TorchBackend.tolerances["float32"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_small_config_low_precision(dtype: str) -> None:
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=11)
    decoder = Decoder(params, config, backend="torch", dtype=dtype)
    assert next(decoder.backend.module.parameters()).dtype == getattr(torch, dtype)
    for kind in ("points", "mask", "all"):  # no mask / only a mask / every kind at once
        prompts = make_prompts(kind, config, grid, batch=3, seed=KINDS.index(kind))
        out = decoder.predict(**prompts, multimask_output=True)
        spec = select_masks(*spec_all_tokens(params, config, prompts), True)
        assert_within((out.low_res_logits, out.iou_predictions), spec, TorchBackend.tolerances[dtype])


def test_module_from_a_decoders_params_matches_spec() -> None:
    config, grid = CONFIGS["tiny"]
    params = random_params(config, seed=2)
    dec = Decoder(params, config, backend="numpy")
    module = SamDecoder.from_params(dec.params, dec.config)
    assert isinstance(module, SamDecoder) and not module.training
    prompts = make_prompts("points+box", config, grid, batch=2, seed=4)
    coords, labels = gather_point_prompts(prompts["point_coords"], prompts["point_labels"], prompts["boxes"])
    with torch.inference_mode():
        ours = module(torch.from_numpy(prompts["image_embedding"]), torch.from_numpy(coords),
                      torch.from_numpy(labels), None, False)
    spec = select_masks(*spec_all_tokens(params, config, prompts), False)
    assert_within([t.numpy() for t in ours], spec, FLOAT32_TOLERANCE)


# --- ViT-B preset ----------------------------------------------------------------------------------

#: (kind, multimask_output): every prompt kind once, both settings, one prompt each.
VIT_B_CASES = [("points", True), ("points+box", False), ("box+mask", True), ("mask", False)]


@pytest.fixture(scope="module")
def vit_b():
    """ViT-B weights and, per case, its prompts and the spec's output (computed once)."""
    config, grid = CONFIGS["vit_b"]
    params = random_params(config, seed=0)
    cases = []
    for i, (kind, multimask_output) in enumerate(VIT_B_CASES):
        prompts = make_prompts(kind, config, grid, batch=1, seed=100 + i)
        cases.append((prompts, multimask_output, select_masks(*spec_all_tokens(params, config, prompts),
                                                              multimask_output)))
    return params, config, cases


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_vit_b_matches_spec(vit_b, dtype: str) -> None:
    """Every case in float32 and bfloat16; float16 (slow on CPUs without native float16
    matmuls) on the two cases that cover boxes, mask input and both multimask settings."""
    params, config, cases = vit_b
    decoder = Decoder(params, config, backend="torch", dtype=dtype)
    for prompts, multimask_output, spec in cases if dtype != "float16" else cases[1:3]:
        out = decoder.predict(**prompts, multimask_output=multimask_output)
        assert_within((out.low_res_logits, out.iou_predictions), spec, TorchBackend.tolerances[dtype])
