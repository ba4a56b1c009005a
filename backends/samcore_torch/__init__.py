"""samcore's torch backend: ``SamDecoder`` (a native ``nn.Module``) and ``TorchBackend``.

Importing this package does not import torch (so the ``samcore.backends`` entry point
registers without it); ``SamDecoder`` imports torch on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samcore_torch.backend import TorchBackend

if TYPE_CHECKING:
    from samcore_torch.module import SamDecoder

__all__ = ["SamDecoder", "TorchBackend"]


def __getattr__(name: str) -> Any:
    """``SamDecoder`` on first access (imports torch); anything else is missing."""
    if name == "SamDecoder":
        from samcore_torch.module import SamDecoder

        return SamDecoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
