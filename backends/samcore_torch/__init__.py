"""samcore's torch backend: ``SamDecoder`` (a native ``nn.Module``), ``FastDecoder`` (its
weights run the fast way, per-image work split off) and ``TorchBackend`` (which runs it).

Importing this package does not import torch (so the ``samcore.backends`` entry point
registers without it); ``SamDecoder`` and ``FastDecoder`` import torch on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samcore_torch.backend import TorchBackend

if TYPE_CHECKING:
    from samcore_torch.fast_decoder import FastDecoder
    from samcore_torch.module import SamDecoder

__all__ = ["FastDecoder", "SamDecoder", "TorchBackend"]


def __getattr__(name: str) -> Any:
    """``SamDecoder`` or ``FastDecoder`` on first access (imports torch); anything else is missing."""
    if name == "SamDecoder":
        from samcore_torch.module import SamDecoder

        return SamDecoder
    if name == "FastDecoder":
        from samcore_torch.fast_decoder import FastDecoder

        return FastDecoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
