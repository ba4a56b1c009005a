"""samcore: Segment Anything (image encoder, prompt encoder, mask decoder), one NumPy spec, many ports.

>>> from samcore import Decoder
>>> dec = Decoder.from_weights("sam_vit_b.safetensors")
>>> out = dec.predict(embedding, point_coords=[[[500, 375]]], point_labels=[[1]])

>>> from samcore import Predictor
>>> pred = Predictor.from_weights("sam_vit_b.safetensors")
>>> pred.set_image(image)             # uint8 [H, W, 3]
>>> masks, scores, low_res = pred.predict(point_coords=[[500, 375]], point_labels=[1])
"""

from samcore.config import ENCODER_PRESETS, PRESETS, DecoderConfig, EncoderConfig
from samcore.decoder import Decoder, DecoderOutput
from samcore.embedding import Embedding
from samcore.encoder import Encoder
from samcore.errors import SamcoreError
from samcore.everything import MaskGenerator
from samcore.postprocess import binary_masks, binary_masks_with_stability, postprocess_masks, stability_score
from samcore.predictor import Predictor
from samcore.transforms import apply_boxes, apply_coords, preprocess_shape

__version__ = "0.1.0"

__all__ = [
    "ENCODER_PRESETS",
    "PRESETS",
    "Decoder",
    "DecoderConfig",
    "DecoderOutput",
    "Embedding",
    "Encoder",
    "EncoderConfig",
    "MaskGenerator",
    "Predictor",
    "SamcoreError",
    "apply_boxes",
    "apply_coords",
    "binary_masks",
    "binary_masks_with_stability",
    "postprocess_masks",
    "preprocess_shape",
    "stability_score",
]
