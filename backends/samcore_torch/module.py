"""``SamDecoder``: SAM's prompt encoder + mask decoder as one native ``torch.nn.Module``.

Its state_dict keys are the official ones (``prompt_encoder.*``, ``mask_decoder.*``),
so a state_dict from Meta's ``Sam`` (less ``image_encoder.*``) or a samcore
safetensors file loads as is. Equal to ``samcore.spec.decode`` given the same prompts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from samcore.config import DecoderConfig
from samcore_torch.mask_decoder import MaskDecoder
from samcore_torch.prompt_encoder import PromptEncoder


class SamDecoder(nn.Module):
    """Prompts + one image embedding -> mask logits and IoU predictions.

    >>> module = SamDecoder.from_params(params, config)
    >>> coords, labels = gather_point_prompts(point_coords, point_labels, boxes)  # samcore.spec.prompt_encoder
    >>> logits, iou = module(embedding, torch.from_numpy(coords), torch.from_numpy(labels), None, True)

    On CUDA, float32 results follow torch's TF32 settings (``torch.backends.cudnn.allow_tf32``
    is on by default for the upscaling convolutions); turn TF32 off for spec-level agreement.
    """

    def __init__(self, config: DecoderConfig) -> None:
        """Randomly initialised modules of the sizes in ``config`` (load weights next)."""
        super().__init__()
        self.config = config
        self.prompt_encoder = PromptEncoder(config.embed_dim, config.mask_in_chans)
        self.mask_decoder = MaskDecoder(config)

    @classmethod
    def from_params(cls, params: Mapping[str, np.ndarray], config: DecoderConfig) -> SamDecoder:
        """A float32 CPU module in eval mode holding ``params`` (official key -> array [shape]).

        Strict: every key of ``expected_shapes(config)`` and no other, with matching shapes.
        """
        module = cls(config)
        state = {key: torch.tensor(np.asarray(value, np.float32)) for key, value in params.items()}
        module.load_state_dict(state, strict=True)
        return module.eval()

    def forward(
        self,
        image_embedding: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode B prompts against one image embedding.

        image_embedding [1, C, h, w]; point_coords [B, N, 2] (x, y pixels of the input
        frame ``config.frame_size((h, w))``) and point_labels [B, N] int in -1..3: every
        sparse prompt as labelled points, padding point and box corners included
        (``samcore.spec.prompt_encoder.gather_point_prompts``); N may be 0 when
        ``mask_input`` is given. mask_input [B, 1, 4h, 4w] logits or None.
        Returns (low-res logits [B, M, 4h, 4w], IoU [B, M]), M = T-1 mask tokens 1.. with
        ``multimask_output``, else 1 (token 0).
        """
        grid = (image_embedding.shape[-2], image_embedding.shape[-1])
        encoder = self.prompt_encoder
        sparse = encoder.embed_points(point_coords, point_labels, self.config.frame_size(grid))
        dense = encoder.embed_mask(mask_input) if mask_input is not None else encoder.no_mask_embedding()
        masks, iou = self.mask_decoder(image_embedding, encoder.pe_layer.dense(grid), sparse, dense)
        chosen = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, chosen], iou[:, chosen]
