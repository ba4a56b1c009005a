"""The output upscaling in torch's fast path (``samcore.fast.upscaling``'s algebra): the
transposed convs as GEMMs whose columns need no pixel shuffle until the masks, the first
rebuilt from the per-image ``upscale_base`` and one thin product per prompt."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from samcore.config import TRANSFORMER, DecoderConfig
from samcore.fast import upscale_weight_chain, upscaling_gemms

T = TRANSFORMER


@dataclasses.dataclass(frozen=True)
class UpscalingTensors:
    """``samcore.fast.UpscalingGemms`` as tensors, with what ``upscale_input`` needs per layer:
    ``chain`` [G_0, ..., G_depth] each [C, K] (K = 4 C/4), ``constants`` per layer [K]
    (norm4's bias @ G_{i+1}, plus b1 on the last), ``colsums`` per layer -colsum(G_i) [K]."""

    w1: torch.Tensor  # [C, K]
    norm_weight: torch.Tensor  # [C/4]
    norm_bias: torch.Tensor  # [C/4]
    w2: torch.Tensor  # [C/4, 4 C/8]
    b2: torch.Tensor  # [4 C/8]
    chain: tuple[torch.Tensor, ...]
    constants: tuple[torch.Tensor, ...]
    colsums: tuple[torch.Tensor, ...]

    @classmethod
    def from_params(
        cls, params: Mapping[str, np.ndarray], config: DecoderConfig, device: torch.device, dtype: torch.dtype
    ) -> UpscalingTensors:
        """Prepared once in float32 NumPy (``samcore.fast``), then moved to ``device`` and ``dtype``."""
        gemms = upscaling_gemms(params)
        chain = upscale_weight_chain(params, config, gemms.w1)
        constants = [params[f"{T}layers.{i}.norm4.bias"] @ chain[i + 1] for i in range(config.depth)]
        constants[-1] = constants[-1] + gemms.b1

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array, np.float32)).to(device, dtype)

        return cls(
            tensor(gemms.w1), tensor(gemms.norm_weight), tensor(gemms.norm_bias), tensor(gemms.w2), tensor(gemms.b2),
            tuple(map(tensor, chain)), tuple(map(tensor, constants)), tuple(tensor(-g.sum(axis=0)) for g in chain[:-1]),
        )


@dataclasses.dataclass(frozen=True)
class ImageUpdate:
    """One layer's image-side step, image' = LayerNorm(image + weights^T u): the attention
    weights [B, R, HW] (R = heads N), the factor u [B, R, C], the norm's mean and 1/std [B, HW, 1]."""

    weights: torch.Tensor
    u: torch.Tensor
    mean: torch.Tensor
    inv_std: torch.Tensor


def upscale_input(gemms: UpscalingTensors, base: torch.Tensor, updates: list[ImageUpdate]) -> torch.Tensor:
    """Final image tokens @ W1 + b1 [B, HW, K] from the per-image ``base`` = tokens @ G_0
    [1|B, HW, K]: s * base + L^T R (``samcore.fast.upscale_input``), s the product of every
    layer's 1/std and one thin product of per-layer rows."""
    b, hw, _ = updates[-1].mean.shape
    k = gemms.w1.shape[1]
    scale = torch.ones_like(updates[-1].mean)  # [B, HW, 1] the later layers' 1/std, multiplied up
    lefts, rights = [], []  # [B, rows, HW], [B, rows, K]
    for i in reversed(range(len(updates))):
        step = updates[i]
        lefts.append(scale.view(b, 1, hw))
        rights.append(gemms.constants[i].expand(b, 1, k))
        scale = scale * step.inv_std
        lefts += [step.weights * scale.view(b, 1, hw), (step.mean * scale).view(b, 1, hw)]
        rights += [step.u @ gemms.chain[i], gemms.colsums[i].expand(b, 1, k)]
    left, right = torch.cat(lefts, dim=1), torch.cat(rights, dim=1)
    return torch.baddbmm(scale * base, left.transpose(1, 2), right)


def mask_logits(
    gemms: UpscalingTensors, x: torch.Tensor, hyper: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """The first transposed conv's output [B, hw, K] (``upscale_input``; columns ordered
    (di, dj, channel)) and hypernetwork weights [B, M, C/8] -> mask logits [B, M, 4h, 4w]:
    LayerNorm2d and GELU per pixel, the second conv-transpose GEMM, GELU, the product with
    the hypernetwork weights, and one pixel shuffle of the logits."""
    b, n, _ = x.shape
    c4, c8 = gemms.w2.shape[0], gemms.w2.shape[1] // 4
    x = F.gelu(F.layer_norm(x.reshape(b * 4 * n, c4), (c4,), gemms.norm_weight, gemms.norm_bias, eps=1e-6))
    x = F.gelu(torch.addmm(gemms.b2, x, gemms.w2)).view(b, 16 * n, c8)
    logits = x @ hyper.transpose(1, 2)  # [B, 16 hw, M], pixels ordered (token, di, dj, ei, ej)
    h, w = grid
    m = hyper.shape[1]
    masks = logits.view(b, h, w, 2, 2, 2, 2, m).permute(0, 7, 1, 3, 5, 2, 4, 6)
    return masks.reshape(b, m, 4 * h, 4 * w)
