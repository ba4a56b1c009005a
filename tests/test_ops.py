"""Each spec op (and the fast formulation's version of it) against math.erf or the torch.nn
module it mirrors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from samcore.fast import ops as fast_ops
from samcore.spec import ops

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


@pytest.mark.parametrize("module", [ops, fast_ops], ids=["spec", "fast"])
def test_erf_matches_math_erf_to_a_few_float32_ulp(module) -> None:
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, -0.0, 1e-30, 3.999, 4.0, 4.001, 50.0, -50.0]])
    ours = module.erf(x.astype(np.float32)).astype(np.float64)
    reference = np.array([math.erf(float(np.float32(v))) for v in x])
    assert np.abs(ours - reference).max() < 4e-7  # a few float32 ulp at 1 (ulp = 1.2e-7)


@pytest.mark.parametrize("module", [ops, fast_ops], ids=["spec", "fast"])
def test_gelu_is_torch_exact_gelu(module) -> None:
    x = (rng.standard_normal(10000) * 4).astype(np.float32)
    expected = torch.nn.GELU()(torch.from_numpy(x)).numpy()
    # torch computes 1 + erf(x) in float32, which cancels for negative x: its error is
    # up to ~|x| * 2**-24; samcore's float64 evaluation is within half an ulp.
    np.testing.assert_allclose(module.gelu(x), expected, atol=2e-7 * np.abs(x).max(), rtol=1e-6)


def test_layer_norms_match_torch() -> None:
    x = rng.standard_normal((2, 8, 5, 3)).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    expected = torch.nn.functional.layer_norm(torch.from_numpy(x), (3,), torch.from_numpy(w), torch.from_numpy(b))
    np.testing.assert_allclose(ops.layer_norm(x, w, b), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(fast_ops.layer_norm(x, w, b), expected.numpy(), atol=1e-5)
    from samcore.conformance.official import modeling

    norm2d = modeling.common.LayerNorm2d(8)
    with torch.no_grad():
        norm2d.weight.copy_(torch.randn(8))
        norm2d.bias.copy_(torch.randn(8))
        expected = norm2d(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ops.layer_norm_2d(x, norm2d.weight.detach().numpy(), norm2d.bias.detach().numpy()),
                               expected, atol=1e-5)


@pytest.mark.parametrize("kernel", [1, 2, 4])
def test_patch_convs_match_torch(kernel: int) -> None:
    x = rng.standard_normal((2, 3, 8, 12)).astype(np.float32)
    conv = torch.nn.Conv2d(3, 5, kernel, stride=kernel)
    up = torch.nn.ConvTranspose2d(3, 5, kernel, stride=kernel)
    with torch.no_grad():
        down_expected = conv(torch.from_numpy(x)).numpy()
        up_expected = up(torch.from_numpy(x)).numpy()
    down = ops.conv2d(x, conv.weight.detach().numpy(), conv.bias.detach().numpy())
    upsampled = ops.conv_transpose2d(x, up.weight.detach().numpy(), up.bias.detach().numpy())
    np.testing.assert_allclose(down, down_expected, atol=1e-5)
    np.testing.assert_allclose(upsampled, up_expected, atol=1e-5)


def test_softmax_is_stable_and_normalised() -> None:
    x = np.array([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]], np.float32)
    y = ops.softmax(x)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(y, torch.softmax(torch.from_numpy(x), -1).numpy(), atol=1e-7)
