"""``TorchBackend``: ``SamDecoder``'s weights, run the fast way (``FastDecoder``), behind
samcore's Backend protocol: ``set_image`` does the per-image work once, ``decode`` the rest.

torch is imported only inside the methods, so this module (and the entry point
naming it) loads where torch is not installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from samcore.backend import FLOAT32_TOLERANCE, Availability, Backend, Tolerance, decode_in_steps
from samcore.config import DecoderConfig
from samcore.extras import pip_hint
from samcore.inputs import Prompts

if TYPE_CHECKING:
    import torch

    from samcore_torch.fast_features import ImageFeatures

#: Prompts decoded together on the CPU: one prompt's image tokens (4 MB at ViT-B size) stay
#: in cache better than a batch's (docs/benchmarks.md). Other devices take the whole batch at once.
CPU_PROMPTS_PER_STEP = 1


@contextlib.contextmanager
def ieee_float32(active: bool = True) -> Iterator[None]:
    """While active, float32 matmuls and cuDNN convolutions run in full float32 (no TF32).

    cuDNN allows TF32 convolutions by default on Ampere and later GPUs, which would put
    CUDA float32 results outside the float32 tolerance. The previous settings come back
    on exit. Process-wide flags: not safe against other threads changing them meanwhile.
    """
    if not active:
        yield
        return
    import torch

    cuda, cudnn = torch.backends.cuda, torch.backends.cudnn
    if hasattr(cudnn, "conv") and hasattr(cuda.matmul, "fp32_precision"):  # the fp32_precision API: use it alone
        flags, ieee = [(cuda.matmul, "fp32_precision"), (cudnn.conv, "fp32_precision")], "ieee"
    else:
        flags, ieee = [(cuda.matmul, "allow_tf32"), (cudnn, "allow_tf32")], False
    saved = [getattr(owner, attr) for owner, attr in flags]
    try:
        for owner, attr in flags:
            setattr(owner, attr, ieee)
        yield
    finally:
        for (owner, attr), value in zip(flags, saved, strict=True):
            setattr(owner, attr, value)


class TorchBackend(Backend):
    """Runs ``samcore_torch.SamDecoder``'s weights the fast way (``samcore_torch.FastDecoder``:
    ``samcore.fast``'s algebra in torch ops) on CUDA, MPS or the CPU in float32, float16 or bfloat16.
    ``module`` is the plain ``SamDecoder`` (official keys) holding the weights.

    Every dtype computes in that dtype on every device, with no float32 fallback: torch has
    CPU kernels for all the decoder's ops in float16 and bfloat16. On CPUs without native
    float16 arithmetic, float16 is correct but slow (docs/benchmarks.md): prefer bfloat16 there.
    Inputs are cast at the edge (labels int64); outputs come back as float32 NumPy arrays.
    """

    name = "torch"
    aliases = ("pytorch",)
    dtypes = ("float32", "float16", "bfloat16")
    auto_priority = 20
    # float16 / bfloat16 carry 11 / 8 significant bits (float32: 24), so they sit far above
    # FLOAT32_TOLERANCE. Measured |torch - spec| on CPU, ViT-B preset, random_params seeds 0-5,
    # ~230 random prompts (points, boxes, 4*N(0,1) mask inputs; logits |spec| <= 7.5, IoU <= 1):
    #   bfloat16: logits worst 0.85, next worst 0.27, typical per-prompt worst 0.1; IoU worst 0.018.
    #   float16:  logits worst 0.082, typical per-prompt worst 0.015;              IoU worst 0.0025.
    # The error does not grow with |spec| (the same at |logit| 0.1 and 5), so the bounds are pure atol.
    # Its tail comes from mask prompts: the mask downscaler's LayerNorm2d over 4 channels divides by
    # their spread, which amplifies input/weight rounding where a pixel's channels nearly agree
    # (dense-embedding error over 3200 masks: bfloat16 median 0.08, max 1.1; float16 0.01, 0.10).
    # Bounds: about 2x the worst measured tail for logits, 3-4x for IoU. The fast path (FastDecoder) on 10 / 7
    # more ViT-B cases (every prompt kind): bfloat16 worst 0.145 logits, 0.011 IoU; float16 0.016, 0.0011.
    tolerances: ClassVar[Mapping[str, Mapping[str, Tolerance]]] = {
        "float32": FLOAT32_TOLERANCE,
        "float16": {"low_res_logits": Tolerance(0.2), "iou_predictions": Tolerance(0.01)},
        "bfloat16": {"low_res_logits": Tolerance(1.5), "iou_predictions": Tolerance(0.05)},
    }

    @classmethod
    def availability(cls) -> Availability:
        """torch's version and its usable device kinds, best first; unavailable when torch
        cannot be imported."""
        try:
            import torch
        except Exception as exc:  # ImportError, or a broken install (a missing shared library)
            return Availability(False, f"torch cannot be imported ({pip_hint('torch')}): {exc}")
        devices = ["cpu"]
        if torch.backends.mps.is_available():
            devices.insert(0, "mps")
        if torch.cuda.is_available():
            devices.insert(0, "cuda")
        return Availability(True, version=torch.__version__, devices=tuple(devices))

    def __init__(self, params: Mapping[str, np.ndarray], config: DecoderConfig, device: str, dtype: str) -> None:
        """Build ``SamDecoder`` once from ``params``, move it to ``device`` and ``dtype``, and
        prepare its fast path."""
        super().__init__(params, config, device, dtype)
        import torch

        from samcore_torch.fast_decoder import FastDecoder
        from samcore_torch.module import SamDecoder

        self._device = torch.device(device)
        self._dtype = getattr(torch, dtype)
        self.module = SamDecoder.from_params(params, config).to(device=self._device, dtype=self._dtype).eval()
        self.fast = FastDecoder(self.module, params, config)
        self._image: tuple[np.ndarray, ImageFeatures] | None = None  # set_image's embedding, its features

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A float NumPy array as a tensor on the backend's device, in its dtype."""
        import torch

        return torch.from_numpy(np.ascontiguousarray(array)).to(self._device, self._dtype)

    def _precision(self) -> contextlib.AbstractContextManager[None]:
        """Full float32 matmuls for float32 on CUDA (``ieee_float32``), nothing elsewhere."""
        return ieee_float32(self._device.type == "cuda" and self.dtype == "float32")

    def _features(self, image_embedding: np.ndarray) -> ImageFeatures:
        """The per-image features of ``set_image``'s very array, else computed now (inference mode)."""
        if self._image is not None and self._image[0] is image_embedding:
            return self._image[1]
        with self._precision():
            return self.fast.image_features(self._tensor(image_embedding))

    def set_image(self, image_embedding: np.ndarray) -> None:
        """The per-image work for [1, C, h, w], once for every following ``decode``."""
        import torch

        self._image = None
        with torch.inference_mode():
            self._image = (image_embedding, self._features(image_embedding))

    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked embedding [1, C, h, w] and prompts -> float32 logits [B, M, 4h, 4w], IoU [B, M]."""
        import torch

        coords, labels = prompts.labelled_points()
        step = self.requested_prompts_per_run or (
            CPU_PROMPTS_PER_STEP if self._device.type == "cpu" else max(prompts.batch, 1))
        with torch.inference_mode():
            features = self._features(image_embedding)

            def decode_step(part: slice) -> tuple[np.ndarray, np.ndarray]:
                mask = None if prompts.mask_input is None else self._tensor(prompts.mask_input[part])
                with self._precision():
                    logits, iou = self.fast(features, self._tensor(coords[part]),
                                            torch.from_numpy(labels[part]).to(self._device), mask, multimask_output)
                return logits.float().cpu().numpy(), iou.float().cpu().numpy()

            return decode_in_steps(prompts.batch, step, decode_step)
