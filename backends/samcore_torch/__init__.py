"""samcore's torch backend: ``SamDecoder`` and ``SamEncoder`` (native ``nn.Module``s),
``FastDecoder`` (the decoder's weights run the fast way, per-image work split off),
``TorchBackend`` (the decoder) and ``TorchEncoder`` (the image encoder).

Importing this package does not import torch (so the ``samcore.backends`` and
``samcore.encoders`` entry points register without it); the modules import torch on
first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samcore_torch.backend import TorchBackend
from samcore_torch.encoder_backend import TorchEncoder

if TYPE_CHECKING:
    from samcore_torch.fast_decoder import FastDecoder
    from samcore_torch.image_encoder import SamEncoder
    from samcore_torch.module import SamDecoder

__all__ = ["FastDecoder", "SamDecoder", "SamEncoder", "TorchBackend", "TorchEncoder"]


def __getattr__(name: str) -> Any:
    """``SamDecoder``, ``FastDecoder`` or ``SamEncoder`` on first access (imports torch); anything else is missing."""
    if name == "SamDecoder":
        from samcore_torch.module import SamDecoder

        return SamDecoder
    if name == "FastDecoder":
        from samcore_torch.fast_decoder import FastDecoder

        return FastDecoder
    if name == "SamEncoder":
        from samcore_torch.image_encoder import SamEncoder

        return SamEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
