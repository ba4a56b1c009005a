"""The Backend protocol: what every port of the spec (first- or third-party) provides.

A backend receives checked NumPy inputs and returns NumPy arrays; everything
between is its own business. It declares what it can do and how close to the
spec it promises to be, per output and dtype, and says separately whether its
runtime is usable on this machine.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from samcore.config import DecoderConfig
from samcore.errors import BackendError
from samcore.inputs import Prompts
from samcore.weights.safetensors_io import safetensors_dtype, validate

OUTPUTS = ("low_res_logits", "iou_predictions")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Allowed |port - spec| = atol + rtol * |spec|, elementwise."""

    atol: float
    rtol: float = 0.0

    def bound(self, reference: np.ndarray) -> np.ndarray:
        """The allowed absolute difference at each element of ``reference``."""
        return self.atol + self.rtol * np.abs(reference)


#: The spec's own float32 rounding differences between BLAS builds stay well below this.
FLOAT32_TOLERANCE = {"low_res_logits": Tolerance(1e-4, 1e-5), "iou_predictions": Tolerance(1e-4, 1e-5)}


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a backend accepts beyond the minimum (points with labels, one prompt)."""

    mask_input: bool = True
    batched_prompts: bool = True  # B > 1 in one call
    iou_only: bool = False  # ``decode_iou`` skips the masks' upscaling: cheaper than ``decode``


@dataclasses.dataclass(frozen=True)
class Availability:
    """Whether a backend's runtime is usable here, and on which devices."""

    available: bool
    reason: str = ""  # why not, when unavailable
    version: str | None = None  # the runtime's version
    devices: tuple[str, ...] = ()  # usable device kinds, best first ("cuda", "mps", "cpu", ...)


class Backend(abc.ABC):
    """One port of the spec. Subclasses set the class attributes and implement
    ``availability`` and ``decode``; registering is an entry point in the
    ``samcore.backends`` group naming the subclass."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: dtype -> output name -> Tolerance against the spec (float32 spec outputs).
    tolerances: ClassVar[Mapping[str, Mapping[str, Tolerance]]] = {"float32": FLOAT32_TOLERANCE}
    #: Higher is preferred by ``backend="auto"`` among available backends.
    auto_priority: ClassVar[int] = 0
    #: Prompts per run of the per-prompt work that the caller asks for, set by ``Decoder.predict(...,
    #: prompts_per_run=N)`` for that call (throughput callers); None: the backend's own choice (for
    #: single clicks). A speed hint: a backend may ignore it; its results are the same either way.
    requested_prompts_per_run: int | None = None

    def __init__(self, params: Mapping[str, np.ndarray], config: DecoderConfig, device: str, dtype: str) -> None:
        """``params``: official key -> float32 array of ``config``'s shapes; ``device``: a kind
        this backend reports available; ``dtype``: one of ``dtypes``. Refuses an undeclared
        dtype (``BackendError``) and params that do not fit the config (``WeightsError``)."""
        if dtype not in self.dtypes:
            raise BackendError(f"dtype: expected one of {list(self.dtypes)} for backend {self.name!r}, got {dtype!r}")
        validate({k: np.shape(v) for k, v in params.items()},
                 {k: safetensors_dtype(np.asarray(v)) for k, v in params.items()}, config)
        self.params = params
        self.config = config
        self.device = device
        self.dtype = dtype

    @classmethod
    @abc.abstractmethod
    def availability(cls) -> Availability:
        """Is the runtime importable and working here, and which devices exist."""

    def set_image(self, image_embedding: np.ndarray) -> None:  # noqa: B027 (optional hook)
        """Per-image work for the checked embedding [1, C, h, w] that the following
        ``decode`` calls will receive (the very same array). Default: nothing."""

    @abc.abstractmethod
    def decode(
        self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode checked prompts against a checked embedding float32 [1, C, h, w].

        Returns float32 NumPy arrays: logits [B, M, 4h, 4w] and IoU [B, M], M = T-1
        with ``multimask_output`` else 1, equal to ``samcore.spec.decode`` within
        ``tolerances[dtype]``.
        """

    def decode_iou(self, image_embedding: np.ndarray, prompts: Prompts, multimask_output: bool) -> np.ndarray:
        """``decode``'s IoU predictions float32 [B, M] alone. Default: ``decode``'s; a backend
        that can skip the masks (their upscaling is about half a prompt's work) overrides it
        and declares ``capabilities.iou_only``, which throughput callers read to score prompts
        first and decode masks only for those whose scores they keep."""
        return self.decode(image_embedding, prompts, multimask_output)[1]


def decode_in_steps(
    batch: int, step: int, decode_step: Callable[[slice], Sequence[np.ndarray]]
) -> tuple[np.ndarray, ...]:
    """Run ``decode_step`` on the prompts ``slice``s of a batch, ``step`` prompts at a time, into
    outputs allocated once: each of its outputs (logits [part, M, H, W] and IoU [part, M], or IoU
    alone) gathered into float32 [batch, ...] (no copies that grow with the batch, whose pages
    dominate a large batch's cost otherwise)."""
    outputs: tuple[np.ndarray, ...] = ()  # allocated when the first step gives the shapes
    for start in range(0, batch, step):
        part = slice(start, min(start + step, batch))
        results = decode_step(part)
        if not outputs:
            outputs = tuple(np.empty((batch, *r.shape[1:]), np.float32) for r in results)
        for output, result in zip(outputs, results, strict=True):
            output[part] = result
    return outputs
