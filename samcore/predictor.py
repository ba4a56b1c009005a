"""The Predictor: picture (or embedding) and prompts in original pixels -> masks, as Meta's ``SamPredictor``.

A drop-in for ``segment_anything.SamPredictor`` with NumPy in and out: the same
argument names, coordinates in the original image, the same return shapes and
dtypes. On a device without the encoder, ``set_embedding`` takes the `Embedding`
a server computed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from samcore.decoder import Decoder
from samcore.embedding import Embedding
from samcore.encoder import Encoder
from samcore.encoder_config import IMAGE_ENCODER
from samcore.errors import InputError, InputTypeError, WeightsError
from samcore.postprocess import postprocess_masks
from samcore.transforms import apply_boxes, apply_coords
from samcore.weights import default_weights_path, read_header

#: Logits above this are mask pixels (Meta's ``Sam.mask_threshold``).
MASK_THRESHOLD = 0.0


class Predictor:
    """SAM's encoder and decoder behind Meta's ``SamPredictor`` interface.

    >>> pred = Predictor.from_weights("sam_vit_b.safetensors")
    >>> pred.set_image(image)                        # uint8 [H, W, 3]
    >>> masks, scores, low_res = pred.predict(point_coords=[[500, 375]], point_labels=[1])
    """

    def __init__(self, decoder: Decoder, encoder: Encoder | None = None) -> None:
        """``encoder`` None: a device-side predictor, fed with ``set_embedding``."""
        if encoder is not None:
            frame, grid = encoder.config.img_size, encoder.config.grid_size
            if decoder.config.frame_size((grid, grid)) != (frame, frame) or encoder.config.out_chans != \
                    decoder.config.embed_dim:
                raise WeightsError(
                    f"encoder and decoder do not fit: the encoder gives [{encoder.config.out_chans}, {grid}, {grid}] "
                    f"on a {frame}-pixel frame, the decoder takes {decoder.config.embed_dim} channels on a "
                    f"{decoder.config.frame_size((grid, grid))} frame"
                )
        self.decoder, self.encoder = decoder, encoder
        self.reset_image()

    @classmethod
    def from_weights(
        cls,
        path: str | os.PathLike | None = None,
        backend: str | Sequence[str] = "auto",
        encoder_backend: str | Sequence[str] | None = None,
        device: str | None = None,
    ) -> Predictor:
        """Decoder and (when the file has one) image encoder of a safetensors file.

        ``backend`` picks the decoder's backend, ``encoder_backend`` the encoder's ("auto"
        when None); ``device`` applies to both. ``path`` None: the bundled default model.
        A decoder-only file gives a predictor without an encoder, fed with ``set_embedding``.
        """
        path = default_weights_path() if path is None else path
        decoder = Decoder.from_weights(path, backend=backend, device=device)
        has_encoder = any(k.startswith(IMAGE_ENCODER) for k in read_header(path)[0])
        encoder = Encoder.from_weights(path, encoder_backend or "auto", device) if has_encoder else None
        return cls(decoder, encoder)

    # --- the image ---------------------------------------------------------------------------------

    def set_image(self, image: Any, image_format: str = "RGB") -> None:
        """Encode a picture uint8 [H, W, 3] ("RGB" or "BGR") for the following predictions."""
        if self.encoder is None:
            raise InputError("set_image: this Predictor has no image encoder (decoder-only weights); "
                             "use set_embedding with an Embedding computed elsewhere")
        self.set_embedding(self.encoder.encode(image, image_format))

    def set_embedding(self, embedding: Embedding) -> None:
        """Use an `Embedding` (e.g. from a server) for the following predictions."""
        if not isinstance(embedding, Embedding):
            raise InputTypeError(f"embedding: expected a samcore.Embedding, got {type(embedding).__name__}")
        self.decoder.set_image(embedding.features)
        self._embedding = embedding

    def reset_image(self) -> None:
        """Forget the current image."""
        self._embedding: Embedding | None = None

    @property
    def is_image_set(self) -> bool:
        """Whether an image (or embedding) is set."""
        return self._embedding is not None

    @property
    def embedding(self) -> Embedding:
        """The current `Embedding`."""
        if self._embedding is None:
            raise InputError("image: expected set_image() or set_embedding() before this call, got no image")
        return self._embedding

    def get_image_embedding(self) -> np.ndarray:
        """The current image's features float32 [1, C, h, w]."""
        return self.embedding.features

    @property
    def original_size(self) -> tuple[int, int]:
        """(H, W) of the current picture."""
        return self.embedding.original_size

    @property
    def input_size(self) -> tuple[int, int]:
        """(h, w) of the resized picture inside the encoder's frame."""
        return self.embedding.input_size

    # --- prompts -----------------------------------------------------------------------------------

    def predict(
        self,
        point_coords: Any = None,
        point_labels: Any = None,
        box: Any = None,
        mask_input: Any = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One prompt on the current image, as ``SamPredictor.predict``.

        point_coords float [N, 2] (x, y) and point_labels int [N] (1 foreground, 0
        background) in original pixels; box [4] (x0, y0, x1, y1); mask_input float
        [1, 4h, 4w] (low-res logits of an earlier prediction). Returns masks [C, H, W]
        (bool, or float32 logits with ``return_logits``), scores float32 [C] and
        low-res logits float32 [C, 4h, 4w]; C = 3 with ``multimask_output``, else 1.
        """
        if point_coords is not None:
            point_coords = _shaped("point_coords", point_coords, 2, "[N, 2]")[None]
        if point_labels is not None:
            point_labels = _shaped("point_labels", point_labels, 1, "[N]")[None]
        if box is not None:
            box = _shaped("box", box, 1, "[4] (x0, y0, x1, y1)")[None]
        if mask_input is not None:
            mask_input = _shaped("mask_input", mask_input, 3, "[1, 4h, 4w]")[None]
        masks, scores, low_res = self.predict_batch(point_coords, point_labels, box, mask_input, multimask_output,
                                                    return_logits)
        return masks[0], scores[0], low_res[0]

    def predict_batch(
        self,
        point_coords: Any = None,
        point_labels: Any = None,
        boxes: Any = None,
        mask_input: Any = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """B prompts on the current image at once (``SamPredictor.predict_torch``'s shapes),
        coordinates in original pixels (transformed here, unlike ``predict_torch``).

        point_coords [B, N, 2], point_labels [B, N] (ints, or floats holding whole numbers),
        boxes [B, 4], mask_input [B, 1, 4h, 4w].
        Returns masks [B, C, H, W], scores float32 [B, C], low-res logits float32 [B, C, 4h, 4w].
        """
        embedding = self.embedding
        grid = embedding.features.shape[-2:]
        long_side = max(self.decoder.config.frame_size(grid))
        if point_coords is not None:
            point_coords = apply_coords(_shaped("point_coords", point_coords, 3, "[B, N, 2]"),
                                        embedding.original_size, long_side)
        if point_labels is not None:
            point_labels = _integral(_shaped("point_labels", point_labels, 2, "[B, N]"))
        if boxes is not None:
            boxes = apply_boxes(_shaped("boxes", boxes, 2, "[B, 4]"), embedding.original_size, long_side)
        out = self.decoder.predict(None, point_coords, point_labels, boxes, mask_input, multimask_output)
        if return_logits:
            masks = postprocess_masks(out.low_res_logits, embedding.original_size, out.frame_size)
        else:
            masks = out.masks(embedding.original_size, MASK_THRESHOLD)
        return masks, out.iou_predictions, out.low_res_logits


def _shaped(name: str, value: Any, ndim: int, expected: str) -> np.ndarray:
    """``value`` as a numeric array with ``ndim`` axes, else an error naming ``name``."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and objects NumPy cannot hold
        raise InputTypeError(f"{name}: expected a numeric array {expected}, got {type(value).__name__} ({exc})") \
            from None
    if array.dtype.kind not in "fiu":
        raise InputTypeError(f"{name}: expected a numeric array {expected}, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise InputError(f"{name}: expected shape {expected}, got {list(array.shape)}")
    return array


def _integral(labels: np.ndarray) -> np.ndarray:
    """Float labels holding whole numbers (``np.array([1.0, 0.0])``, which Meta's predictor
    takes) as int64; anything else unchanged, for the decoder's checks to judge."""
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.array_equal(labels, np.round(labels)):
        return labels.astype(np.int64)
    return labels
