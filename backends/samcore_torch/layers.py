"""Small building blocks shared by the prompt encoder and the mask decoder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn


class LayerNorm2d(nn.Module):
    """SAM's channel LayerNorm for images: x [B, C, H, W] -> [B, C, H, W], eps 1e-6.

    Normalises over C at every pixel; ``weight`` and ``bias`` are [C].
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] -> [B, C, H, W]."""
        mean = x.mean(1, keepdim=True)
        var = (x - mean).square().mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class MLP(nn.Module):
    """SAM's MLP: ``layers.{i}`` linears of widths ``dims`` with ReLU between them.

    x [..., dims[0]] -> [..., dims[-1]].
    """

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d_in, d_out) for d_in, d_out in itertools.pairwise(dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., in] -> [..., out]."""
        *hidden, last = self.layers
        for layer in hidden:
            x = torch.relu(layer(x))
        return last(x)
