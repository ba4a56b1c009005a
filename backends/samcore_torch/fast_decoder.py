"""``FastDecoder``: torch's fast path, ``samcore.fast.decode_fast``'s algebra on a ``SamDecoder``'s
weights. ``image_features`` once per image; each call then does only the per-prompt work."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from samcore.config import DecoderConfig
from samcore_torch.fast_features import ImageFeatures, image_features, image_side
from samcore_torch.fast_transformer import transformer
from samcore_torch.fast_upscaling import UpscalingTensors, mask_logits, upscale_input
from samcore_torch.module import SamDecoder


class FastDecoder:
    """A ``SamDecoder`` (its device and dtype) run the fast way: the same outputs as its
    ``forward`` up to rounding, with the per-image work split off."""

    def __init__(self, module: SamDecoder, params: Mapping[str, np.ndarray], config: DecoderConfig) -> None:
        """``module`` holds ``params`` already on its device and dtype; the upscaling GEMMs
        are prepared from ``params`` once."""
        weight = next(module.parameters())
        self.module, self.config = module, config
        self.gemms = UpscalingTensors.from_params(params, config, weight.device, weight.dtype)

    def image_features(self, embedding: torch.Tensor) -> ImageFeatures:
        """The per-image work for an embedding [1, C, h, w]."""
        return image_features(self.module, self.gemms, embedding)

    def __call__(
        self,
        features: ImageFeatures,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``SamDecoder.forward``'s outputs on one image's ``features``: coords [B, N, 2], labels
        [B, N], mask input [B, 1, 4h, 4w] or None -> (logits [B, M, 4h, 4w], IoU [B, M]),
        M = T-1 masks (tokens 1..) with ``multimask_output``, 1 (token 0) without."""
        encoder, decoder = self.module.prompt_encoder, self.module.mask_decoder
        h, w = features.embedding.shape[-2:]
        batch = point_coords.shape[0]
        sparse = encoder.embed_points(point_coords, point_labels, self.config.frame_size((h, w)))
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight])
        tokens = torch.cat([output_tokens.expand(batch, -1, -1), sparse], dim=1)
        if mask_input is None:
            image, block0, base = features.tokens, features.block0, features.upscale_base
        else:  # the dense prompt differs per prompt: so does everything on the image side
            image = (features.embedding + encoder.embed_mask(mask_input)).flatten(2).transpose(1, 2).contiguous()
            block0, base = image_side(self.module, self.gemms, image, features.pe)
        hs, updates = transformer(decoder.transformer, image, features.pe, block0, tokens)

        chosen = range(1, decoder.num_mask_tokens) if multimask_output else range(1)
        mlps = decoder.output_hypernetworks_mlps
        hyper = torch.stack([mlps[i](hs[:, 1 + i]) for i in chosen], dim=1)
        logits = mask_logits(self.gemms, upscale_input(self.gemms, base, updates), hyper, (h, w))
        return logits, decoder.iou_prediction_head(hs[:, 0])[:, chosen.start : chosen.stop]
