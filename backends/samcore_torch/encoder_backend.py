"""``TorchEncoder``: ``samcore_torch.SamEncoder`` behind samcore's EncoderBackend protocol.

torch is imported only inside the methods, so this module (and the entry point naming
it) loads where torch is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from samcore.backend import Availability
from samcore.encoder_backend import FLOAT32_RMS_TOLERANCE, EncoderBackend
from samcore.encoder_config import EncoderConfig
from samcore_torch.backend import TorchBackend, ieee_float32


class TorchEncoder(EncoderBackend):
    """Runs ``samcore_torch.SamEncoder`` on CUDA, MPS or the CPU in float32, bfloat16 or float16.

    Every dtype computes in that dtype (LayerNorm and softmax accumulate in float32 inside
    torch's kernels). On the CPU, bfloat16 is fast where the CPU has AVX512-BF16 or AMX
    (oneDNN's bfloat16 GEMMs); float16 has no fast CPU kernels on x86 without AVX512-FP16:
    correct but slow there, prefer bfloat16. Images are cast at the edge; the embedding
    comes back as a float32 NumPy array.
    """

    name = "torch"
    aliases = ("pytorch",)
    device_kinds = ("cuda", "mps", "cpu")
    dtypes = ("float32", "bfloat16", "float16")
    # Max |torch - spec| / RMS(spec). bfloat16 keeps 8 significant bits (float16: 11), and
    # the embedding passes ~50 rounded GEMMs and 2 LayerNorm2d, which divide by the channel
    # spread. Measured on the CPU with seeded random weights: ViT-B at 1024, bfloat16 0.07 and
    # 0.086 (two weight draws; RMS of the error 0.013; decoder masks 99.7% IoU, benchmarks/
    # encoder.py); the kit's small configs, 4 seeds each: bfloat16 up to 0.065, float16 up to
    # 0.008. Bounds: ~2x the worst measured (bfloat16 1.75x).
    tolerances: ClassVar[Mapping[str, float]] = {"float32": FLOAT32_RMS_TOLERANCE, "bfloat16": 0.15,
                                                 "float16": 0.02}
    auto_priority = 20
    reports_progress = True

    @classmethod
    def availability(cls) -> Availability:
        """As the torch decoder backend: torch importable, its device kinds best first."""
        return TorchBackend.availability()

    def __init__(self, params: Mapping[str, np.ndarray], config: EncoderConfig, device: str, dtype: str) -> None:
        """Build ``SamEncoder`` once from ``params`` and move it to ``device`` and ``dtype``."""
        super().__init__(params, config, device, dtype)
        import torch

        from samcore_torch.image_encoder import SamEncoder

        self._device = torch.device(device)
        self._dtype = getattr(torch, dtype)
        self.module = SamEncoder.from_params(params, config).to(device=self._device, dtype=self._dtype).eval()

    def encode(self, images: np.ndarray, on_block: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Images float32 [B, 3, S, S] -> embedding float32 [B, C_out, g, g]; ``on_block(done, total)``
        after each block."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(images, np.float32)).to(self._device, self._dtype)
        with torch.inference_mode(), ieee_float32(self._device.type == "cuda" and self.dtype == "float32"):
            return self.module(tensor, on_block).float().cpu().numpy()
