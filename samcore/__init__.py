"""samcore: Segment Anything's prompt encoder and mask decoder, one NumPy spec, many ports.

>>> from samcore import Decoder
>>> dec = Decoder.from_weights("sam_vit_b.safetensors")
>>> out = dec.predict(embedding, point_coords=[[[500, 375]]], point_labels=[[1]])
"""

from samcore.config import PRESETS, DecoderConfig
from samcore.decoder import Decoder, DecoderOutput
from samcore.errors import SamcoreError
from samcore.everything import MaskGenerator
from samcore.postprocess import postprocess_masks, stability_score
from samcore.transforms import apply_boxes, apply_coords, preprocess_shape

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Decoder",
    "DecoderConfig",
    "DecoderOutput",
    "MaskGenerator",
    "SamcoreError",
    "apply_boxes",
    "apply_coords",
    "postprocess_masks",
    "preprocess_shape",
    "stability_score",
]
