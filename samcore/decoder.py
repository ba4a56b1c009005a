"""The Decoder facade: weights in, prompts in, mask logits and IoU scores out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from samcore.backend import decode_in_steps
from samcore.config import DecoderConfig, infer_config
from samcore.errors import InputError
from samcore.inputs import Prompts, check_embedding, check_prompts, check_prompts_per_run
from samcore.postprocess import binary_masks
from samcore.registry import resolve
from samcore.weights import decoder_params, default_weights_path, load_decoder_params

#: Prompts decoded per pass; larger batches run in chunks so memory stays bounded
#: (each prompt carries its own copy of the image tokens, ~4 MB at ViT-B size).
PROMPTS_PER_PASS = 16


@dataclasses.dataclass(frozen=True)
class DecoderOutput:
    """Decoder results for B prompts: M = 3 masks each (multimask) or 1."""

    low_res_logits: np.ndarray  # float32 [B, M, 4h, 4w], mask logits in the input frame
    iou_predictions: np.ndarray  # float32 [B, M], predicted IoU of each mask
    frame_size: tuple[int, int]  # (H, W) of the encoder's input frame, pixels

    def masks(self, original_size: tuple[int, int], threshold: float = 0.0) -> np.ndarray:
        """Binary masks bool [B, M, H, W] at the original image size (H, W): logits > ``threshold``
        after ``postprocess_masks``'s resize (computed as ``samcore.postprocess.binary_masks``)."""
        return binary_masks(self.low_res_logits, original_size, self.frame_size, threshold)


class Decoder:
    """SAM's prompt encoder + mask decoder on one backend.

    ``set_image`` keeps per-image state, so one Decoder serves one thread (or guard it
    with a lock); decoders are cheap to create per thread and share exported models.

    >>> dec = Decoder.from_weights("sam_vit_b.safetensors")
    >>> out = dec.predict(embedding, point_coords=[[[500, 375]]], point_labels=[[1]])
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        config: DecoderConfig | None = None,
        backend: str | Sequence[str] = "auto",
        device: str | None = None,
        dtype: str = "float32",
    ) -> None:
        """``params``: official key -> float array; ``config`` inferred from shapes when None.

        ``backend``: a registered name, ``"auto"`` (the preferred available backend for
        the device) or a preference list; ``device``: "cpu", "cuda", "cuda:1", "mps", ...
        (None: the backend's best); ``dtype``: "float32", or what the backend offers.
        """
        backend_class, device = resolve(backend, device, dtype)
        self.config = config or infer_config({k: np.shape(v) for k, v in params.items()})
        self.params = decoder_params(params, self.config)
        self.backend = backend_class(self.params, self.config, device, dtype)
        self._image: np.ndarray | None = None

    @classmethod
    def from_weights(
        cls,
        path: str | os.PathLike | None = None,
        backend: str | Sequence[str] = "auto",
        device: str | None = None,
        dtype: str = "float32",
        config: DecoderConfig | None = None,
    ) -> Decoder:
        """Load a safetensors file (official key names; None: the bundled default) onto a
        backend (see ``Decoder.__init__`` for ``backend``, ``device`` and ``dtype``)."""
        params, config = load_decoder_params(default_weights_path() if path is None else path, config)
        return cls(params, config, backend, device, dtype)

    def set_image(self, image_embedding: Any) -> None:
        """Fix the image for the following ``predict`` calls, which then need no embedding.

        image_embedding: float [1, C, h, w] or [C, h, w]. The backend does its per-image
        work here once (the numpy backend: image tokens, positional encoding and block 0's
        image-side projections), so each click only pays for its prompt.
        """
        self._image = check_embedding(image_embedding, self.config.embed_dim)
        self.backend.set_image(self._image)

    def predict(
        self,
        image_embedding: Any = None,
        point_coords: Any = None,
        point_labels: Any = None,
        boxes: Any = None,
        mask_input: Any = None,
        multimask_output: bool = True,
        prompts_per_run: int | None = None,
    ) -> DecoderOutput:
        """Decode B prompts against one image embedding.

        image_embedding: float [1, C, h, w] or [C, h, w]; None: the one given to
        ``set_image``. point_coords: float [B, N, 2],
        (x, y) pixels of the encoder's input frame; point_labels: int [B, N] (-1 padding,
        0 background, 1 foreground, 2/3 box corners). boxes: float [B, 4] (x0, y0, x1, y1),
        same frame. mask_input: float [B, 1, 4h, 4w] logits of an earlier prediction.
        Returns logits [B, 3 or 1, 4h, 4w] and IoU predictions [B, 3 or 1].

        prompts_per_run: ask the backend to run this many prompts together (a speed hint for
        throughput callers, same results; None: the backend's choice, best for single clicks).
        """
        embedding, prompts, frame = self._checked(image_embedding, point_coords, point_labels, boxes, mask_input)
        with self._asking(prompts_per_run) as per_pass:
            logits, iou = decode_in_steps(
                prompts.batch,
                per_pass,
                lambda part: self.backend.decode(embedding, prompts.chunk(part.start, part.stop), multimask_output),
            )
        return DecoderOutput(logits, iou, frame)

    def predict_iou(
        self,
        image_embedding: Any = None,
        point_coords: Any = None,
        point_labels: Any = None,
        boxes: Any = None,
        mask_input: Any = None,
        multimask_output: bool = True,
        prompts_per_run: int | None = None,
    ) -> np.ndarray:
        """``predict(...).iou_predictions`` float32 [B, 3 or 1] alone, for the same arguments.

        On a backend with ``capabilities.iou_only`` (onnx) this skips the masks' upscaling,
        about half of a prompt's work: callers that keep only well-scored masks (everything
        mode) score every prompt first and ``predict`` masks for the ones they keep.
        ``prompts_per_run``: as for ``predict``.
        """
        embedding, prompts, _ = self._checked(image_embedding, point_coords, point_labels, boxes, mask_input)
        with self._asking(prompts_per_run) as per_pass:
            (iou,) = decode_in_steps(
                prompts.batch,
                per_pass,
                lambda part: (self.backend.decode_iou(embedding, prompts.chunk(part.start, part.stop),
                                                      multimask_output),),
            )
        return iou

    @contextlib.contextmanager
    def _asking(self, prompts_per_run: int | None) -> Iterator[int]:
        """The backend's ``requested_prompts_per_run`` for one call; yields the prompts per pass."""
        self.backend.requested_prompts_per_run = prompts_per_run = check_prompts_per_run(prompts_per_run)
        try:
            yield max(PROMPTS_PER_PASS, prompts_per_run or 0)
        finally:
            self.backend.requested_prompts_per_run = None

    def _checked(
        self, image_embedding: Any, point_coords: Any, point_labels: Any, boxes: Any, mask_input: Any
    ) -> tuple[np.ndarray, Prompts, tuple[int, int]]:
        """The checked embedding (``set_image``'s when None), prompts and input frame (H, W)."""
        if image_embedding is None:
            if self._image is None:
                raise InputError("image_embedding: expected an array, or an earlier set_image(), got None")
            embedding = self._image
        else:
            embedding = check_embedding(image_embedding, self.config.embed_dim)
        grid = embedding.shape[-2:]
        frame = self.config.frame_size(grid)
        return embedding, check_prompts(point_coords, point_labels, boxes, mask_input, grid, frame), frame

    def __repr__(self) -> str:
        image = "none" if self._image is None else str(list(self._image.shape))
        return (
            f"Decoder(backend={self.backend.name!r}, device={self.backend.device!r}, dtype={self.backend.dtype!r}, "
            f"embed_dim={self.config.embed_dim}, mask_tokens={self.config.num_mask_tokens}, "
            f"parameters={sum(a.size for a in self.params.values()):,}, image={image})"
        )

